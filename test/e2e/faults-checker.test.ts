// The fault run's checker, tried on clean and broken records: each promise it proves must be
// able to fail.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFaultRun, type Expectation, type FaultRunRecord } from './faults-checker.ts';

const END = new Date('2030-01-01T00:30:00Z');
const at = (m: number) => new Date(Date.parse('2030-01-01T00:00:00Z') + m * 60_000);

// A shard j1 scores a/ok, a/net (Skipping: infrastructure), then a/bad, which panics: a/late,
// after it, is not reached and is scored later by j2 (a shard of one).
function clean(): FaultRunRecord {
  const repo = (key: string, expect: Expectation, o: Partial<FaultRunRecord['repos'][number]> = {}) => ({
    key,
    expect,
    nextDueAt: at(600),
    leaseOwner: null,
    leaseExpiresAt: null,
    consecutiveFailures: 0,
    lastError: null,
    ...o,
  });
  const run = (repoKey: string, jobName: string, jobUid: string, o: Partial<FaultRunRecord['runs'][number]> = {}) => ({
    repoKey,
    jobName,
    jobUid,
    outcome: 'succeeded' as const,
    failureClass: null,
    reason: null,
    finishedAt: at(1),
    scores: 1,
    ...o,
  });
  return {
    repos: [
      repo('a/ok', 'success'),
      repo('a/bad', 'repository-failure', { nextDueAt: at(90), consecutiveFailures: 1, lastError: 'pod-failed: exit 2' }),
      repo('a/net', 'infrastructure', { nextDueAt: at(90) }),
      repo('a/late', 'success'),
    ],
    runs: [
      run('a/ok', 'j1', 'u1'),
      run('a/net', 'j1', 'u1', { outcome: 'failed', failureClass: 'infrastructure', reason: 'no such host', scores: 0 }),
      run('a/bad', 'j1', 'u1', { outcome: 'failed', failureClass: 'pod-failed', reason: 'exit 2', scores: 0 }),
      run('a/late', 'j1', 'u1', { outcome: 'failed', failureClass: 'not-reached', reason: 'not attempted', scores: 0 }),
      run('a/late', 'j2', 'u2', { finishedAt: at(3) }),
    ],
    jobsSeen: [
      { name: 'j1', uid: 'u1', repoKeys: ['a/ok', 'a/net', 'a/bad', 'a/late'], createdAt: at(0) },
      { name: 'j2', uid: 'u2', repoKeys: ['a/late'], createdAt: at(2) },
    ],
    samples: [
      { at: at(0), active: 2 },
      { at: at(1), active: 1 },
    ],
    jobsLeft: 0,
    cap: 2,
    // Four repositories started (a/late's not-reached run gave its budget back), in two Jobs.
    budgetPerHour: 4,
    end: END,
    faults: {},
  };
}

test('a clean run passes, with its counts', () => {
  const r = checkFaultRun(clean());
  assert.deepEqual(r.violations, []);
  assert.equal(r.ok, true);
  assert.equal(r.counts.scored, 2);
  assert.equal(r.counts.failed, 1);
  assert.equal(r.counts.infrastructure, 1);
  assert.equal(r.counts.notReached, 1);
  assert.equal(r.counts.pairsSeen, 5);
  assert.equal(r.counts.maxActive, 2);
  assert.equal(r.counts.maxRunsPerHour, 4);
  assert.equal(r.counts.maxJobsPerHour, 2);
});

test('a not-reached run after the repository was scored changes nothing: the latest run that reached it decides', () => {
  const rec = clean();
  rec.jobsSeen[1].repoKeys.unshift('a/ok');
  rec.runs.push({ ...rec.runs[3], repoKey: 'a/ok', jobName: 'j2', jobUid: 'u2', finishedAt: at(9) });
  const r = checkFaultRun(rec);
  assert.deepEqual(r.violations, []);
  assert.equal(r.counts.scored, 2);
  assert.equal(r.counts.maxRunsPerHour, 4, 'not counted in the budget');
});

test("repositories due and never picked are fine once the hour's budget is spent (it held them back)", () => {
  const rec = clean();
  rec.repos.push({ ...rec.repos[0], key: 'a/queued', nextDueAt: at(5) });
  rec.repos[0].nextDueAt = at(5);
  const r = checkFaultRun(rec);
  assert.deepEqual(r.violations, []);
  assert.equal(r.counts.waitingForBudget, 2);
  assert.equal(r.counts.stranded, 0);
});

test('a Job deleted and created again under its name (the same claims) spends the budget once', () => {
  const rec = clean();
  rec.jobsSeen.push({ ...rec.jobsSeen[0], uid: 'u1-again', createdAt: at(1) });
  const r = checkFaultRun(rec);
  assert.deepEqual(r.violations, []);
  assert.equal(r.counts.maxRunsPerHour, 4);
  assert.equal(r.counts.maxJobsPerHour, 3);
});

const broken: Array<[string, (r: FaultRunRecord) => void, RegExp, keyof ReturnType<typeof checkFaultRun>['counts'] | null]> = [
  [
    'a Job that ran but no run records it (lost)',
    (r) => r.jobsSeen.push({ name: 'j9', uid: 'u9', repoKeys: ['a/ok'], createdAt: at(3) }),
    /j9 ran a\/ok but no run records it/,
    'withoutRun',
  ],
  ["a shard's repository with no run (the others have theirs)", (r) => r.runs.splice(1, 1), /Job j1 ran a\/net but no run records it/, 'withoutRun'],
  ['a run left pending', (r) => (r.runs[0].outcome = 'pending'), /still pending/, 'pending'],
  ['a run stored twice', (r) => r.runs.push({ ...r.runs[0] }), /two runs of a\/ok for Job j1/, 'duplicated'],
  [
    'a repository run twice within one Job (once scored, once failed)',
    (r) => r.runs.push({ ...r.runs[0], jobUid: null, outcome: 'failed', failureClass: 'pod-failed', reason: 'exit 2', scores: 0, finishedAt: at(4) }),
    /two runs of a\/ok for Job j1/,
    'duplicated',
  ],
  [
    'a run stored against a repository its Job does not score',
    (r) => r.runs.push({ ...r.runs[4], jobName: 'j2', jobUid: 'u2', repoKey: 'a/ok' }),
    /j2 was stored against a\/ok/,
    'duplicated',
  ],
  ['two scores for one run', (r) => (r.runs[0].scores = 2), /2 scores/, 'duplicated'],
  ['a repository never scored', (r) => r.runs.splice(0, 1) && r.jobsSeen[0].repoKeys.splice(0, 1), /a\/ok was never scored/, 'stranded'],
  [
    'a not-reached run that is the latest and only run of a repository (never reached)',
    (r) => {
      r.runs.splice(4, 1);
      r.jobsSeen.splice(1, 1);
    },
    /a\/late was never scored nor failed/,
    'stranded',
  ],
  ['a lease past its end', (r) => Object.assign(r.repos[0], { leaseOwner: 'slot', leaseExpiresAt: at(10) }), /past its lease/, 'stranded'],
  [
    'a repository due and not picked while the budget was not spent',
    (r) => {
      r.repos[0].nextDueAt = at(5);
      r.budgetPerHour = 5;
    },
    /not picked/,
    'stranded',
  ],
  [
    'a repository never picked while the budget was not spent',
    (r) => {
      r.repos.push({ ...r.repos[0], key: 'a/queued', nextDueAt: at(5) });
      r.budgetPerHour = 5;
    },
    /a\/queued was never scored nor failed/,
    'stranded',
  ],
  ['the cap exceeded once', (r) => r.samples.push({ at: at(2), active: 3 }), /3 posture Jobs active at once \(cap 2\)/, 'maxActive'],
  ['the budget exceeded', (r) => (r.budgetPerHour = 3), /4 repositories started in one hour, budget 3/, 'maxRunsPerHour'],
  [
    'the budget exceeded by repositories though not by Jobs (a shard counts each repository)',
    (r) => {
      r.budgetPerHour = 2; // two Jobs: counting Jobs would pass
      r.jobsSeen[1].createdAt = at(70); // j2 in the next hour: j1 alone started 3 repositories
    },
    /3 repositories started in one hour, budget 2/,
    'maxRunsPerHour',
  ],
  [
    'an infrastructure failure held against the repository',
    (r) => Object.assign(r.repos[2], { consecutiveFailures: 1, lastError: 'pod-failed: no such host' }),
    /only the infrastructure failed/,
    'infrastructureBlamed',
  ],
  [
    'a not-reached repository held against it',
    (r) => Object.assign(r.repos[3], { consecutiveFailures: 1, lastError: 'not-reached: not attempted' }),
    /a\/late: carries a failure/,
    'infrastructureBlamed',
  ],
  ["an infrastructure failure stored as the repository's", (r) => (r.runs[1].failureClass = 'pod-failed'), /expected infrastructure/, 'wrongOutcome'],
  ['a failure without its cause', (r) => (r.runs[2].reason = null), /without its cause/, null],
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
    else if (counter === 'maxRunsPerHour') assert.ok(r.counts.maxRunsPerHour > rec.budgetPerHour);
    else if (counter) assert.ok((r.counts[counter] as number) > 0, `${counter} counted`);
  });
}
