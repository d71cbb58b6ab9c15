import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, type Db, runByJobName } from '../db/index.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { readClusterView, SWEEP_PAGE } from './cluster-view.ts';
import { runTick, type TickDeps } from './tick.ts';

const T0 = new Date('2030-01-01T00:00:00Z');

async function reset(db: Db) {
  await resetScheduling(db);
  await db('maintenance').update({ job_sweep_continue: null, prune_after_id: 0 });
}

describeEachDatabase('tick cost with many Jobs held', (ctx) => {
  function setup(overrides: Partial<Config> = {}) {
    const cluster = new FakeCluster();
    let clock = T0.getTime();
    const config = defaultConfig({ maxConcurrentJobs: 50, githubTokenCount: 0, jitterSeconds: 0, shardSize: 1, ...overrides });
    const deps: TickDeps = { db: ctx.db, cluster, config, log: silentLogger, now: () => new Date(clock), retryBaseMs: 0 };
    return { cluster, config, deps, advance: (s: number) => (clock += s * 1000) };
  }

  /** `held` harvested Jobs kept in the cluster (POSTURE_KEEP_JOBS), and `pending` running ones. */
  async function hold(cluster: FakeCluster, config: Config, held: number, pending: number) {
    const names = Array.from({ length: held + pending }, (_, i) => `h/r${i}`);
    await addRepos(
      ctx.db,
      names.map((n) => ({ repo: (parseRepo(n) as { ok: true; repo: any }).repo })),
    );
    await ctx.db('repos').update({ next_due_at: new Date(T0.getTime() - 1000) });
    const deps = {
      db: ctx.db,
      cluster,
      config: { ...config, maxConcurrentJobs: held + pending, claimBatch: held + pending },
      log: silentLogger,
      now: () => T0,
      retryBaseMs: 0,
    };
    const s = await runTick('2029-12-31T23:59Z', deps);
    assert.equal(s.created, held + pending);
    // The first `held` are harvested (their runs no longer pending); their Jobs stay.
    const jobs = [...cluster.jobs.values()].slice(0, held).map((j) => j.metadata!.name!);
    await ctx.db('runs').whereIn('job_name', jobs).update({ outcome: 'succeeded', finished_at: T0 });
    await ctx.db('repos').update({ next_due_at: new Date(T0.getTime() + 86400000), lease_owner: null, lease_expires_at: null });
  }

  test('a tick reads the Jobs of pending runs only, not every Job the cluster holds', async () => {
    await reset(ctx.db);
    // Held on purpose (POSTURE_KEEP_JOBS): without it the sweep deletes harvested Jobs it meets.
    const { cluster, config, deps, advance } = setup({ keepJobs: true });
    await hold(cluster, config, 2000, 5);
    cluster.calls = [];
    cluster.jobsListed = 0;
    advance(60);
    const s = await runTick('2030-01-01T00:01Z', deps);
    assert.equal(s.active, 5);
    assert.equal(s.reconciled.removed, 0);
    assert.equal(cluster.jobsListed, 5, `whole Jobs read: ${cluster.jobsListed} (2005 are in the cluster)`);
    assert.deepEqual(cluster.calls.sort(), ['listJobMetadataPage', 'listJobs'], 'one targeted list and one sweep page');
  });

  test('the sweep finds a Job the database never recorded within ceil(Jobs / page) ticks; an expired cursor starts over', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, advance } = setup({ keepJobs: true });
    await hold(cluster, config, 1200, 0);
    // Sorted last by name: the sweep reaches it on its last page.
    await cluster.createJob(config.namespace, {
      metadata: { name: 'zz-forged', labels: { 'app.kubernetes.io/managed-by': 'posture' } },
      spec: { template: {} },
    });
    const removed: number[] = [];
    for (let i = 1; i <= Math.ceil(1201 / SWEEP_PAGE); i++) {
      advance(1000); // past any idle backoff
      removed.push((await runTick(`2030-01-01T00:0${i}Z`, deps)).reconciled.removed);
    }
    const pages = Math.ceil(1201 / SWEEP_PAGE);
    assert.deepEqual(removed, [...Array(pages - 1).fill(0), 1]);
    assert.ok(!cluster.jobs.has(`${config.namespace}/zz-forged`));

    assert.equal(cluster.jobs.size, 1200, 'recorded Jobs are never removed');
    // A cursor the API server no longer knows (410): the next page is the first one again.
    await ctx.db('maintenance').update({ job_sweep_continue: 'expired:x' });
    const view = await readClusterView(deps);
    assert.deepEqual(view.unrecorded, []);
    const row = await ctx.db('maintenance').first();
    assert.equal(row.job_sweep_continue, [...cluster.jobs.values()].map((j) => j.metadata!.name!).sort()[SWEEP_PAGE - 1]);
  });

  test('a finished Job of a pending run is harvested, a vanished one closed, among many held', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, advance } = setup({ leaseSeconds: 600 });
    await hold(cluster, config, 300, 2);
    const [a, b] = [...cluster.jobs.values()].slice(300).map((j) => j.metadata!.name!);
    cluster.finish(config.namespace, a, { log: '' });
    cluster.jobs.delete(`${config.namespace}/${b}`);
    const harvested: string[] = [];
    deps.harvest = async (j) => {
      harvested.push(j.metadata!.name!);
      return { status: 'stored' };
    };
    advance(601);
    const s = await runTick('2030-01-01T00:11Z', deps);
    assert.deepEqual(harvested, [a]);
    assert.equal(s.reconciled.lost, 1);
    assert.equal((await runByJobName(ctx.db, b))?.failure_class, 'job-missing');
  });

  test('without POSTURE_KEEP_JOBS the sweep deletes harvested Jobs left behind (the harvester failed to delete them), a page per tick', async () => {
    await reset(ctx.db);
    const { cluster, config, deps, advance } = setup();
    await hold(cluster, config, 300, 2);
    advance(1000);
    const s = await runTick('2030-01-01T00:01Z', deps);
    // One page of names, less the running Jobs it holds.
    assert.ok(s.reconciled.deleted >= SWEEP_PAGE - 2 && s.reconciled.deleted <= SWEEP_PAGE, `deleted ${s.reconciled.deleted}`);
    assert.equal(s.reconciled.removed, 0, 'recorded Jobs are not treated as foreign');
    assert.equal(s.active, 2);
    advance(1000);
    await runTick('2030-01-01T00:02Z', deps);
    assert.equal(cluster.jobs.size, 2, 'only the running Jobs are left');
  });
});
