// The scheduler's promises under faults, one test per finding of issue 12: backoff only when a
// tick made no progress, a lease that is renewed and fenced, crashed ticks resumed, the GitHub
// budget refunded for every claim without a Job, harvested and rejected Jobs cleaned up,
// ambiguous creates settled by name, the infrastructure failure class and the breaker.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { CloudEvent } from 'cloudevents';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, budgetUsed, claimDueRepos, type Db, getRepo, getSchedulerState, runByJobName, startTick, takeBudget } from '../db/index.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { type HarvestDeps, harvestJob } from '../harvest/harvest.ts';
import { jobName, REPO_ANNOTATION } from '../jobs/spec.ts';
import { jobState } from '../jobs/status.ts';
import { KubeError } from '../kube/cluster.ts';
import { FakeCluster, withCalls } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { createSchedulerHandle } from './handler.ts';
import { runTick, type TickDeps } from './tick.ts';

const T0 = new Date('2030-01-01T00:00:00Z');
const repo = (n: string) => (parseRepo(n) as { ok: true; repo: RepoId }).repo;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(db: Db, overrides: Partial<Config> = {}) {
  const cluster = new FakeCluster();
  let clock = T0.getTime();
  const config = defaultConfig({
    maxConcurrentJobs: 3,
    idleBackoffBaseSeconds: 60,
    githubTokenCount: 0,
    kubeRetries: 1,
    jitterSeconds: 0,
    shardSize: 1,
    ...overrides,
  });
  const deps: TickDeps = { db, cluster, config, log: silentLogger, now: () => new Date(clock), retryBaseMs: 0 };
  const hdeps: HarvestDeps = { db, cluster, config, log: silentLogger, now: deps.now, random: () => 0, retryBaseMs: 0 } as HarvestDeps;
  return { cluster, config, deps, hdeps, advance: (s: number) => (clock += s * 1000), at: () => new Date(clock) };
}

async function seed(db: Db, names: string[], dueAt = new Date(T0.getTime() - 1000)) {
  await addRepos(
    db,
    names.map((n) => ({ repo: repo(n) })),
  );
  await db('repos')
    .whereIn(
      'key',
      names.map((n) => repo(n).key),
    )
    .update({ next_due_at: dueAt, lease_owner: null, lease_expires_at: null });
}

const reset = resetScheduling;

const active = (c: FakeCluster) => [...c.jobs.values()].filter((j) => !jobState(j).finished).length;

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { wait: p, open };
}

describeEachDatabase('scheduler under faults', (ctx) => {
  test('1. one Job whose harvest keeps failing does not back the ticks off when they make progress', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, hdeps } = setup(ctx.db);
    await seed(ctx.db, ['p/first']);
    await runTick('2030-01-01T00:00Z', deps);
    const [job] = cluster.jobs.values();
    cluster.finish(config.namespace, job.metadata!.name!, { log: 'x' });
    await seed(ctx.db, ['p/two', 'p/three']);
    cluster.failures.listPods = Array(20).fill(500); // its pod can never be read
    deps.harvest = (j) => harvestJob(j, hdeps);
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(s.created, 2);
    assert.ok(
      s.errors.some((e) => /harvesting/.test(e)),
      "the Job's failure is reported",
    );
    assert.equal((await getSchedulerState(ctx.db)).backoffSeconds, 0, 'progress: no backoff');
    assert.equal(s.notBefore, undefined);
  });

  for (const variant of ['renewed', 'stalled'] as const) {
    test(`2. the cap holds when a tick runs past its lease (${variant === 'renewed' ? 'the lease is renewed' : 'its holder stalls: fenced out'})`, async () => {
      await reset(ctx.db);
      const { cluster, config, deps, advance } = setup(ctx.db, { maxConcurrentJobs: 5, claimBatch: 50 });
      await seed(ctx.db, ['q/zero']);
      await runTick('2030-01-01T00:00Z', deps);
      const [first] = cluster.jobs.values();
      cluster.finish(config.namespace, first.metadata!.name!, { log: 'x' });
      await seed(
        ctx.db,
        Array.from({ length: 10 }, (_, i) => `q/r${i}`),
      );
      const g = gate();
      let entered = false;
      // Tick A stalls in its reconcile (a long harvest) after counting 0 active Jobs.
      const a = runTick('2030-01-01T00:01Z', {
        ...deps,
        lockRenewMs: variant === 'renewed' ? 2 : 1e9,
        harvest: async () => {
          entered = true;
          await g.wait;
          return { status: 'stored' };
        },
      });
      while (!entered) await sleep(2);
      // 200 s pass for everyone, a renewing holder renewing as they pass: far past the lease
      // (15 s), within the tick's create time limit (240 s; past it, A would stop for that instead).
      for (let i = 0; i < 40; i++) {
        advance(5);
        if (variant === 'renewed') {
          // Wait for a renewal at the new time (it sets the lease's end 15 s past it).
          const want = Date.parse('2030-01-01T00:00:00Z') + (i + 1) * 5000 + 10_000;
          for (;;) {
            const row = await ctx.db('scheduler_state').where({ id: 1 }).first();
            if (row.tick_lock_until && new Date(row.tick_lock_until).getTime() > want) break;
            await sleep(2);
          }
        }
      }
      const b = await runTick('2030-01-01T00:06Z', { ...deps, harvest: undefined });
      g.open();
      const sa = await a;
      const why = `A ${JSON.stringify([sa.status, sa.created, sa.skipped])}, B ${JSON.stringify([b.status, b.created])}`;
      assert.ok(active(cluster) <= 5, `${active(cluster)} Jobs active, cap 5 (${why})`);
      if (variant === 'renewed') assert.equal(b.status, 'busy', 'the renewed lease keeps B out');
      else assert.equal(sa.created, 0, `A, whose lease ended, creates nothing from its stale count (${why})`);
      assert.equal(active(cluster), 5);
    });
  }

  test("3a. a crashed slot redelivered while its dead holder's lease lasts answers 503 (retried), then resumes", async () => {
    await reset(ctx.db);
    const { cluster, deps, advance, at } = setup(ctx.db);
    await seed(ctx.db, ['r/one', 'r/two']);
    const slot = '2030-01-01T00:00Z';
    await startTick(ctx.db, slot, at());
    await claimDueRepos(ctx.db, { owner: slot, limit: 2, leaseSeconds: 7200, now: at() });
    await ctx.db('scheduler_state').update({ tick_lock_owner: 'dead-holder', tick_lock_until: new Date(at().getTime() + 15_000) });
    const handle = createSchedulerHandle(async () => deps, deps.now);
    const ping = new CloudEvent({ type: 'dev.knative.sources.ping', source: '/test', time: T0.toISOString(), data: {} });
    const ctxOf = () => ({ log: silentLogger, method: 'POST', path: '/', headers: {}, query: {}, cloudevent: ping }) as any;
    const first = (await handle(ctxOf())) as any;
    assert.equal(first.statusCode, 503, 'busy for a slot that started before: retry');
    assert.equal(cluster.jobs.size, 0);
    advance(16);
    const second = (await handle(ctxOf())) as any;
    assert.equal(second.statusCode, 200);
    assert.equal(second.body.status, 'resumed');
    assert.equal(cluster.jobs.size, 2);
  });

  test('3b. claims of a tick that died and is never redelivered get their Jobs at the next tick, for the same window', async () => {
    await reset(ctx.db);
    const { cluster, deps, advance, at } = setup(ctx.db);
    await seed(ctx.db, ['s/one', 's/two']);
    await startTick(ctx.db, '2030-01-01T00:00Z', at());
    const claims = await claimDueRepos(ctx.db, { owner: '2030-01-01T00:00Z', limit: 2, leaseSeconds: 7200, now: at() });
    advance(60);
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(s.created, 2, JSON.stringify(s));
    assert.deepEqual([...cluster.jobs.values()].map((j) => j.metadata!.name).sort(), claims.map((c) => jobName(repo(c.canonical), c.claimedDueAt)).sort());
  });

  test('4. the budget is refunded for every claim that gets no Job: refusals, invalid names, still-running repos', async () => {
    await reset(ctx.db);
    const budget = { githubTokenCount: 1, githubCallsPerHour: 700, callsPerRun: 70 }; // 10 runs an hour
    const { cluster, deps, at } = setup(ctx.db, budget);
    await seed(ctx.db, ['t/one', 't/two', 't/three']);
    cluster.failures.createJob = [403];
    const refused = await runTick('2030-01-01T00:00Z', deps);
    assert.equal(refused.created, 0);
    assert.equal(await budgetUsed(ctx.db, at()), 0, 'a 403 tick spends nothing');
    await ctx.db('scheduler_state').update({ not_before: null });
    await ctx.db('repos').insert({ key: 'github.com/t/$(x)', canonical: 'github.com/t/$(x)', host: 'github.com', next_due_at: new Date(T0.getTime() - 1) });
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(s.created, 3);
    assert.equal(await budgetUsed(ctx.db, at()), 3, 'only started runs are spent (the invalid name is refunded)');
    // A repository whose previous Job still runs: claimed, skipped, refunded.
    const running = [...cluster.jobs.values()][0];
    const key = repo(running.metadata!.annotations![REPO_ANNOTATION]).key;
    await ctx
      .db('repos')
      .where({ key })
      .update({ next_due_at: new Date(T0.getTime() - 1), lease_owner: null, lease_expires_at: null });
    const again = await runTick('2030-01-01T00:02Z', { ...deps, config: { ...deps.config, maxConcurrentJobs: 10 } });
    assert.ok(
      again.skipped.some((x) => /still running/.test(x.why)),
      JSON.stringify(again),
    );
    assert.equal(await budgetUsed(ctx.db, at()), 3);
  });

  test('4b. budget taken with the claim in one transaction: a failed claim spends nothing', async () => {
    await reset(ctx.db);
    const { deps, at } = setup(ctx.db, { githubTokenCount: 1, githubCallsPerHour: 700, callsPerRun: 70 });
    await seed(ctx.db, ['u/one']);
    // The claim statement fails after the budget was taken (the column it writes is gone).
    await ctx.db.raw('ALTER TABLE repos RENAME COLUMN claimed_due_at TO claimed_due_at_x');
    try {
      const s = await runTick('2030-01-01T00:00Z', deps).catch((e) => ({ errors: [String(e)] }));
      assert.ok(s.errors.length > 0);
    } finally {
      await ctx.db.raw('ALTER TABLE repos RENAME COLUMN claimed_due_at_x TO claimed_due_at');
    }
    assert.equal(await budgetUsed(ctx.db, at()), 0);
    void takeBudget;
  });

  test('6a. a harvested Job whose delete failed is deleted by the next tick', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, hdeps } = setup(ctx.db);
    await seed(ctx.db, ['v/one']);
    await runTick('2030-01-01T00:00Z', deps);
    const [job] = cluster.jobs.values();
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: 'no result here', at: T0 });
    cluster.failures.deleteJob = [429];
    assert.equal((await harvestJob(done, hdeps)).status, 'stored');
    assert.equal(cluster.jobs.size, 1, 'the delete failed');
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(cluster.jobs.size, 0, JSON.stringify(s.reconciled));
  });

  test('6b. a Job whose harvest is rejected is closed once, not read again every tick', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, hdeps, advance } = setup(ctx.db);
    await seed(ctx.db, ['w/one']);
    await runTick('2030-01-01T00:00Z', deps);
    const [job] = cluster.jobs.values();
    // The repository's row was removed after the Job was created: the harvest is rejected.
    cluster.finish(config.namespace, job.metadata!.name!, { log: 'x' });
    job.metadata!.annotations![REPO_ANNOTATION] = 'github.com/w/renamed';
    await addRepos(ctx.db, []);
    deps.harvest = (j) => harvestJob(j, hdeps);
    const reads = () => cluster.calls.filter((c) => c === 'listPods').length;
    await runTick('2030-01-01T00:01Z', deps);
    const after1 = reads();
    for (let i = 2; i < 5; i++) {
      advance(120);
      await ctx.db('scheduler_state').update({ not_before: null });
      await runTick(`2030-01-01T00:0${i}Z`, deps);
    }
    assert.equal(reads(), after1, 'its pods and log are not read again');
    assert.equal((await runByJobName(ctx.db, job.metadata!.name!))?.outcome, 'failed');
    assert.equal((await getRepo(ctx.db, 'github.com/w/one'))?.consecutive_failures, 0, 'not held against the repository');
  });

  test('6c. the reconcile harvests a bounded number of Jobs per tick', async () => {
    await reset(ctx.db);
    const { cluster, config, deps } = setup(ctx.db, { maxConcurrentJobs: 40, claimBatch: 40 });
    await seed(
      ctx.db,
      Array.from({ length: 30 }, (_, i) => `x/r${i}`),
    );
    await runTick('2030-01-01T00:00Z', deps);
    for (const j of cluster.jobs.values()) cluster.finish(config.namespace, j.metadata!.name!, { log: 'x' });
    let n = 0;
    deps.harvest = async () => {
      n++;
      return { status: 'stored' };
    };
    await runTick('2030-01-01T00:01Z', deps);
    assert.ok(n <= 25, `${n} harvests in one tick`);
  });

  test('7. a create whose answer is lost (504 after the API server created it) is settled by name, not deleted', async () => {
    await reset(ctx.db);
    const { cluster, deps, advance } = setup(ctx.db);
    await seed(ctx.db, ['y/one']);
    const real = cluster.createJob.bind(cluster);
    const lossy = withCalls(cluster, {
      createJob: async (ns: string, job: V1Job) => {
        await real(ns, job);
        throw new KubeError(504, 'HTTP 504: gateway timeout');
      },
    });
    const s = await runTick('2030-01-01T00:00Z', { ...deps, cluster: lossy, config: { ...deps.config, kubeRetries: 0 } });
    assert.equal(cluster.jobs.size, 1);
    const [job] = cluster.jobs.values();
    assert.equal((await runByJobName(ctx.db, job.metadata!.name!))?.job_uid, job.metadata!.uid, JSON.stringify(s));
    advance(120);
    await ctx.db('scheduler_state').update({ not_before: null });
    await runTick('2030-01-01T00:02Z', deps);
    assert.equal(cluster.jobs.size, 1, 'the next tick does not delete it as foreign');
    assert.equal((await getRepo(ctx.db, 'github.com/y/one'))?.lease_owner, '2030-01-01T00:00Z', 'still leased to its run');
  });

  test('8. infrastructure failures: not held against the repository, retried after the base delay; most runs failing so opens the breaker', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, hdeps, at } = setup(ctx.db, { failureBackoffBaseSeconds: 300, maxConcurrentJobs: 20, claimBatch: 20 });
    await seed(ctx.db, ['z/one']);
    await runTick('2030-01-01T00:00Z', deps);
    const [job] = cluster.jobs.values();
    const log =
      'Error: scorecard.Run: repo unreachable: Get "https://api.github.com/repos/z/one": dial tcp: lookup api.github.com on 10.96.0.10:53: no such host\n';
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log, exitCode: 1, at: at() });
    const r = await harvestJob(done, hdeps);
    assert.equal(r.status === 'stored' && r.repos[0].failure, 'infrastructure');
    const row = (await getRepo(ctx.db, 'github.com/z/one'))!;
    assert.equal(row.consecutive_failures, 0);
    assert.equal(row.last_error, null);
    assert.equal(row.next_due_at.toISOString(), new Date(at().getTime() + 300_000).toISOString());
    // Twelve recent runs, eleven of them infrastructure failures: the breaker opens.
    const id = row.id;
    await ctx.db('runs').insert(
      Array.from({ length: 12 }, (_, i) => ({
        repo_id: id,
        job_name: `old-${i}`,
        job_uid: `u-${i}`,
        outcome: 'failed',
        failure_class: i === 0 ? 'pod-failed' : 'infrastructure',
        finished_at: at(),
        created_at: at(),
      })),
    );
    await seed(
      ctx.db,
      Array.from({ length: 10 }, (_, i) => `z/r${i}`),
    );
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.ok(s.breaker.open);
    assert.equal(s.created, 1, 'only a probe');
    // The breaker's settings are the operator's: three probes a tick, or (share 1) never open.
    const three = await runTick('2030-01-01T00:02Z', { ...deps, config: { ...config, breakerProbeRuns: 3 } });
    assert.ok(three.breaker.open);
    assert.equal(three.created, 3, 'three probes');
    const off = await runTick('2030-01-01T00:03Z', { ...deps, config: { ...config, breakerShare: 1 } });
    assert.equal(off.breaker.open, false);
    assert.ok(off.created > 1, `created ${off.created}`);
  });
});

describeEachDatabase('tick lock', (ctx) => {
  test("2c. a holder that lost its lease is fenced: renewing fails, and it cannot release the new holder's lock", async () => {
    const { acquireTickLock, renewTickLock, releaseTickLock } = await import('../db/index.ts');
    await ctx.db('scheduler_state').update({ tick_lock_owner: null, tick_lock_until: null });
    assert.ok(await acquireTickLock(ctx.db, 'slot/a', 30, T0));
    assert.ok(!(await acquireTickLock(ctx.db, 'slot/b', 30, new Date(T0.getTime() + 29_000))), 'held');
    assert.ok(await renewTickLock(ctx.db, 'slot/a', 30, new Date(T0.getTime() + 20_000)), 'renewed while held');
    assert.ok(await acquireTickLock(ctx.db, 'slot/b', 30, new Date(T0.getTime() + 51_000)), 'taken after the lease ended');
    assert.ok(!(await renewTickLock(ctx.db, 'slot/a', 30, new Date(T0.getTime() + 52_000))), 'the old holder is fenced out');
    await releaseTickLock(ctx.db, 'slot/a');
    assert.ok(!(await acquireTickLock(ctx.db, 'slot/c', 30, new Date(T0.getTime() + 53_000))), 'the old holder did not release it');
  });
});
