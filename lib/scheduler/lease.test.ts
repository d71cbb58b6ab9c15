import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOCK_SECONDS, lockSeconds } from './lease.ts';

test("lockSeconds: LOCK_SECONDS, or a claim's lease when that is shorter", () => {
  const cases: Array<[number, number]> = [
    [7_200, LOCK_SECONDS],
    [LOCK_SECONDS, LOCK_SECONDS],
    [10, 10],
    [1, 1],
  ];
  for (const [leaseSeconds, want] of cases) assert.equal(lockSeconds(leaseSeconds), want, `lease ${leaseSeconds} s`);
});
