// Table tests of the dashboard's routing and validation (pure).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCursor, encodeCursor, parseSelector, routeDashboard } from './dashboard-route.ts';
import type { RawRequest } from './route.ts';

const HOSTS = ['github.com'];
const get = (path: string, query: RawRequest['query'] = {}, method = 'GET'): RawRequest => ({ method, path, query });
const SHA = '80ee3ecfedf8b19ab8991713a9fdb2e7dcd7262e';

const ok: Array<[string, RawRequest, Record<string, unknown>]> = [
  ['list defaults', get('/projects'), { route: 'list', query: { sort: 'name', limit: 100 } }],
  ['list with a trailing slash', get('/projects/'), { route: 'list' }],
  [
    'list filters',
    get('/projects', { owner: 'OSSF', min: '2.5', max: '10', state: 'failing', sort: '-score', limit: '1000' }),
    { route: 'list', query: { owner: 'ossf', min: 2.5, max: 10, state: 'failing', sort: '-score', limit: 1000 } },
  ],
  ['empty values are absent', get('/projects', { owner: '', state: '' }), { route: 'list', query: { sort: 'name', limit: 100 } }],
  [
    'list cursor',
    get('/projects', { sort: 'score', cursor: encodeCursor({ v: 4.5, id: 7 }) }),
    { route: 'list', query: { sort: 'score', limit: 100, after: { v: 4.5, id: 7 } } },
  ],
  ['changes, default the last two', get('/projects/github.com/ossf/scorecard/changes'), { route: 'changes', key: 'github.com/ossf/scorecard' }],
  [
    'changes by id and commit',
    get('/projects/github.com/o/r/changes', { from: '12', to: SHA.toUpperCase() }),
    { route: 'changes', from: { id: 12 }, to: { commit: SHA } },
  ],
  [
    'changes by date: end of that day',
    get('/projects/github.com/o/r/changes', { from: '2025-01-31' }),
    { route: 'changes', from: { at: new Date('2025-01-31T23:59:59.999Z') } },
  ],
  [
    'changes by time',
    get('/projects/github.com/o/r/changes', { to: '2025-01-31T10:00:00+02:00' }),
    { route: 'changes', to: { at: new Date('2025-01-31T08:00:00Z') } },
  ],
  ["a repository named changes is route.ts's project", get('/projects/github.com/o/changes'), { undefined: true }],
  ["history is route.ts's", get('/projects/github.com/o/r/history'), { undefined: true }],
  ["index is route.ts's", get('/'), { undefined: true }],
  ['export csv', get('/export/latest.csv', { state: 'overdue' }), { route: 'export', format: 'csv', filter: { state: 'overdue' } }],
  ['export json', get('/export/latest.json'), { route: 'export', format: 'json', filter: {} }],
  ['fleet page', get('/ui'), { route: 'ui-fleet' }],
  ['fleet page, HEAD', get('/ui/', {}, 'HEAD'), { route: 'ui-fleet', head: true }],
  ['list page', get('/ui/projects', { sort: 'score' }), { route: 'ui-list', query: { sort: 'score', limit: 100 } }],
  ['repository page', get('/ui/projects/github.com/OSSF/Scorecard'), { route: 'ui-repo', key: 'github.com/ossf/scorecard' }],
  ['diff page', get('/ui/projects/github.com/o/r/diff', { from: '1', to: '2' }), { route: 'ui-diff', from: { id: 1 }, to: { id: 2 } }],
];

for (const [title, req, want] of ok) {
  test(`routes: ${title}`, () => {
    const r = routeDashboard(req, HOSTS);
    if (want.undefined) return assert.equal(r, undefined);
    assert.ok(r && !('error' in r), JSON.stringify(r));
    const flat: Record<string, unknown> = { ...r, ...('repo' in r ? { key: r.repo.key } : {}) };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(flat[k], v, k);
  });
}

const bad: Array<[string, RawRequest, number, RegExp]> = [
  ['write method', get('/projects', {}, 'POST'), 405, /read-only/],
  ['min above max', get('/projects', { min: '8', max: '2' }), 400, /min \(8\) is greater than max \(2\)/],
  ['score with two decimals', get('/projects', { min: '2.55' }), 400, /min must be a score/],
  ['score above 10', get('/projects', { max: '10.5' }), 400, /max must be a score/],
  ['unknown state', get('/projects', { state: 'stale' }), 400, /state must be one of fresh, overdue, failing, never/],
  ['unknown sort', get('/projects', { sort: 'stars' }), 400, /sort must be one of/],
  ['limit 0', get('/projects', { limit: '0' }), 400, /limit must be an integer from 1 to 1000/],
  ['limit too big', get('/projects', { limit: '1001' }), 400, /limit must be/],
  ['owner with a slash', get('/projects', { owner: 'a/b' }), 400, /owner must be/],
  ['parameter twice', get('/projects', { sort: ['score', 'name'] }), 400, /more than once/],
  ['garbage cursor', get('/projects', { cursor: '!!!' }), 400, /cursor is not one this API gave out/],
  ['cursor of another sort', get('/projects', { sort: 'score', cursor: encodeCursor({ v: 'github.com/a/b', id: 3 }) }), 400, /cursor does not fit sort=score/],
  ['changes, bad selector', get('/projects/github.com/o/r/changes', { from: 'yesterday' }), 400, /from must be a result id, a full commit SHA, a date/],
  ['changes, short commit', get('/projects/github.com/o/r/changes', { to: 'abc123' }), 400, /to must be/],
  ['changes, impossible date', get('/projects/github.com/o/r/changes', { from: '2025-02-31' }), 400, /from must be/],
  ['changes, host not allowed', get('/projects/evil.example/o/r/changes'), 400, /invalid repository/],
  ['changes, dot segment', get('/projects/github.com/o/%2e%2e/changes'), 400, /dot segments/],
  ['changes, encoded slash', get('/projects/github.com/o%2Fx/r/changes'), 400, /encoded slash/],
  ['unknown export', get('/export/all.xml'), 404, /latest\.csv/],
  ['unknown page', get('/ui/settings'), 404, /pages:/],
  ['page with double slash', get('/ui//projects'), 400, /empty path segment/],
  ['control character', get('/ui/projects/github.com/o/r\u0007'), 400, /control characters/],
];

for (const [title, req, status, message] of bad) {
  test(`refuses: ${title}`, () => {
    const r = routeDashboard(req, HOSTS);
    assert.ok(r && 'error' in r, JSON.stringify(r));
    assert.equal(r.status, status);
    assert.match(r.message, message);
  });
}

test('selectors: ids, commits, dates and times; anything else is an error message', () => {
  assert.deepEqual(parseSelector('from', '42'), { id: 42 });
  assert.deepEqual(parseSelector('from', SHA), { commit: SHA });
  assert.deepEqual(parseSelector('from', '2025-01-01'), { at: new Date('2025-01-01T23:59:59.999Z') });
  assert.equal(typeof parseSelector('from', '0'), 'string');
  assert.equal(typeof parseSelector('from', '-1'), 'string');
});

test('cursors round-trip and are checked against their sort', () => {
  for (const [c, sort] of [
    [{ v: 'github.com/a/b', id: 1 }, 'name'],
    [{ v: -1.5, id: 9 }, '-delta'],
    [{ v: '2025-01-01T00:00:00.000Z', id: 2 }, 'date'],
  ] as const) {
    assert.deepEqual(decodeCursor(encodeCursor(c), sort), c);
  }
  assert.equal(typeof decodeCursor(encodeCursor({ v: 3, id: 0 }), 'score'), 'string', 'id must be positive');
});
