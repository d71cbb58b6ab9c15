// The tick's two time limits, reached through its one clock: the creates stop once the tick is
// past CREATE_TIME_LIMIT_MS, the reconcile's harvests once it is past RECONCILE_TIME_LIMIT_MS.
// The test clock moves inside a create or a harvest, as a slow API server would make it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, budgetUsed, type Db } from '../db/index.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { type HarvestDeps, harvestJob } from '../harvest/harvest.ts';
import { jobName } from '../jobs/spec.ts';
import { FakeCluster, withCalls } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { CREATE_TIME_LIMIT_MS } from './create.ts';
import { LOCK_SECONDS } from './lease.ts';
import { RECONCILE_TIME_LIMIT_MS } from './reconcile.ts';
import { runTick, type TickDeps } from './tick.ts';

const T0 = new Date('2030-01-01T00:00:00Z');
const DUE = new Date(T0.getTime() - 1000);
const repo = (n: string) => (parseRepo(n) as { ok: true; repo: RepoId }).repo;

function setup(db: Db, overrides: Partial<Config> = {}) {
  const cluster = new FakeCluster();
  let clock = T0.getTime();
  const config = defaultConfig({
    maxConcurrentJobs: 10,
    claimBatch: 10,
    idleBackoffBaseSeconds: 60,
    githubTokenCount: 0,
    kubeRetries: 0,
    jitterSeconds: 0,
    shardSize: 1,
    ...overrides,
  });
  const deps: TickDeps = { db, cluster, config, log: silentLogger, now: () => new Date(clock), retryBaseMs: 0 };
  return { cluster, config, deps, advanceMs: (ms: number) => (clock += ms), at: () => new Date(clock) };
}

async function seed(db: Db, names: string[]) {
  await addRepos(
    db,
    names.map((n) => ({ repo: repo(n) })),
  );
  await db('repos').update({ next_due_at: DUE, lease_owner: null, lease_expires_at: null });
}

/** Waits for the tick's lease to be renewed at `now` (it then ends LOCK_SECONDS later). */
async function leaseRenewedAt(db: Db, now: Date) {
  for (const giveUp = performance.now() + 10_000; performance.now() < giveUp; ) {
    const row = await db('scheduler_state').where({ id: 1 }).first();
    if (row.tick_lock_until && new Date(row.tick_lock_until).getTime() >= now.getTime() + LOCK_SECONDS * 1000) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`the tick's lease was not renewed at ${now.toISOString()}`);
}

const reset = resetScheduling;

describeEachDatabase('tick time limits', (ctx) => {
  test('the creates stop past the create time limit; the claims not created go back for the same window, refunded, and the next tick creates them', async () => {
    await reset(ctx.db);
    // Ten runs an hour: the budget shows which claims were refunded.
    const { cluster, deps, advanceMs, at } = setup(ctx.db, { githubTokenCount: 1, githubCallsPerHour: 700, callsPerRun: 70 });
    const names = ['github.com/k/r0', 'github.com/k/r1', 'github.com/k/r2', 'github.com/k/r3', 'github.com/k/r4'];
    await seed(ctx.db, names);
    // The first create goes alone and takes the tick just past its limit; the limit is checked
    // before each batch, so the next batch is never sent. The lease is renewed while the create
    // runs (as its timer does), so the time limit alone stops the creates.
    let first = true;
    const slow = withCalls(cluster, {
      createJob: async (ns: string, job: V1Job) => {
        if (first) {
          first = false;
          for (let left = CREATE_TIME_LIMIT_MS + 1; left > 0; left -= 5_000) {
            advanceMs(Math.min(left, 5_000));
            await leaseRenewedAt(ctx.db, at());
          }
        }
        return cluster.createJob(ns, job);
      },
    });
    const s = await runTick('2030-01-01T00:00Z', { ...deps, cluster: slow, lockRenewMs: 2 });
    assert.equal(s.claimed, 5);
    assert.equal(s.created, 1, JSON.stringify(s));
    assert.equal(cluster.jobs.size, 1);
    assert.ok(
      s.skipped.some((x) => x.why === 'the tick ran out of time'),
      JSON.stringify(s.skipped),
    );
    assert.deepEqual(s.errors, []);

    // Not lost: each claim without a Job is released, due again for the window it was claimed
    // for, with no pending run left behind and nothing written against the repository.
    const [created] = cluster.jobs.values();
    const rows = await ctx.db('repos').select('key', 'lease_owner', 'next_due_at', 'last_error', 'consecutive_failures');
    const runs = await ctx.db('runs').select('job_name', 'outcome');
    assert.deepEqual(
      runs.map((r) => [r.job_name, r.outcome]),
      [[created.metadata!.name, 'pending']],
      'only the created Job has a run',
    );
    const notCreated = rows.filter((r) => jobName(repo(r.key), DUE) !== created.metadata!.name);
    assert.equal(notCreated.length, 4);
    for (const r of notCreated) {
      assert.equal(r.lease_owner, null, r.key);
      assert.equal(new Date(r.next_due_at).getTime(), DUE.getTime(), `${r.key}: due for the same window`);
      assert.equal(r.last_error, null, r.key);
      assert.equal(r.consecutive_failures, 0, r.key);
    }
    assert.equal(await budgetUsed(ctx.db, at()), 1, 'the budget of the four claims without a Job is refunded');

    // The next tick claims them again and creates their Jobs, named for the same window.
    const next = await runTick('2030-01-01T00:05Z', deps);
    assert.equal(next.created, 4, JSON.stringify(next));
    assert.deepEqual([...cluster.jobs.values()].map((j) => j.metadata!.name).sort(), names.map((n) => jobName(repo(n), DUE)).sort());
    assert.equal(await budgetUsed(ctx.db, at()), 5);
  });

  test('the reconcile stops harvesting past its time limit; the finished Jobs it did not harvest stay pending and the next tick harvests them', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, advanceMs } = setup(ctx.db);
    await seed(ctx.db, ['github.com/m/r0', 'github.com/m/r1', 'github.com/m/r2', 'github.com/m/r3', 'github.com/m/r4']);
    assert.equal((await runTick('2030-01-01T00:00Z', deps)).created, 5);
    for (const j of cluster.jobs.values()) cluster.finish(config.namespace, j.metadata!.name!, { log: 'no result here', at: T0 });

    // Each harvest takes 25 s of the reconcile's 60: harvests start at 0, 25 and 50 s; at 75 s it stops.
    const hdeps: HarvestDeps = { db: ctx.db, cluster, config, log: silentLogger, random: () => 0, retryBaseMs: 0 };
    const harvested: string[] = [];
    const slowHarvest = async (job: V1Job) => {
      harvested.push(job.metadata!.name!);
      advanceMs(25_000);
      return harvestJob(job, hdeps);
    };
    assert.ok(3 * 25_000 > RECONCILE_TIME_LIMIT_MS && 2 * 25_000 <= RECONCILE_TIME_LIMIT_MS, 'the fourth harvest would start past the limit');
    const first = await runTick('2030-01-01T00:01Z', { ...deps, harvest: slowHarvest });
    assert.equal(first.reconciled.harvested, 3, JSON.stringify(first.reconciled));
    assert.equal(harvested.length, 3);
    const pending = await ctx.db('runs').where({ outcome: 'pending' }).pluck('job_name');
    assert.equal(pending.length, 2, 'the Jobs not harvested wait, still pending');
    assert.ok(pending.every((n: string) => !harvested.includes(n)));

    const second = await runTick('2030-01-01T00:03Z', { ...deps, harvest: slowHarvest });
    assert.equal(second.reconciled.harvested, 2, JSON.stringify(second.reconciled));
    assert.deepEqual([...harvested].sort(), [...new Set(harvested)].sort(), 'no Job harvested twice');
    assert.equal(harvested.length, 5);
    assert.equal(Number((await ctx.db('runs').where({ outcome: 'pending' }).count('* as n').first())?.n), 0, 'every run harvested');
  });
});
