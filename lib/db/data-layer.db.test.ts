import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import type { NormalizedResult } from '../scorecard/classify.ts';
import {
  addRepos,
  budgetUsed,
  claimDueRepos,
  countRepos,
  finishTick,
  getRepo,
  getSchedulerState,
  type HarvestInput,
  latestScore,
  migrate,
  recordRun,
  refundBudget,
  releaseClaim,
  releaseExpiredLeases,
  runByJobName,
  scoreHistory,
  scoresChangedSince,
  setTickBackoff,
  startTick,
  takeBudget,
} from './index.ts';
import { describeEachDatabase, storeRecorded } from './testing.ts';

const repo = (s: string): RepoId => {
  const r = parseRepo(s);
  if (!r.ok) throw new Error(r.reason);
  return r.repo;
};
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const schedule = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 };

function result(repoName: string, score: number, date: string) {
  return {
    repo: repoName,
    commit: 'c0ffee',
    date,
    scorecardVersion: 'v5.0.0',
    scorecardCommit: 'abc',
    score,
    checks: [
      { name: 'Binary-Artifacts', score: 10, reason: 'no binaries found', details: null, documentation: { url: 'https://x/ba', short: 'bins' } },
      { name: 'Fuzzing', score: -1, reason: 'internal error: boom', details: ['d1'], documentation: null },
    ],
    raw: { hello: 'world' } as unknown as NormalizedResult['raw'],
  };
}

describeEachDatabase('data layer', (ctx) => {
  test('migrations are idempotent', async () => {
    assert.deepEqual(await migrate(ctx.db), []);
  });

  test('addRepos is idempotent and case-insensitive, keeping the first display case', async () => {
    assert.equal(await addRepos(ctx.db, [{ repo: repo('Ossf/Scorecard') }, { repo: repo('ossf/scorecard') }, { repo: repo('github.com/a/b') }]), 2);
    assert.equal(await addRepos(ctx.db, [{ repo: repo('OSSF/SCORECARD') }, { repo: repo('a/b') }]), 0);
    assert.equal(await countRepos(ctx.db), 2);
    assert.equal((await getRepo(ctx.db, 'github.com/ossf/scorecard'))?.canonical, 'github.com/Ossf/Scorecard');
    await ctx.db('repos').update({ next_due_at: at(0) });
  });

  test('claims go by priority then oldest due, and never twice while leased', async () => {
    await addRepos(ctx.db, [{ repo: repo('p/high'), priority: 5 }, { repo: repo('p/old') }, { repo: repo('p/new') }, { repo: repo('p/future') }]);
    await ctx
      .db('repos')
      .where({ key: 'github.com/p/old' })
      .update({ next_due_at: at(-100) });
    await ctx
      .db('repos')
      .where({ key: 'github.com/p/new' })
      .update({ next_due_at: at(-10) });
    await ctx
      .db('repos')
      .where({ key: 'github.com/p/high' })
      .update({ next_due_at: at(-1) });
    await ctx
      .db('repos')
      .where({ key: 'github.com/p/future' })
      .update({ next_due_at: at(1000) });
    const first = await claimDueRepos(ctx.db, { owner: 'tick-1', limit: 3, leaseSeconds: 600, now: at(0) });
    assert.deepEqual(
      first.map((c) => c.key),
      ['github.com/p/high', 'github.com/p/old', 'github.com/p/new'],
    );
    assert.equal(first[1].claimedDueAt.toISOString(), at(-100).toISOString());
    const second = await claimDueRepos(ctx.db, { owner: 'tick-2', limit: 10, leaseSeconds: 600, now: at(1) });
    assert.ok(
      second.every((c) => !first.some((f) => f.id === c.id)),
      'no repo claimed twice',
    );
    assert.ok(!second.some((c) => c.key === 'github.com/p/future'));
    // After the lease the repo is due again: a crashed tick strands nothing.
    const third = await claimDueRepos(ctx.db, { owner: 'tick-3', limit: 10, leaseSeconds: 600, now: at(601) });
    assert.ok(first.every((f) => third.some((c) => c.id === f.id)));
    assert.ok(await releaseClaim(ctx.db, { repoId: third[0].id, owner: 'tick-3', now: at(602), error: 'forbidden' }));
    assert.equal(await releaseClaim(ctx.db, { repoId: third[0].id, owner: 'tick-3', now: at(602) }), false, 'only the owner releases');
    assert.equal((await releaseExpiredLeases(ctx.db, at(5000))) >= 1, true);
    await ctx.db('repos').update({ next_due_at: at(100000), lease_owner: null, lease_expires_at: null });
  });

  test('concurrent claims split the due rows without overlap', async () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ repo: repo(`c/r${i}`) }));
    await addRepos(ctx.db, many);
    await ctx
      .db('repos')
      .where('key', 'like', 'github.com/c/%')
      .update({ next_due_at: at(0) });
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => claimDueRepos(ctx.db, { owner: `w${i}`, limit: 60, leaseSeconds: 600, now: at(1) })));
    const ids = results.flat().map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, 'a repo claimed by two workers');
    assert.equal(ids.length, 200);
    await ctx.db('repos').update({ next_due_at: at(100000), lease_owner: null, lease_expires_at: null });
  });

  test('storeHarvest stores run, score and checks once; duplicates and older events change nothing', async () => {
    await addRepos(ctx.db, [{ repo: repo('h/one') }]);
    const r = await getRepo(ctx.db, 'github.com/h/one');
    await recordRun(ctx.db, { repoId: r!.id, jobName: 'job-new', jobUid: 'uid-new', tickSlot: 's1' });
    const input = (uid: string, name: string, finished: Date, score: number): HarvestInput => ({
      repoKey: 'github.com/h/one',
      jobName: name,
      jobUid: uid,
      finishedAt: finished,
      checkSet: null,
      outcome: { ok: true, result: result('github.com/h/one', score, finished.toISOString()), flagged: true },
      schedule,
    });
    const a = await storeRecorded(ctx.db, input('uid-new', 'job-new', at(100), 7.5));
    assert.equal(a.status, 'stored');
    assert.equal((a as { nextDueAt: Date }).nextDueAt.toISOString(), at(100 + 86400).toISOString());
    const dup = await storeRecorded(ctx.db, input('uid-new', 'job-new', at(100), 7.5));
    assert.equal(dup.status, 'duplicate');
    // An older Job's completion arrives late: kept in history, does not move the schedule.
    const old = await storeRecorded(ctx.db, input('uid-old', 'job-old', at(50), 3));
    assert.equal(old.status, 'stored');
    assert.equal((old as { nextDueAt: Date | null }).nextDueAt, null);
    const latest = await latestScore(ctx.db, 'github.com/h/one');
    assert.equal(latest?.score, 7.5);
    assert.equal(latest?.checks.length, 2);
    assert.equal(latest?.checks.find((c) => c.name === 'Fuzzing')?.internalError, true);
    assert.deepEqual(latest?.checks.find((c) => c.name === 'Fuzzing')?.details, ['d1']);
    assert.deepEqual(latest?.raw, { hello: 'world' });
    assert.equal((await scoreHistory(ctx.db, 'github.com/h/one')).length, 2);
    assert.equal(
      (await ctx
        .db('scores')
        .count('* as n')
        .first()
        .then((x: any) => Number(x.n))) >= 2,
      true,
    );
    assert.equal((await runByJobName(ctx.db, 'job-new'))?.flagged, true);
    const row = await getRepo(ctx.db, 'github.com/h/one');
    assert.equal(row?.next_due_at.toISOString(), at(100 + 86400).toISOString());
    assert.equal(row?.consecutive_failures, 0);
  });

  test('failures back off exponentially and are stored with their class and reason', async () => {
    await addRepos(ctx.db, [{ repo: repo('f/one') }]);
    const fail = (uid: string, s: number): HarvestInput => ({
      repoKey: 'github.com/f/one',
      jobName: `job-${uid}`,
      jobUid: uid,
      finishedAt: at(s),
      checkSet: null,
      outcome: { ok: false, failure: 'no-result', reason: 'Skipping github.com/f/one: repo unreachable' },
      schedule,
    });
    const a = await storeRecorded(ctx.db, fail('f1', 0));
    const b = await storeRecorded(ctx.db, fail('f2', 100));
    assert.equal((a as any).nextDueAt.toISOString(), at(60).toISOString());
    assert.equal((b as any).nextDueAt.toISOString(), at(100 + 120).toISOString());
    const row = await getRepo(ctx.db, 'github.com/f/one');
    assert.equal(row?.consecutive_failures, 2);
    assert.match(row?.last_error ?? '', /^no-result: Skipping/);
    assert.equal((await runByJobName(ctx.db, 'job-f2'))?.failure_class, 'no-result');
    assert.equal(await latestScore(ctx.db, 'github.com/f/one'), undefined);
    assert.equal((await storeRecorded(ctx.db, { ...fail('x', 0), repoKey: 'github.com/nobody/here' })).status, 'no-run');
  });

  test('concurrent harvests of one repository are serialised on its row: each failure counts, the backoff follows the count', async () => {
    await addRepos(ctx.db, [{ repo: repo('cc/one') }]);
    const fail = (uid: string, s: number): HarvestInput => ({
      repoKey: 'github.com/cc/one',
      jobName: `job-${uid}`,
      jobUid: uid,
      finishedAt: at(s),
      checkSet: null,
      outcome: { ok: false, failure: 'pod-failed', reason: 'exit 1' },
      schedule,
    });
    // Six Jobs finish in the same second; on PostgreSQL the writes run on six connections at once.
    const stored = await Promise.all(Array.from({ length: 6 }, (_, i) => storeRecorded(ctx.db, fail(`cc${i}`, 10))));
    assert.deepEqual(
      stored.map((x) => x.status),
      Array(6).fill('stored'),
    );
    const row = await getRepo(ctx.db, 'github.com/cc/one');
    assert.equal(row?.consecutive_failures, 6, 'no failure lost to a concurrent write');
    // 60 · 2^5 = 1920 s after the sixth failure (the cap, 3600, is not reached).
    assert.equal(row?.next_due_at.toISOString(), at(10 + 1920).toISOString());
    // Far past the cap: the backoff is the cap.
    await ctx.db('repos').where({ key: 'github.com/cc/one' }).update({ consecutive_failures: 500 });
    await storeRecorded(ctx.db, fail('cc-late', 20));
    assert.equal((await getRepo(ctx.db, 'github.com/cc/one'))?.next_due_at.toISOString(), at(20 + 3600).toISOString());
  });

  test('storeHarvest returns the result a score follows (with its checks) and whether it is the newest', async () => {
    await addRepos(ctx.db, [{ repo: repo('pv/one') }]);
    const input = (uid: string, finished: Date, score: number): HarvestInput => ({
      repoKey: 'github.com/pv/one',
      jobName: `job-${uid}`,
      jobUid: uid,
      finishedAt: finished,
      checkSet: null,
      outcome: { ok: true, result: result('github.com/pv/one', score, finished.toISOString()), flagged: false },
      schedule,
    });
    const first = await storeRecorded(ctx.db, input('p1', at(100), 6));
    assert.ok(first.status === 'stored' && first.previous === null && first.latest);
    const second = await storeRecorded(ctx.db, input('p2', at(200), 7.5));
    assert.ok(second.status === 'stored');
    assert.equal(second.latest, true);
    assert.deepEqual(second.previous, {
      id: first.status === 'stored' ? first.scoreId : -1,
      score: 6,
      date: at(100).toISOString(),
      commit: 'c0ffee',
      checks: [
        { name: 'Binary-Artifacts', score: 10, reason: 'no binaries found' },
        { name: 'Fuzzing', score: -1, reason: 'internal error: boom' },
      ],
    });
    // A late, older result: stored with its own predecessor, not the newest.
    const late = await storeRecorded(ctx.db, input('p0', at(50), 3));
    assert.ok(late.status === 'stored');
    assert.equal(late.latest, false);
    assert.equal(late.previous, null);
    // A failure stores no score: nothing to compare.
    const failed = await storeRecorded(ctx.db, { ...input('p3', at(300), 0), outcome: { ok: false, failure: 'pod-failed', reason: 'x' } });
    assert.ok(failed.status === 'stored' && failed.scoreId === null && failed.previous === null && !failed.latest);
  });

  test('a real fixture round-trips through storeHarvest', async () => {
    const fx = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
    await addRepos(ctx.db, [{ repo: repo(fx.repo.name) }]);
    const key = repo(fx.repo.name).key;
    const res = await storeRecorded(ctx.db, {
      repoKey: key,
      jobName: 'fx',
      jobUid: 'fx-uid',
      finishedAt: at(1),
      checkSet: ['Binary-Artifacts'],
      schedule,
      outcome: {
        ok: true,
        flagged: false,
        result: {
          repo: fx.repo.name,
          commit: fx.repo.commit,
          date: fx.date,
          scorecardVersion: fx.scorecard.version,
          scorecardCommit: fx.scorecard.commit,
          score: fx.score,
          raw: fx,
          checks: fx.checks.map((c: any) => ({
            name: c.name,
            score: c.score,
            reason: c.reason,
            details: c.details ?? null,
            documentation: c.documentation ?? null,
          })),
        },
      },
    });
    assert.equal(res.status, 'stored');
    const latest = await latestScore(ctx.db, key);
    assert.equal(latest?.score, fx.score);
    assert.deepEqual(latest?.raw, fx);
    assert.deepEqual(
      latest?.checks.map((c) => [c.name, c.score, c.reason, c.details]),
      fx.checks.map((c: any) => [c.name, c.score, c.reason, c.details ?? null]),
    );
    const changed = await scoresChangedSince(ctx.db, at(-1e9));
    assert.ok(changed.some((c) => c.repoKey === key && c.score === fx.score));
  });

  test('ticks are deduplicated by slot; backoff and budget live in the database', async () => {
    assert.deepEqual(await startTick(ctx.db, '2030-01-01T00:00Z'), { status: 'new' });
    assert.deepEqual(await startTick(ctx.db, '2030-01-01T00:00Z'), { status: 'resumed' });
    await finishTick(ctx.db, '2030-01-01T00:00Z', { created: 3 });
    assert.deepEqual(await startTick(ctx.db, '2030-01-01T00:00Z'), { status: 'finished', summary: { created: 3 } });
    await setTickBackoff(ctx.db, 120, at(0));
    assert.deepEqual(await getSchedulerState(ctx.db), { notBefore: at(120), backoffSeconds: 120, githubWaitUntil: null });
    await setTickBackoff(ctx.db, 0, at(0));
    assert.deepEqual(await getSchedulerState(ctx.db), { notBefore: null, backoffSeconds: 0, githubWaitUntil: null });
    const grants = await Promise.all([takeBudget(ctx.db, 6, 10, at(0)), takeBudget(ctx.db, 6, 10, at(1))]);
    assert.equal(grants[0] + grants[1], 10, `granted ${grants}`);
    assert.equal(await takeBudget(ctx.db, 1, 10, at(2)), 0);
    await refundBudget(ctx.db, 3, at(3));
    assert.equal(await budgetUsed(ctx.db, at(3)), 7);
    assert.equal(await takeBudget(ctx.db, 5, 10, at(3600)), 5, 'a new hour has a new budget');
  });
});
