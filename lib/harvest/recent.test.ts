import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentlyHarvested } from './recent.ts';

test('RecentlyHarvested remembers uids up to its capacity, forgetting the oldest first', () => {
  const r = new RecentlyHarvested(3);
  for (const uid of ['a', 'b', 'c']) r.add(uid);
  assert.deepEqual(
    ['a', 'b', 'c'].map((u) => r.has(u)),
    [true, true, true],
  );
  r.add('b'); // already there: not moved, nothing forgotten
  assert.equal(r.size, 3);
  r.add('d');
  assert.equal(r.size, 3);
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((u) => r.has(u)),
    [false, true, true, true],
  );
});

test('RecentlyHarvested ignores an empty uid and refuses a capacity below 1', () => {
  const r = new RecentlyHarvested(2);
  r.add('');
  assert.equal(r.size, 0);
  assert.equal(r.has(''), false);
  assert.throws(() => new RecentlyHarvested(0), /capacity must be at least 1/);
});
