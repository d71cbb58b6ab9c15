// Table-driven tests of the score API's routing and validation (pure: no database).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isApiError, MAX_HISTORY_LIMIT, type RawRequest, routeRequest } from './route.ts';

const HOSTS = ['github.com', 'gitlab.com'];
const SHA = '80ee3ecfedf8b19ab8991713a9fdb2e7dcd7262e';
const SHA256 = 'a'.repeat(64);
const get = (path: string, query: RawRequest['query'] = {}, method = 'GET'): RawRequest => ({ method, path, query });

type Want = Record<string, unknown>;
const ok: Array<[string, RawRequest, Want]> = [
  [
    'project',
    get('/projects/github.com/ossf/scorecard'),
    { route: 'project', head: false, key: 'github.com/ossf/scorecard', canonical: 'github.com/ossf/scorecard' },
  ],
  [
    'project, mixed case keeps display case, key lower',
    get('/projects/GitHub.com/OSSF/ScoreCard'),
    { route: 'project', key: 'github.com/ossf/scorecard', canonical: 'github.com/OSSF/ScoreCard' },
  ],
  ['HEAD', get('/projects/github.com/ossf/scorecard', {}, 'HEAD'), { route: 'project', head: true }],
  ['lower-case method', get('/projects/github.com/ossf/scorecard', {}, 'get'), { route: 'project' }],
  ['trailing slash', get('/projects/github.com/ossf/scorecard/'), { route: 'project', key: 'github.com/ossf/scorecard' }],
  ['.git suffix', get('/projects/github.com/ossf/scorecard.git'), { route: 'project', key: 'github.com/ossf/scorecard' }],
  ['dots, dashes and underscores in names', get('/projects/github.com/a-b/c.d_e'), { route: 'project', key: 'github.com/a-b/c.d_e' }],
  ['percent-encoded ordinary characters', get('/projects/github.com/oss%66/scorecard'), { route: 'project', key: 'github.com/ossf/scorecard' }],
  ['other allowed host', get('/projects/gitlab.com/g/p'), { route: 'project', key: 'gitlab.com/g/p' }],
  ['commit', get('/projects/github.com/o/r', { commit: SHA }), { route: 'project', commit: SHA }],
  ['commit upper case is lowered', get('/projects/github.com/o/r', { commit: SHA.toUpperCase() }), { route: 'project', commit: SHA }],
  ['SHA-256 commit', get('/projects/github.com/o/r', { commit: SHA256 }), { route: 'project', commit: SHA256 }],
  ['unknown parameters are ignored (cache busters)', get('/projects/github.com/o/r', { v: '2', utm_source: 'x' }), { route: 'project' }],
  ['history, default limit', get('/projects/github.com/o/r/history'), { route: 'history', limit: 100 }],
  ['history, limit', get('/projects/github.com/o/r/history', { limit: '5' }), { route: 'history', limit: 5 }],
  ['history, maximum limit', get('/projects/github.com/o/r/history', { limit: String(MAX_HISTORY_LIMIT) }), { route: 'history', limit: MAX_HISTORY_LIMIT }],
  ['history of a repo named history', get('/projects/github.com/o/history/history'), { route: 'history', key: 'github.com/o/history' }],
  ['project of a repo named badge', get('/projects/github.com/o/badge'), { route: 'project', key: 'github.com/o/badge' }],
  ['badge', get('/projects/github.com/o/r/badge'), { route: 'badge', style: 'flat' }],
  [
    'badge, style and commit',
    get('/projects/github.com/o/r/badge', { style: 'flat-square', commit: SHA }),
    { route: 'badge', style: 'flat-square', commit: SHA },
  ],
  ['index', get('/'), { route: 'index' }],
];

for (const [name, req, want] of ok) {
  test(`route: ${name}`, () => {
    const r = routeRequest(req, HOSTS);
    assert.ok(!isApiError(r), `unexpected error: ${JSON.stringify(r)}`);
    const flat: Record<string, unknown> = { ...r, ...('repo' in r ? { key: r.repo.key, canonical: r.repo.canonical } : {}) };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(flat[k], v, `${name}: ${k}`);
    if (!('commit' in want)) assert.equal(flat.commit, undefined, `${name}: no commit`);
  });
}

const bad: Array<[string, RawRequest, number, RegExp]> = [
  // methods
  ['POST', get('/projects/github.com/o/r', {}, 'POST'), 405, /read-only/],
  ['PUT', get('/projects/github.com/o/r', {}, 'PUT'), 405, /GET, HEAD/],
  ['DELETE', get('/projects/github.com/o/r', {}, 'DELETE'), 405, /not allowed/],
  ['OPTIONS', get('/projects/github.com/o/r', {}, 'OPTIONS'), 405, /not allowed/],
  ['a hostile method name', get('/', {}, 'GET\r\nX: y'), 405, /not allowed/],
  // unknown routes
  ['unknown top level', get('/api/v1/projects/github.com/o/r'), 404, /no such route/],
  ['unknown sub-resource', get('/projects/github.com/o/r/checks'), 404, /no such resource/],
  ['too deep', get('/projects/github.com/o/r/badge/extra'), 404, /no such resource/],
  // structure
  ['too short', get('/projects/github.com/o'), 400, /expected \/projects/],
  ['bare /projects', get('/projects'), 400, /expected \/projects/],
  ['/projects/', get('/projects/'), 400, /empty path segment/],
  ['double slash', get('/projects/github.com//o/r'), 400, /empty path segment/],
  ['two trailing slashes', get('/projects/github.com/o/r//'), 400, /empty path segment/],
  ['no leading slash', get('projects/github.com/o/r'), 400, /must start with/],
  // hostile paths
  ['traversal', get('/projects/github.com/o/../../etc/passwd'), 400, /dot segments/],
  ['single dot', get('/projects/github.com/./r'), 400, /dot segments/],
  ['encoded traversal', get('/projects/github.com/o/%2e%2e'), 400, /dot segments/],
  ['encoded slash', get('/projects/github.com/o%2Fx/r'), 400, /encoded slash/],
  ['encoded slash, lower case', get('/projects/github.com/o/r%2fbadge'), 400, /encoded slash/],
  ['encoded backslash', get('/projects/github.com/o/r%5C..'), 400, /encoded slash/],
  ['raw backslash', get('/projects/github.com/o\\..\\r'), 400, /backslash/],
  ['double encoding stays literal and fails the name check', get('/projects/github.com/o/r%252F'), 400, /invalid repository/],
  ['malformed percent-encoding', get('/projects/github.com/o/%E0%A4%A'), 400, /malformed percent-encoding/],
  ['encoded NUL', get('/projects/github.com/o/r%00'), 400, /control characters/],
  ['raw NUL', get('/projects/github.com/o/r\u0000'), 400, /control characters/],
  ['CRLF injection', get('/projects/github.com/o/r%0d%0aSet-Cookie:%20x'), 400, /control characters/],
  ['raw newline', get('/projects/github.com/o/r\nx'), 400, /control characters/],
  ['DEL', get('/projects/github.com/o/r%7F'), 400, /control characters/],
  ['overlong path', get(`/projects/github.com/o/${'a'.repeat(600)}`), 400, /longer than 512/],
  ['overlong name within the path limit', get(`/projects/github.com/o/${'a'.repeat(101)}`), 400, /invalid repository/],
  ['overlong owner', get(`/projects/github.com/${'a'.repeat(40)}/r`), 400, /invalid owner/],
  ['space', get('/projects/github.com/o/r%20x'), 400, /whitespace/],
  ['encoded query', get('/projects/github.com/o/r%3Fcommit=x'), 400, /query strings/],
  ['encoded fragment', get('/projects/github.com/o/r%23x'), 400, /query strings/],
  ['unicode name', get('/projects/github.com/o/r%C3%A9'), 400, /invalid repository/],
  ['host not allowed', get('/projects/example.com/o/r'), 400, /not allowed/],
  ['host with port', get('/projects/github.com:443/o/r'), 400, /ports are not allowed/],
  ['host with credentials', get('/projects/user@github.com/o/r'), 400, /credentials/],
  ['scheme as host', get('/projects/https:/o/r'), 400, /invalid repository: .*host/],
  ['owner starting with a dash', get('/projects/github.com/-o/r'), 400, /invalid owner/],
  ['name ..', get('/projects/github.com/o/..'), 400, /dot segments/],
  // query
  ['commit too short', get('/projects/github.com/o/r', { commit: 'abc123' }), 400, /full commit SHA/],
  ['commit not hex', get('/projects/github.com/o/r', { commit: 'z'.repeat(40) }), 400, /full commit SHA/],
  ['commit empty', get('/projects/github.com/o/r', { commit: '' }), 400, /full commit SHA/],
  ['commit SQL injection', get('/projects/github.com/o/r', { commit: "' OR 1=1 --" }), 400, /full commit SHA/],
  ['commit with newline', get('/projects/github.com/o/r', { commit: `${SHA}\n` }), 400, /full commit SHA/],
  ['commit given twice', get('/projects/github.com/o/r', { commit: [SHA, SHA] }), 400, /more than once/],
  ['commit overlong', get('/projects/github.com/o/r', { commit: 'a'.repeat(10_000) }), 400, /longer than/],
  ['commit on history', get('/projects/github.com/o/r/history', { commit: SHA }), 400, /not supported/],
  ['limit on project', get('/projects/github.com/o/r', { limit: '3' }), 400, /not supported/],
  ['style on project', get('/projects/github.com/o/r', { style: 'flat' }), 400, /not supported/],
  ['limit 0', get('/projects/github.com/o/r/history', { limit: '0' }), 400, /limit must be/],
  ['limit negative', get('/projects/github.com/o/r/history', { limit: '-1' }), 400, /limit must be/],
  ['limit over the cap', get('/projects/github.com/o/r/history', { limit: String(MAX_HISTORY_LIMIT + 1) }), 400, /limit must be/],
  ['limit huge', get('/projects/github.com/o/r/history', { limit: '99999999999999999999' }), 400, /limit must be|longer/],
  ['limit exponent', get('/projects/github.com/o/r/history', { limit: '1e3' }), 400, /limit must be/],
  ['limit fraction', get('/projects/github.com/o/r/history', { limit: '1.5' }), 400, /limit must be/],
  ['limit leading zero', get('/projects/github.com/o/r/history', { limit: '010' }), 400, /limit must be/],
  ['limit with space', get('/projects/github.com/o/r/history', { limit: ' 5' }), 400, /limit must be/],
  ['limit empty', get('/projects/github.com/o/r/history', { limit: '' }), 400, /limit must be/],
  ['badge style unknown', get('/projects/github.com/o/r/badge', { style: '<script>' }), 400, /style must be/],
];

for (const [name, req, status, message] of bad) {
  test(`reject: ${name}`, () => {
    const r = routeRequest(req, HOSTS);
    assert.ok(isApiError(r), `expected an error, got ${JSON.stringify(r)}`);
    assert.equal(r.status, status, `${name}: ${r.message}`);
    assert.match(r.message, message);
    assert.ok(!/[\u0000-\u001f]/.test(r.message), 'no control characters in the message');
    assert.ok(r.message.length < 1000, 'messages stay short');
    if (status === 405) assert.equal(r.headers?.allow, 'GET, HEAD');
  });
}

test('route: allowedHosts is honoured (github.com only by default)', () => {
  const r = routeRequest(get('/projects/gitlab.com/g/p'), ['github.com']);
  assert.ok(isApiError(r) && r.status === 400 && /gitlab\.com is not allowed/.test(r.message));
});
