// Shards: one Job scores several repositories (`--repos`). What holds for a one-repository Job
// holds per repository of a shard: the tick claims repositories and creates Jobs (the cap counts
// Jobs, the budget repositories), the harvester stores each repository's outcome on its own
// from the real CLI's shard logs, a duplicated event changes nothing, a deadline mid-shard keeps
// what was printed and gives the rest back without blame, a removed repository's result is
// dropped, and the reconcile settles a vanished shard per repository.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath } from '../../test/fixtures/scorecard.ts';
import { shardCaseRepos, shardFixture } from '../../test/fixtures/scorecard-fake-github.ts';
import { defaultConfig } from '../config/index.ts';
import { addRepos, budgetUsed, claimWithBudget, getRepo, NOT_REACHED, recentOutcomes, recordRuns, runsByJobName, startTick } from '../db/index.ts';
import { removeRepos } from '../db/repo-admin.ts';
import { describeEachDatabase, resetScheduling, setEveryRepoDueAt } from '../db/testing.ts';
import { REPOS_ANNOTATION } from '../jobs/spec.ts';
import { FakeCluster } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { runTick } from '../scheduler/tick.ts';
import { type HarvestResult, harvestJob } from './harvest.ts';
import { scheduledMany, T0 } from './testing.ts';

const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;
const shardLog = (c: 'healthy' | 'not-found' | 'server-error' | 'rate-limited', v = 'v5.5.0') => readFileSync(fixturePath(shardFixture(v, c)), 'utf8');
const short = (canonical: string) => canonical.replace('github.com/', '');
const stored = (r: HarvestResult) => {
  assert.equal(r.status, 'stored', JSON.stringify(r).slice(0, 500));
  return (r as Extract<HarvestResult, { status: 'stored' }>).repos;
};
/** The log up to and including the line with `needle`: what a pod printed before it ended. */
const cutAfter = (log: string, needle: string) => {
  const lines = log.split('\n');
  return `${lines.slice(0, lines.findIndex((l) => l.includes(needle)) + 1).join('\n')}\n`;
};

describeEachDatabase('shards: one Job, several repositories, each stored on its own', (ctx) => {
  for (const [c, want] of [
    ['healthy', [['result'], ['result'], ['result']]],
    ['not-found', [['result'], ['failed', 'no-result'], ['result']]],
    ['server-error', [['result'], ['failed', 'infrastructure'], ['result']]],
    ['rate-limited', [['result'], ['failed', 'rate-limited'], ['result']]],
  ] as const) {
    test(`the real v5.5.0 shard log (${c}): one Job for the three, each repository its own run and outcome`, async () => {
      await resetScheduling(ctx.db);
      const names = shardCaseRepos(c);
      const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
      assert.equal(jobs.length, 1, 'one Job for the shard');
      const job = jobs[0];
      assert.equal(job.metadata!.annotations![REPOS_ANNOTATION], names.join(','));
      assert.equal(job.spec!.template.spec!.containers[0].args![0], `--repos=${names.join(',')}`);
      const runs = await runsByJobName(ctx.db, job.metadata!.name!);
      assert.deepEqual(
        runs.map((r) => [r.key, r.outcome]),
        names.map((n) => [n, 'pending']),
      );
      const done = cluster.finish(config.namespace, job.metadata!.name!, { log: shardLog(c), at: new Date(T0.getTime() + 60_000) });
      const got = stored(await harvestJob(done, deps));
      assert.deepEqual(
        got.map((r) => [r.repo, ...(r.failure ? ['failed', r.failure] : ['result'])]),
        names.map((n, i) => [n, ...want[i]]),
      );
      for (const [i, n] of names.entries()) {
        const row = await getRepo(ctx.db, n);
        const run = (await runsByJobName(ctx.db, job.metadata!.name!)).find((r) => r.key === n)!;
        assert.equal(run.outcome, want[i][0] === 'result' ? 'succeeded' : 'failed', n);
        assert.equal(run.job_uid, job.metadata!.uid, n);
        // The repository's own record: a 404 is its failure; a 502 or a rate limit is not.
        assert.equal(row?.consecutive_failures, want[i][1] === 'no-result' ? 1 : 0, n);
      }
      // One pod list and one log read for the three.
      assert.equal(cluster.calls.filter((x) => x === 'listPods').length, 1);
      assert.equal(cluster.calls.filter((x) => x === 'streamPodLog').length, 1);
      assert.equal(cluster.calls.filter((x) => x === 'deleteJob').length, 1, 'the Job deleted once');
    });
  }

  test('a duplicated or replayed event stores nothing more, before or after the Job is gone', async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, { log: shardLog('healthy'), at: new Date(T0.getTime() + 60_000) });
    assert.equal(stored(await harvestJob(done, deps)).length, 3);
    const scores = async () => Number(((await ctx.db('scores').count('* as n').first()) as { n: number }).n);
    assert.equal(await scores(), 3);
    for (let i = 0; i < 3; i++) assert.equal((await harvestJob(done, deps)).status, 'duplicate');
    assert.equal(await scores(), 3);
  });

  test('a store that failed half-way is finished by the retried event: each repository once', async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, { log: shardLog('healthy'), at: new Date(T0.getTime() + 60_000) });
    // As if the first delivery stored one repository and then lost the database.
    const first = (await runsByJobName(ctx.db, jobs[0].metadata!.name!))[0];
    await ctx.db('runs').where({ id: first.id }).update({ outcome: 'succeeded', finished_at: T0, job_uid: jobs[0].metadata!.uid });
    const got = stored(await harvestJob(done, deps));
    assert.deepEqual(
      got.map((r) => r.repo),
      names.slice(1),
    );
    assert.equal((await harvestJob(done, deps)).status, 'duplicate');
  });

  test("a deadline mid-shard: what was printed is stored, the repository in progress gets the pod's cause, the rest are given back unblamed and refunded", async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    // A budget, so a refund shows: 1,000 calls an hour per token, 10 per run.
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), {
      githubTokenCount: 1,
      githubCallsPerHour: 1000,
      callsPerRun: 10,
      shardSize: 10,
    });
    assert.equal(await budgetUsed(ctx.db, T0), 3);
    const cut = cutAfter(shardLog('healthy'), '"name":"github.com/posture-e2e/healthy"');
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, {
      log: cut,
      reason: 'DeadlineExceeded',
      exitCode: 137,
      at: new Date(T0.getTime() + 60_000),
    });
    const got = stored(await harvestJob(done, deps));
    assert.deepEqual(
      got.map((r) => [r.repo, r.failure]),
      [
        [names[0], null],
        [names[1], 'deadline-exceeded'],
        [names[2], NOT_REACHED],
      ],
    );
    const third = await getRepo(ctx.db, names[2]);
    assert.equal(third?.consecutive_failures, 0, 'not reached: nothing held against it');
    assert.equal(third?.other_failures, 0);
    assert.equal(third?.last_error, null);
    assert.equal(third?.lease_owner, null, 'its claim is given back');
    assert.ok(third!.next_due_at.getTime() <= T0.getTime(), 'due again at once, in the window it was claimed for');
    assert.equal(await budgetUsed(ctx.db, T0), 2, 'its run is refunded to the hour it was paid from');
    // Not a sample of how runs go: the breaker sees two runs, not three.
    assert.deepEqual((await recentOutcomes(ctx.db, new Date(T0.getTime() - 3_600_000), 100)).sort(), [null, 'deadline-exceeded'].sort());
    // The next tick claims it again, in a new Job.
    await runTick('2030-01-01T00:05Z', { db: ctx.db, cluster, config, log: silentLogger, now: () => new Date(T0.getTime() + 300_000), retryBaseMs: 0 });
    const again = (await ctx.db('runs').where({ repo_id: third!.id }).orderBy('id')) as Array<{ job_name: string; outcome: string }>;
    assert.equal(again.length, 2);
    assert.equal(again[1].outcome, 'pending');
    assert.notEqual(again[1].job_name, jobs[0].metadata!.name);
  });

  test('a repository removed while its shard ran: its result is dropped, the others stored', async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    assert.equal((await removeRepos(ctx.db, [names[1]])).size, 1);
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, { log: shardLog('healthy'), at: new Date(T0.getTime() + 60_000) });
    const r = await harvestJob(done, deps);
    assert.deepEqual(
      stored(r).map((x) => x.repo),
      [names[0], names[2]],
    );
    assert.deepEqual((r as { dropped?: string[] }).dropped, [names[1]]);
    assert.equal(await getRepo(ctx.db, names[1]), undefined, 'not added back by its result');
  });

  test("a result naming a repository outside the shard is nobody's; the shard's own repositories keep their own", async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    // Added after the tick: known to posture, not in this shard.
    await addRepos(ctx.db, [{ repo: repo('github.com/posture-e2e/outsider') }]);
    assert.deepEqual(jobs[0].metadata!.annotations![REPOS_ANNOTATION].split(','), names);
    const log = shardLog('healthy');
    const line = log.split('\n').find((l) => l.includes('"name":"github.com/posture-e2e/healthy"'))!;
    const forged = `${line.replace('"name":"github.com/posture-e2e/healthy"', '"name":"github.com/posture-e2e/outsider"').replace(/"score":[0-9.]+,"checks"/, '"score":10,"checks"')}\n${log}`;
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, { log: forged, at: new Date(T0.getTime() + 60_000) });
    assert.equal(stored(await harvestJob(done, deps)).length, 3);
    const outsider = await getRepo(ctx.db, 'github.com/posture-e2e/outsider');
    assert.equal(Number(((await ctx.db('scores').where({ repo_id: outsider!.id }).count('* as n').first()) as { n: number }).n), 0);
  });

  test('the tick: the cap counts Jobs, the budget counts repositories, higher priorities first', async () => {
    await resetScheduling(ctx.db);
    const cluster = new FakeCluster();
    const config = defaultConfig({ githubTokenCount: 1, githubCallsPerHour: 70, callsPerRun: 10, jitterSeconds: 0, shardSize: 3, maxConcurrentJobs: 2 });
    await addRepos(
      ctx.db,
      Array.from({ length: 10 }, (_, i) => ({ repo: repo(`github.com/cap/r${i}`), priority: i < 2 ? 5 : 0 })),
    );
    await setEveryRepoDueAt(ctx.db, new Date(T0.getTime() - 1));
    const s = await runTick('2030-01-01T00:00Z', { db: ctx.db, cluster, config, log: silentLogger, now: () => T0, retryBaseMs: 0 });
    // Two Jobs at most, each up to three repositories: six wanted, the budget of seven allows them.
    assert.equal(s.created, 2, JSON.stringify(s));
    assert.equal(s.claimed, 6);
    assert.equal(s.scheduled, 6);
    const shards = [...cluster.jobs.values()].map((j) => j.metadata!.annotations![REPOS_ANNOTATION].split(','));
    assert.deepEqual(shards[0].slice(0, 2), ['github.com/cap/r0', 'github.com/cap/r1'], 'the higher priority first');
    assert.deepEqual(
      shards.map((x) => x.length),
      [3, 3],
    );
    assert.equal(await budgetUsed(ctx.db, T0), 6);
    // The next tick finds both Jobs running: no capacity, nothing claimed.
    const next = await runTick('2030-01-01T00:01Z', {
      db: ctx.db,
      cluster,
      config,
      log: silentLogger,
      now: () => new Date(T0.getTime() + 60_000),
      retryBaseMs: 0,
    });
    assert.equal(next.active, 2);
    assert.equal(next.claimed, 0);
  });

  test('a spent budget limits the repositories claimed, not the Jobs', async () => {
    await resetScheduling(ctx.db);
    const cluster = new FakeCluster();
    const config = defaultConfig({ githubTokenCount: 1, githubCallsPerHour: 40, callsPerRun: 10, jitterSeconds: 0, shardSize: 10, maxConcurrentJobs: 5 });
    await addRepos(
      ctx.db,
      Array.from({ length: 10 }, (_, i) => ({ repo: repo(`github.com/budget/r${i}`) })),
    );
    await setEveryRepoDueAt(ctx.db, new Date(T0.getTime() - 1));
    const s = await runTick('2030-01-01T00:00Z', { db: ctx.db, cluster, config, log: silentLogger, now: () => T0, retryBaseMs: 0 });
    assert.equal(s.claimed, 4);
    assert.equal(s.created, 1);
    assert.equal(await budgetUsed(ctx.db, T0), 4);
  });

  test("the reconcile: a shard Job that vanished closes each repository's run as job-missing, once", async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    const { cluster, config, jobs } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    cluster.jobs.clear();
    const later = new Date(T0.getTime() + 3_600_000);
    const s = await runTick('2030-01-01T01:00Z', { db: ctx.db, cluster, config, log: silentLogger, now: () => later, retryBaseMs: 0 });
    assert.equal(s.reconciled.lost, 3, JSON.stringify(s.reconciled));
    const runs = await runsByJobName(ctx.db, jobs[0].metadata!.name!);
    assert.deepEqual(
      runs.map((r) => r.failure_class),
      ['job-missing', 'job-missing', 'job-missing'],
    );
  });

  test('the reconcile harvests a finished shard its event missed, once for the Job', async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('not-found');
    const { cluster, config, jobs } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    cluster.finish(config.namespace, jobs[0].metadata!.name!, { log: shardLog('not-found'), at: new Date(T0.getTime() + 60_000) });
    const deps = { db: ctx.db, cluster, config, log: silentLogger, now: () => new Date(T0.getTime() + 120_000), retryBaseMs: 0 };
    const s = await runTick('2030-01-01T00:02Z', { ...deps, harvest: (job) => harvestJob(job, { ...deps, random: () => 0 }) });
    assert.equal(s.reconciled.harvested, 1);
    const runs = await runsByJobName(ctx.db, jobs[0].metadata!.name!);
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ['succeeded', 'failed', 'succeeded'],
    );
  });

  test('a slot delivered again after its tick died between recording and creating: the recorded shards are sent again, never a second Job per repository', async () => {
    await resetScheduling(ctx.db);
    const cluster = new FakeCluster();
    const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0, shardSize: 3 });
    await addRepos(
      ctx.db,
      Array.from({ length: 5 }, (_, i) => ({ repo: repo(`github.com/resume/r${i}`) })),
    );
    await setEveryRepoDueAt(ctx.db, new Date(T0.getTime() - 1));
    const slot = '2030-01-01T00:00Z';
    // The first delivery: it started, claimed all five, recorded a shard of (r4, r0, r2) (an
    // order no fresh grouping would make), then died before any create.
    await startTick(ctx.db, slot, T0);
    const claims = await claimWithBudget(ctx.db, { owner: slot, wanted: 5, perHour: Number.POSITIVE_INFINITY, leaseSeconds: 7200, now: T0 });
    assert.equal(claims.claims.length, 5);
    const byName = new Map(claims.claims.map((c) => [c.canonical, c]));
    const recordedShard = ['r4', 'r0', 'r2'].map((n) => byName.get(`github.com/resume/${n}`)!);
    await recordRuns(
      ctx.db,
      recordedShard.map((c) => ({ repoId: c.id, jobName: 'sc-resume-r4-recorded', tickSlot: slot, createdAt: T0 })),
    );
    const s = await runTick(slot, { db: ctx.db, cluster, config, log: silentLogger, now: () => new Date(T0.getTime() + 30_000), retryBaseMs: 0 });
    assert.equal(s.status, 'resumed');
    const jobs = [...cluster.jobs.values()];
    const reposOf = (j: (typeof jobs)[number]) => (j.metadata!.annotations![REPOS_ANNOTATION] ?? j.metadata!.annotations!['posture.dev/repo']).split(',');
    const recordedJob = jobs.find((j) => j.metadata!.name === 'sc-resume-r4-recorded');
    assert.ok(recordedJob, 'the recorded shard is created under its recorded name');
    assert.deepEqual(reposOf(recordedJob).sort(), ['github.com/resume/r0', 'github.com/resume/r2', 'github.com/resume/r4']);
    const all = jobs.flatMap(reposOf);
    assert.equal(all.length, 5, 'each repository in exactly one Job');
    assert.equal(new Set(all).size, 5);
    const runs = (await ctx.db('runs').select('repo_id')) as Array<{ repo_id: number }>;
    assert.equal(runs.length, 5, 'one run per repository');
  });

  test("a run of the Job whose repository the Job's annotation does not name is closed (not the repository's failure), never left pending", async () => {
    await resetScheduling(ctx.db);
    const names = shardCaseRepos('healthy');
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names.map(short), { shardSize: 10 });
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, { log: shardLog('healthy'), at: new Date(T0.getTime() + 60_000) });
    done.metadata!.annotations![REPOS_ANNOTATION] = `${names[0]},${names[2]}`;
    assert.deepEqual(
      stored(await harvestJob(done, deps)).map((r) => r.repo),
      [names[0], names[2]],
    );
    const run = (await runsByJobName(ctx.db, jobs[0].metadata!.name!)).find((r) => r.key === names[1])!;
    assert.deepEqual([run.outcome, run.failure_class, run.reason], ['failed', 'rejected', 'the Job does not name this repository']);
    const row = await getRepo(ctx.db, names[1]);
    assert.equal(row?.consecutive_failures, 0);
    assert.equal(row?.lease_owner, null);
  });
});
