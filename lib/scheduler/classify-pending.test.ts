// classifyPending: which pending runs' Jobs are running, finished (to harvest) or missing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import type { PendingRun } from '../db/index.ts';
import { classifyPending } from './cluster-view.ts';

const T0 = new Date('2030-01-01T00:00:00Z');

const run = (name: string, uid: string | null = `uid-${name}`, repoId = 1): PendingRun => ({
  id: repoId,
  repo_id: repoId,
  job_name: name,
  job_uid: uid,
  tick_slot: null,
  created_at: T0,
  finished_at: null,
  outcome: 'pending',
  failure_class: null,
  reason: null,
  flagged: false,
  canonical: `github.com/o/${name}`,
});
const job = (name: string, uid: string, finished?: 'Complete' | 'Failed'): V1Job => ({
  metadata: { name, uid },
  status: finished ? { conditions: [{ type: finished, status: 'True', lastTransitionTime: T0 }] } : { active: 1 },
});

test('classifyPending: running, finished, missing, and a reused name', () => {
  const cases: Array<[string, PendingRun[], V1Job[], { active: number; finished: string[]; missing: string[] }]> = [
    ['nothing pending', [], [job('x', 'uid-x')], { active: 0, finished: [], missing: [] }],
    ['running', [run('a')], [job('a', 'uid-a')], { active: 1, finished: [], missing: [] }],
    [
      'finished, to harvest',
      [run('a'), run('b')],
      [job('a', 'uid-a', 'Complete'), job('b', 'uid-b', 'Failed')],
      { active: 0, finished: ['a', 'b'], missing: [] },
    ],
    ['vanished', [run('a')], [], { active: 0, finished: [], missing: ['a'] }],
    ['create in flight (no uid yet) counts as running', [run('a', null)], [job('a', 'new')], { active: 1, finished: [], missing: [] }],
    ["same name, another uid: not this run's Job", [run('a')], [job('a', 'other')], { active: 0, finished: [], missing: ['a'] }],
    // A shard's Job has a run per repository: it is one pod, counted and harvested once.
    [
      'a running shard counts once',
      [run('s', 'uid-s', 1), run('s', 'uid-s', 2), run('s', 'uid-s', 3)],
      [job('s', 'uid-s')],
      { active: 1, finished: [], missing: [] },
    ],
    [
      'a finished shard is harvested once',
      [run('s', 'uid-s', 1), run('s', 'uid-s', 2)],
      [job('s', 'uid-s', 'Complete')],
      { active: 0, finished: ['s'], missing: [] },
    ],
    ["a vanished shard: each repository's run is missing", [run('s', 'uid-s', 1), run('s', 'uid-s', 2)], [], { active: 0, finished: [], missing: ['s', 's'] }],
  ];
  for (const [name, pending, jobs, want] of cases) {
    const got = classifyPending(pending, jobs);
    assert.deepEqual({ active: got.active, finished: got.finished.map((j) => j.metadata!.name), missing: got.missing.map((r) => r.job_name) }, want, name);
  }
});

test("classifyPending: the repositories running are every repository of a running Job, a shard's included", () => {
  const got = classifyPending(
    [run('s', 'uid-s', 1), run('s', 'uid-s', 2), run('t', 'uid-t', 3), run('u', 'uid-u', 4)],
    [job('s', 'uid-s'), job('t', 'uid-t', 'Complete')],
  );
  assert.deepEqual([...got.running].sort(), [1, 2]);
  assert.equal(got.active, 1);
});
