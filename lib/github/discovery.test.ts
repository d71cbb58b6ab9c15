import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HeldRepo, type ListedRepo, listedRepoOf, planSourceChanges, RETIRED_ARCHIVED, RETIRED_GONE, selectRepos } from './discovery.ts';

const repo = (name: string, more: Partial<ListedRepo> = {}): ListedRepo => ({ owner: 'Org', name, archived: false, fork: false, topics: [], ...more });
const none = { includeArchived: false, includeForks: false, topic: null };
const keys = (rs: Array<{ key: string }>) => rs.map((r) => r.key);

test('listedRepoOf keeps the fields discovery needs from GitHub’s JSON and refuses anything else', () => {
  assert.deepEqual(listedRepoOf({ name: 'a', owner: { login: 'Org' }, archived: true, fork: false, topics: ['x', 3], id: 1 }), {
    owner: 'Org',
    name: 'a',
    archived: true,
    fork: false,
    topics: ['x'],
  });
  for (const bad of [null, 1, 'a', { name: 'a' }, { owner: { login: 'o' } }, { name: 1, owner: { login: 'o' } }]) assert.equal(listedRepoOf(bad), undefined);
});

test('selection: archived repositories and forks are left out unless asked, a topic narrows, names are identities on the host', () => {
  const listed = [repo('plain'), repo('old', { archived: true }), repo('copy', { fork: true }), repo('tagged', { topics: ['Security'] }), repo('bad name')];
  const d = selectRepos(listed, none, 'github.com');
  assert.deepEqual(keys(d.selected), ['github.com/org/plain', 'github.com/org/tagged']);
  assert.deepEqual(keys(d.archived), ['github.com/org/old']);
  assert.equal(d.forks, 1);
  assert.equal(d.invalid.length, 1);
  assert.deepEqual(keys(selectRepos(listed, { ...none, includeArchived: true, includeForks: true }, 'github.com').selected), [
    'github.com/org/plain',
    'github.com/org/old',
    'github.com/org/copy',
    'github.com/org/tagged',
  ]);
  const topic = selectRepos(listed, { ...none, topic: 'security' }, 'github.com');
  assert.deepEqual(keys(topic.selected), ['github.com/org/tagged']);
  assert.equal(topic.withoutTopic, 2);
  // GitHub Enterprise: the repositories are named on its host.
  assert.equal(selectRepos([repo('plain')], none, 'github.example.com').selected[0].canonical, 'github.example.com/Org/plain');
});

test('the plan: new added, archived or gone retired, back again restored, others’ left alone, hand-added adopted', () => {
  const S = 7;
  const listed = [repo('new'), repo('kept'), repo('archived-now', { archived: true }), repo('back'), repo('mine-by-hand'), repo('other-source')];
  const held: HeldRepo[] = [
    { key: 'github.com/org/kept', retiredReason: null, sourceId: S },
    { key: 'github.com/org/archived-now', retiredReason: null, sourceId: S },
    { key: 'github.com/org/deleted', retiredReason: null, sourceId: S },
    { key: 'github.com/org/back', retiredReason: RETIRED_ARCHIVED, sourceId: S },
    { key: 'github.com/org/mine-by-hand', retiredReason: null, sourceId: null },
    { key: 'github.com/org/other-source', retiredReason: null, sourceId: 9 },
    { key: 'github.com/org/already-gone', retiredReason: RETIRED_GONE, sourceId: S },
  ];
  const plan = planSourceChanges(selectRepos(listed, none, 'github.com'), held, S);
  assert.deepEqual(keys(plan.add), ['github.com/org/new']);
  assert.deepEqual(plan.adopt, ['github.com/org/mine-by-hand']);
  assert.deepEqual(plan.restore, ['github.com/org/back']);
  assert.deepEqual(plan.retire, [
    { key: 'github.com/org/archived-now', reason: RETIRED_ARCHIVED },
    { key: 'github.com/org/deleted', reason: RETIRED_GONE },
  ]);
  // Nothing changed: nothing to do.
  const again = planSourceChanges(selectRepos([repo('kept')], none, 'github.com'), [{ key: 'github.com/org/kept', retiredReason: null, sourceId: S }], S);
  assert.deepEqual(again, { add: [], adopt: [], retire: [], restore: [] });
});

test('a repository that lost the topic, or became a fork, is gone from the source', () => {
  const S = 1;
  const plan = planSourceChanges(
    selectRepos([repo('a', { topics: [] }), repo('b', { fork: true })], { ...none, topic: 'x' }, 'github.com'),
    [
      { key: 'github.com/org/a', retiredReason: null, sourceId: S },
      { key: 'github.com/org/b', retiredReason: null, sourceId: S },
    ],
    S,
  );
  assert.deepEqual(plan.retire, [
    { key: 'github.com/org/a', reason: RETIRED_GONE },
    { key: 'github.com/org/b', reason: RETIRED_GONE },
  ]);
});
