import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, type Db, getRepo, getSchedulerState, runByJobName, startTick } from '../db/index.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { runTick, type TickDeps } from './tick.ts';

const T0 = new Date('2030-01-01T00:00:00Z');

function setup(db: Db, overrides: Partial<Config> = {}) {
  const cluster = new FakeCluster();
  let clock = T0.getTime();
  const config = defaultConfig({ maxConcurrentJobs: 3, idleBackoffBaseSeconds: 60, githubTokenCount: 0, kubeRetries: 2, shardSize: 1, ...overrides });
  const deps: TickDeps = { db, cluster, config, log: silentLogger, now: () => new Date(clock), retryBaseMs: 0 };
  return { cluster, config, deps, advance: (s: number) => (clock += s * 1000), at: () => new Date(clock) };
}

async function seed(db: Db, names: string[], dueAt = new Date(T0.getTime() - 1000)) {
  await addRepos(
    db,
    names.map((n) => ({ repo: (parseRepo(n) as { ok: true; repo: any }).repo })),
  );
  await db('repos').update({ next_due_at: dueAt, lease_owner: null, lease_expires_at: null });
}

const reset = resetScheduling;

describeEachDatabase('scheduler tick', (ctx) => {
  test('creates Jobs for due repositories up to the cap, records runs, and a repeated slot does nothing more', async () => {
    await reset(ctx.db);
    const { cluster, deps } = setup(ctx.db);
    await seed(ctx.db, ['a/one', 'a/two', 'a/three', 'a/four', 'a/five']);
    const s = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(s.status, 'done');
    assert.equal(s.claimed, 3);
    assert.equal(s.created, 3);
    assert.equal(cluster.jobs.size, 3);
    for (const job of cluster.jobs.values()) {
      const run = await runByJobName(ctx.db, job.metadata!.name!);
      assert.equal(run?.job_uid, job.metadata!.uid, 'run recorded with the Job uid');
      assert.equal(run?.tick_slot, '2030-01-01T00:00Z');
    }
    const again = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(again.status, 'duplicate');
    assert.equal(cluster.jobs.size, 3, 'the same slot twice creates nothing more');
    // Jobs still running: the cap holds on the next slot.
    const next = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(next.active, 3);
    assert.equal(next.claimed, 0);
    assert.equal(cluster.jobs.size, 3);
  });

  test('two ticks at once never overshoot the cap nor claim a repository twice', async () => {
    await reset(ctx.db);
    const { cluster, deps } = setup(ctx.db, { maxConcurrentJobs: 4 });
    await seed(
      ctx.db,
      Array.from({ length: 20 }, (_, i) => `b/r${i}`),
    );
    const [x, y] = await Promise.all([runTick('2030-01-01T00:00Z', deps), runTick('2030-01-01T00:00Z', deps)]);
    const [p, q] = await Promise.all([runTick('2030-01-01T00:01Z', deps), runTick('2030-01-01T00:02Z', deps)]);
    assert.ok(cluster.jobs.size <= 4, `${cluster.jobs.size} Jobs`);
    assert.equal(cluster.jobs.size, 4);
    const claimed = await ctx.db('repos').whereNotNull('lease_owner').count('* as n').first();
    assert.equal(Number((claimed as any).n), 4, 'exactly the repos with Jobs are leased');
    assert.ok([x, y, p, q].every((t) => ['done', 'busy', 'duplicate', 'resumed'].includes(t.status)));
  });

  test('a crash between claim and create strands nothing: the slot resumes, or the lease ends', async () => {
    await reset(ctx.db);
    const { cluster, deps, advance } = setup(ctx.db, { leaseSeconds: 600, jobDeadlineSeconds: 300 });
    await seed(ctx.db, ['c/one', 'c/two']);
    // Simulate a tick that claimed and died: the tick row exists, the claims too, no Jobs.
    await startTick(ctx.db, '2030-01-01T00:00Z', T0);
    const { claimDueRepos } = await import('../db/index.ts');
    await claimDueRepos(ctx.db, { owner: '2030-01-01T00:00Z', limit: 1, leaseSeconds: 600, now: T0 });
    const resumed = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(resumed.status, 'resumed');
    assert.equal(resumed.created, 1, 'the redelivered slot finishes its own claim');
    assert.equal(cluster.jobs.size, 1);
    // Another crash, this time never redelivered: the next tick (holding the lock, so no live
    // tick can be between claiming and recording) gives the orphaned claim back and creates its Job.
    await claimDueRepos(ctx.db, { owner: 'lost-tick', limit: 1, leaseSeconds: 600, now: T0 });
    const next = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(next.reconciled.orphans, 1);
    assert.equal(next.created, 1);
    assert.equal(cluster.jobs.size, 2);
    void advance;
  });

  test('403 releases the lease, reports the reason and stops without retrying', async () => {
    await reset(ctx.db);
    const { cluster, deps } = setup(ctx.db);
    await seed(ctx.db, ['d/one', 'd/two', 'd/three']);
    cluster.failures.createJob = [403, 403, 403];
    const s = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(s.created, 0);
    assert.ok(s.errors.length >= 1 && s.errors.every((e) => /403/.test(e)), s.errors.join());
    assert.ok(s.skipped.some((x) => /configuration error/.test(x.why)));
    assert.ok(cluster.calls.filter((c) => c === 'createJob').length <= 3, 'no retry storm');
    const leased = await ctx.db('repos').whereNotNull('lease_owner').count('* as n').first();
    assert.equal(Number((leased as any).n), 0, 'every claim released');
    assert.equal(
      await ctx
        .db('runs')
        .count('* as n')
        .first()
        .then((r: any) => Number(r.n)),
      0,
      'no run left for a Job never created',
    );
    assert.match((await getRepo(ctx.db, 'github.com/d/one'))?.last_error ?? (await getRepo(ctx.db, 'github.com/d/two'))?.last_error ?? '', /403/);
    assert.ok((await getSchedulerState(ctx.db)).backoffSeconds > 0, 'errors back the ticks off');
  });

  test('500s are retried a bounded number of times, then the lease is released', async () => {
    await reset(ctx.db);
    const { cluster, deps } = setup(ctx.db, { maxConcurrentJobs: 1, kubeRetries: 2 });
    await seed(ctx.db, ['e/one']);
    cluster.failures.createJob = [500, 503, 500];
    const s = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(cluster.calls.filter((c) => c === 'createJob').length, 3);
    assert.equal(s.created, 0);
    assert.equal((await getRepo(ctx.db, 'github.com/e/one'))?.lease_owner, null);
    await reset(ctx.db);
    const ok = setup(ctx.db, { maxConcurrentJobs: 1, kubeRetries: 2 });
    await seed(ctx.db, ['e/two']);
    ok.cluster.failures.createJob = [429, 500];
    assert.equal((await runTick('2030-01-01T00:00Z', ok.deps)).created, 1, 'a transient failure within the retries is absorbed');
  });

  test('a repository row that fails identity validation is skipped and reported, never passed to a Job', async () => {
    await reset(ctx.db);
    const { cluster, deps } = setup(ctx.db);
    await ctx
      .db('repos')
      .insert({ key: 'github.com/x/$(evil)', canonical: 'github.com/x/$(evil)', host: 'github.com', next_due_at: new Date(T0.getTime() - 1) });
    await seed(ctx.db, ['x/fine']);
    const s = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(s.created, 1);
    assert.deepEqual(
      s.skipped.map((x) => x.repo),
      ['github.com/x/$(evil)'],
    );
    assert.ok([...cluster.jobs.values()].every((j) => !JSON.stringify(j).includes('$(evil)')));
    const row = await getRepo(ctx.db, 'github.com/x/$(evil)');
    assert.match(row?.last_error ?? '', /invalid repository name/);
    assert.ok(row!.next_due_at > T0, 'parked, not retried every tick');
  });

  test('idle ticks back off in the database, growing and capped, and work resets it', async () => {
    await reset(ctx.db);
    const { deps, advance } = setup(ctx.db, { idleBackoffBaseSeconds: 60, idleBackoffMaxSeconds: 120 });
    const a = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(a.notBefore, new Date(T0.getTime() + 60000).toISOString());
    const b = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(b.status, 'backed-off');
    advance(61);
    const c = await runTick('2030-01-01T00:02Z', deps);
    assert.equal((await getSchedulerState(ctx.db)).backoffSeconds, 120, 'doubled');
    void c;
    advance(121);
    await runTick('2030-01-01T00:05Z', deps);
    assert.equal((await getSchedulerState(ctx.db)).backoffSeconds, 120, 'capped');
    advance(121);
    await seed(ctx.db, ['f/work'], new Date(T0.getTime()));
    const w = await runTick('2030-01-01T00:08Z', deps);
    assert.equal(w.created, 1);
    assert.equal((await getSchedulerState(ctx.db)).backoffSeconds, 0, 'reset after work');
  });

  test('the GitHub budget bounds runs per hour, across ticks', async () => {
    await reset(ctx.db);
    const { deps, advance } = setup(ctx.db, { maxConcurrentJobs: 100, githubTokenCount: 1, githubCallsPerHour: 140, callsPerRun: 70 });
    await seed(
      ctx.db,
      Array.from({ length: 10 }, (_, i) => `g/r${i}`),
    );
    assert.equal((await runTick('2030-01-01T00:00Z', deps)).created, 2);
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(s.created, 0);
    assert.ok(s.skipped.some((x) => /budget/.test(x.why)));
    advance(3600);
    await ctx.db('scheduler_state').update({ not_before: null });
    assert.equal((await runTick('2030-01-01T01:00Z', deps)).created, 2, 'a new hour, a new budget');
  });

  test('reconcile removes posture Jobs never recorded and harvests finished Jobs the events missed', async () => {
    await reset(ctx.db);
    const { cluster, deps, config } = setup(ctx.db);
    await seed(ctx.db, ['h/one']);
    await runTick('2030-01-01T00:00Z', deps);
    const [job] = cluster.jobs.values();
    cluster.finish(config.namespace, job.metadata!.name!, { log: 'whatever' });
    await cluster.createJob(config.namespace, { metadata: { name: 'forged', labels: { 'app.kubernetes.io/managed-by': 'posture' } }, spec: { template: {} } });
    const harvested: string[] = [];
    deps.harvest = async (j) => {
      harvested.push(j.metadata!.name!);
      return { status: 'stored' };
    };
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.deepEqual(harvested, [job.metadata!.name!]);
    assert.equal(s.reconciled.harvested, 1);
    assert.equal(s.reconciled.removed, 1);
    assert.ok(!cluster.jobs.has(`${config.namespace}/forged`));
  });

  test('a listing failure is reported and backs off; nothing is claimed', async () => {
    await reset(ctx.db);
    const { cluster, deps } = setup(ctx.db, { kubeRetries: 0 });
    await seed(ctx.db, ['i/one']);
    cluster.failures.listJobMetadataPage = [500];
    const s = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(s.claimed, 0);
    assert.match(s.errors[0], /listing Jobs: HTTP 500/);
  });

  test('pending runs whose Job vanished: created then deleted → failed job-missing, not held against the repository; never created → forgotten', async () => {
    await reset(ctx.db);
    const { cluster, deps, advance } = setup(ctx.db, { leaseSeconds: 600, jobDeadlineSeconds: 300 });
    await seed(ctx.db, ['l/gone']);
    await runTick('2030-01-01T00:00Z', deps);
    const [job] = cluster.jobs.values();
    cluster.jobs.clear(); // deleted before anyone harvested it
    const repoRow = await getRepo(ctx.db, 'github.com/l/gone');
    await ctx.db('runs').insert({ repo_id: repoRow!.id, job_name: 'never-created', job_uid: null, created_at: new Date(T0.getTime()) });
    advance(601);
    const s = await runTick('2030-01-01T00:11Z', deps);
    assert.equal(s.reconciled.lost, 1);
    const run = await runByJobName(ctx.db, job.metadata!.name!);
    assert.equal(run?.outcome, 'failed');
    assert.equal(run?.failure_class, 'job-missing');
    const after = await getRepo(ctx.db, 'github.com/l/gone');
    assert.equal(after?.consecutive_failures, 0, "a vanished Job is not the repository's failure");
    assert.equal(after?.last_error, null);
    assert.equal(await runByJobName(ctx.db, 'never-created'), undefined);
  });
});
