// The fault run's checker, tried on clean and broken records: each promise it proves must be
// able to fail.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFaultRun, type FaultRunRecord } from './faults-checker.ts';

const END = new Date('2030-01-01T00:30:00Z');
const at = (m: number) => new Date(Date.parse('2030-01-01T00:00:00Z') + m * 60_000);

function clean(): FaultRunRecord {
  return {
    repos: [
      { key: 'a/ok', expect: 'success', nextDueAt: at(600), leaseOwner: null, leaseExpiresAt: null, consecutiveFailures: 0, lastError: null },
      {
        key: 'a/bad',
        expect: 'repository-failure',
        nextDueAt: at(90),
        leaseOwner: null,
        leaseExpiresAt: null,
        consecutiveFailures: 1,
        lastError: 'pod-failed: exit 1',
      },
      { key: 'a/net', expect: 'infrastructure', nextDueAt: at(90), leaseOwner: null, leaseExpiresAt: null, consecutiveFailures: 0, lastError: null },
    ],
    runs: [
      { repoKey: 'a/ok', jobName: 'j1', jobUid: 'u1', outcome: 'succeeded', failureClass: null, reason: null, finishedAt: at(1), scores: 1 },
      { repoKey: 'a/bad', jobName: 'j2', jobUid: 'u2', outcome: 'failed', failureClass: 'pod-failed', reason: 'exit 1', finishedAt: at(1), scores: 0 },
      {
        repoKey: 'a/net',
        jobName: 'j3',
        jobUid: 'u3',
        outcome: 'failed',
        failureClass: 'infrastructure',
        reason: 'no such host',
        finishedAt: at(2),
        scores: 0,
      },
    ],
    jobsSeen: [
      { name: 'j1', uid: 'u1', repoKey: 'a/ok', createdAt: at(0) },
      { name: 'j2', uid: 'u2', repoKey: 'a/bad', createdAt: at(0) },
      { name: 'j3', uid: 'u3', repoKey: 'a/net', createdAt: at(1) },
    ],
    samples: [
      { at: at(0), active: 2 },
      { at: at(1), active: 1 },
    ],
    jobsLeft: 0,
    cap: 2,
    budgetPerHour: 3,
    end: END,
    faults: {},
  };
}

test('a clean run passes, with its counts', () => {
  const r = checkFaultRun(clean());
  assert.deepEqual(r.violations, []);
  assert.equal(r.ok, true);
  assert.equal(r.counts.scored, 1);
  assert.equal(r.counts.failed, 1);
  assert.equal(r.counts.infrastructure, 1);
  assert.equal(r.counts.maxActive, 2);
  assert.equal(r.counts.maxRunsPerHour, 3);
});

const broken: Array<[string, (r: FaultRunRecord) => void, RegExp, keyof ReturnType<typeof checkFaultRun>['counts'] | null]> = [
  [
    'a Job that ran but no run records it (lost)',
    (r) => r.jobsSeen.push({ name: 'j9', uid: 'u9', repoKey: 'a/ok', createdAt: at(3) }),
    /no run records it/,
    'lost',
  ],
  ['a run left pending', (r) => (r.runs[0].outcome = 'pending'), /still pending/, 'pending'],
  ['a run stored twice', (r) => r.runs.push({ ...r.runs[0] }), /two runs/, 'duplicated'],
  ['two scores for one run', (r) => (r.runs[0].scores = 2), /2 scores/, 'duplicated'],
  ['a repository never scored', (r) => r.runs.splice(0, 1) && r.jobsSeen.splice(0, 1), /never scored/, 'stranded'],
  ['a lease past its end', (r) => Object.assign(r.repos[0], { leaseOwner: 'slot', leaseExpiresAt: at(10) }), /past its lease/, 'stranded'],
  ['a repository due and not picked', (r) => (r.repos[0].nextDueAt = at(5)), /not picked/, 'stranded'],
  ['the cap exceeded once', (r) => r.samples.push({ at: at(2), active: 3 }), /3 posture Jobs active at once \(cap 2\)/, 'maxActive'],
  ['the budget exceeded', (r) => (r.budgetPerHour = 2), /3 runs started in one hour, budget 2/, 'maxRunsPerHour'],
  [
    'an infrastructure failure held against the repository',
    (r) => Object.assign(r.repos[2], { consecutiveFailures: 1, lastError: 'pod-failed: no such host' }),
    /only the infrastructure failed/,
    'infrastructureBlamed',
  ],
  ["an infrastructure failure stored as the repository's", (r) => (r.runs[2].failureClass = 'pod-failed'), /expected infrastructure/, 'wrongOutcome'],
  ['a failure without its cause', (r) => (r.runs[1].reason = null), /without its cause/, null],
  ['a Job left after the drain', (r) => (r.jobsLeft = 1), /1 posture Jobs left/, 'jobsLeft'],
];

for (const [name, breakIt, message, counter] of broken) {
  test(`the checker catches ${name}`, () => {
    const rec = clean();
    breakIt(rec);
    const r = checkFaultRun(rec);
    assert.equal(r.ok, false);
    assert.ok(
      r.violations.some((v) => message.test(v)),
      r.violations.join('\n'),
    );
    if (counter === 'maxActive') assert.equal(r.counts.maxActive, 3);
    else if (counter === 'maxRunsPerHour') assert.equal(r.counts.maxRunsPerHour, 3);
    else if (counter) assert.ok((r.counts[counter] as number) > 0, `${counter} counted`);
  });
}
