// One clock and no races (issue 34): each test reproduces one finding of the adversarial review
// and states the behaviour that replaced it. Replicas whose own clocks are wrong run as child
// processes under libfaketime (Debian's faketime), against the real PostgreSQL.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, claimDueRepos, type Db, databaseNow, getRepo, type HarvestInput, recordRun, runByJobName, storeHarvest } from '../db/index.ts';
import { removeRepos } from '../db/repo-admin.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { harvestJob } from '../harvest/harvest.ts';
import { scheduled, T0 } from '../harvest/testing.ts';
import { jobState } from '../jobs/status.ts';
import { FakeCluster, withCalls } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { registry } from '../metrics/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { databaseClock } from './clock.ts';
import { takeTickLease } from './lease.ts';
import { runTick, type TickDeps } from './tick.ts';

const run = promisify(execFile);
const repo = (n: string) => (parseRepo(n) as { ok: true; repo: RepoId }).repo;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const NODE = process.execPath;
const REPLICA = new URL('../../test/clock/replica.ts', import.meta.url).pathname;

function setup(db: Db, overrides: Partial<Config> = {}) {
  const cluster = new FakeCluster();
  let clock = T0.getTime();
  const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0, kubeRetries: 0, shardSize: 1, ...overrides });
  const deps: TickDeps = { db, cluster, config, log: silentLogger, now: () => new Date(clock), retryBaseMs: 0 };
  return { cluster, config, deps, advance: (s: number) => (clock += s * 1000) };
}

async function seed(db: Db, names: string[], o: { dueAt?: Date; priority?: number } = {}) {
  await addRepos(
    db,
    names.map((n) => ({ repo: repo(n), priority: o.priority })),
  );
  await db('repos')
    .whereIn(
      'key',
      names.map((n) => repo(n).key),
    )
    .update({ next_due_at: o.dueAt ?? new Date(T0.getTime() - 1000), lease_owner: null, lease_expires_at: null });
}

const activeJobs = (c: FakeCluster) => [...c.jobs.values()].filter((j) => !jobState(j).finished);

/** Jobs on the cluster that the database has no run for (the sweep would delete them mid-run). */
async function jobsWithoutRun(db: Db, c: FakeCluster): Promise<string[]> {
  const out: string[] = [];
  for (const j of c.jobs.values()) if (!(await runByJobName(db, j.metadata!.name!))) out.push(j.metadata!.name!);
  return out;
}

/** Renewals of the lease by a token starting with `prefix` fail (or stall `sleepSeconds`) while armed. */
async function armRenewalFault(db: Db, prefix: string, o: { sleepSeconds?: number } = {}) {
  await db.raw(`CREATE TABLE IF NOT EXISTS test_faults (name text PRIMARY KEY, arg text)`);
  await db.raw(
    `CREATE OR REPLACE FUNCTION test_renewal_fault() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE f test_faults;
     BEGIN
       SELECT * INTO f FROM test_faults WHERE name IN ('renewal-fails', 'renewal-stalls') AND OLD.tick_lock_owner LIKE arg || '%';
       IF FOUND AND NEW.tick_lock_owner IS NOT DISTINCT FROM OLD.tick_lock_owner AND NEW.tick_lock_until IS DISTINCT FROM OLD.tick_lock_until THEN
         IF f.name = 'renewal-fails' THEN RAISE EXCEPTION 'injected: the renewal fails'; END IF;
         PERFORM pg_sleep(${o.sleepSeconds ?? 0});
       END IF;
       RETURN NEW;
     END $$`,
  );
  await db.raw('DROP TRIGGER IF EXISTS test_renewal_fault ON scheduler_state');
  await db.raw('CREATE TRIGGER test_renewal_fault BEFORE UPDATE ON scheduler_state FOR EACH ROW EXECUTE FUNCTION test_renewal_fault()');
  return {
    fail: () => db.raw(`INSERT INTO test_faults VALUES ('renewal-fails', ?) ON CONFLICT (name) DO UPDATE SET arg = EXCLUDED.arg`, [prefix]),
    stall: () => db.raw(`INSERT INTO test_faults VALUES ('renewal-stalls', ?) ON CONFLICT (name) DO UPDATE SET arg = EXCLUDED.arg`, [prefix]),
    disarm: async () => {
      await db.raw('DROP TRIGGER IF EXISTS test_renewal_fault ON scheduler_state');
      await db.raw('DROP TABLE IF EXISTS test_faults');
    },
  };
}

/** Runs the scheduler replica in a child process whose own clock is `offset` (libfaketime) off. */
async function skewedReplica(url: string, offset: string, overrides: Partial<Config>) {
  const { stdout } = await run(NODE, [REPLICA, url, JSON.stringify(overrides)], {
    env: { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    ownClock: string;
    jobs: number;
    body: { status: string; created: number; skipped: Array<{ why: string }> };
  };
}

describeEachDatabase('one clock and no races', (ctx) => {
  test("1a. a replica whose own clock is 40 s ahead cannot take a live lease: the lease is on the database's clock", async (t) => {
    if (!ctx.url) return t.skip('a replica in another process needs a database server (PGlite lives in one process)');
    assert.ok(existsSync(LIBFAKETIME), 'libfaketime is installed (Debian package faketime)');
    await resetScheduling(ctx.db);
    await seed(ctx.db, ['skew/a', 'skew/b'], { dueAt: new Date(Date.now() - 3600_000) });
    // A holder, live by the database's clock: its lease ends 15 s from the database's now.
    await ctx.db.raw(`UPDATE scheduler_state SET tick_lock_owner = 'holder/1', tick_lock_until = clock_timestamp() + interval '15 seconds' WHERE id = 1`);
    const r = await skewedReplica(ctx.url, '+40s', { maxConcurrentJobs: 5 });
    assert.ok(Date.parse(r.ownClock) - Date.now() > 30_000, `the replica's own clock is ahead (${r.ownClock})`);
    assert.equal(r.body.status, 'busy', `the live lease keeps it out (${JSON.stringify(r.body)})`);
    assert.equal(r.jobs, 0);
  });

  test('1b. a holder whose renewals fail stops creating; the next holder counts its creates in flight: never above the cap, no Job without a run', async () => {
    await resetScheduling(ctx.db);
    const { cluster, deps, advance } = setup(ctx.db, { maxConcurrentJobs: 3, claimBatch: 3 });
    await seed(ctx.db, ['fence/a1', 'fence/a2', 'fence/a3']);
    const fault = await armRenewalFault(ctx.db, '2030-01-01T00:00Z/');
    try {
      let entered = false;
      let land!: () => void;
      const landed = new Promise<void>((r) => (land = r));
      const aCluster = withCalls(cluster, {
        createJob: async (ns: string, job: V1Job) => {
          if (!entered) {
            entered = true;
            // From here A's renewals fail; its first create is still on its way to the API server.
            await fault.fail();
            await landed;
          }
          return cluster.createJob(ns, job);
        },
      });
      const a = runTick('2030-01-01T00:00Z', { ...deps, cluster: aCluster, lockRenewMs: 5 });
      while (!entered) await sleep(2);
      await sleep(50); // A's renewal timer meets the failure
      advance(40); // past A's lease (15 s) and the old in-flight age (30 s)
      // Higher-priority repositories come due: a new holder would fill the cap with them.
      await seed(ctx.db, ['fence/b1', 'fence/b2', 'fence/b3'], { priority: 10, dueAt: new Date(T0.getTime() + 30_000) });
      const b = await runTick('2030-01-01T00:01Z', deps);
      land();
      const sa = await a;
      const why = `A ${JSON.stringify([sa.created, sa.skipped])}, B ${JSON.stringify([b.status, b.created, b.reconciled])}`;
      assert.ok(activeJobs(cluster).length <= 3, `${activeJobs(cluster).length} Jobs active, cap 3 (${why})`);
      assert.deepEqual(await jobsWithoutRun(ctx.db, cluster), [], `every Job has its run (${why})`);
      assert.ok(
        sa.skipped.some((x) => /lost the tick lock/.test(x.why)),
        `A says it lost the lease (${why})`,
      );
      assert.equal(b.reconciled.inFlight, 1, `B counts A's create in flight (${why})`);
    } finally {
      await fault.disarm();
    }
  });

  test('1c. a renewal that does not answer in time counts as lost: nothing more is written under it', async () => {
    await resetScheduling(ctx.db);
    const fault = await armRenewalFault(ctx.db, 'slow/', { sleepSeconds: 1 });
    try {
      let at = T0.getTime();
      const now = () => {
        at += 100;
        return new Date(at);
      };
      const lease = await takeTickLease({ db: ctx.db, config: { leaseSeconds: 7200 }, now, lockRenewMs: 1e9, renewTimeoutMs: 200 }, 'slow/1');
      assert.ok(lease);
      assert.ok(await lease.fence(), 'held while renewals answer');
      await fault.stall();
      const wrote = await lease.fenced(async (tx) => tx.raw(`UPDATE scheduler_state SET backoff_seconds = 999 WHERE id = 1`));
      assert.equal(wrote.held, false, 'the slow renewal loses the lease');
      assert.equal(await lease.fence(), false, 'and it stays lost');
      await sleep(1200);
      const row = await ctx.db('scheduler_state').where({ id: 1 }).first();
      assert.notEqual(row.backoff_seconds, 999, 'the write it guarded was not made');
      await lease.release();
    } finally {
      await fault.disarm();
    }
  });

  test('1d. the fence is in the same transaction as the write it guards: no other tick takes the lease meanwhile', async () => {
    await resetScheduling(ctx.db);
    let at = T0.getTime();
    const now = () => new Date(at);
    const a = await takeTickLease({ db: ctx.db, config: { leaseSeconds: 7200 }, now, lockRenewMs: 1e9 }, 'A/1');
    assert.ok(a);
    let bTook: boolean | undefined;
    let bLease: ReturnType<typeof takeTickLease> | undefined;
    const wrote = await a.fenced(async (tx) => {
      // Meanwhile A's lease ends by the clock, and another tick tries to take it.
      at += 60_000;
      bLease = takeTickLease({ db: ctx.db, config: { leaseSeconds: 7200 }, now, lockRenewMs: 1e9 }, 'B/1').then((l) => {
        bTook = l !== undefined;
        return l;
      });
      await sleep(150);
      assert.equal(bTook, undefined, "B waits for A's fenced write to commit");
      await tx.raw(`UPDATE scheduler_state SET backoff_seconds = 7 WHERE id = 1`);
      return true;
    });
    assert.equal(wrote.held, true, 'the write was made under the lease');
    const b = await bLease!;
    assert.ok(b, 'then B takes the ended lease');
    assert.equal((await ctx.db('scheduler_state').where({ id: 1 }).first()).backoff_seconds, 7);
    assert.equal((await a.fenced(async () => true)).held, false, 'and A, fenced out, writes nothing more');
    await b.release();
    await a.release();
  });

  test("3a. the budget's hour is the database's: a replica whose clock is already in the next hour gets nothing more", async (t) => {
    if (!ctx.url) return t.skip('a replica in another process needs a database server (PGlite lives in one process)');
    await resetScheduling(ctx.db);
    let dbNow = await databaseNow(ctx.db);
    const toNextHour = 3_600_000 - (dbNow.getTime() % 3_600_000);
    if (toNextHour < 20_000) {
      await sleep(toNextHour + 1000);
      dbNow = await databaseNow(ctx.db);
    }
    await seed(ctx.db, ['hour/a', 'hour/b', 'hour/c', 'hour/d'], { dueAt: new Date(dbNow.getTime() - 3600_000) });
    // 2 runs an hour; this hour's are spent.
    const budget = { githubTokenCount: 1, githubCallsPerHour: 5000, callsPerRun: 2500, maxConcurrentJobs: 10 };
    await ctx.db('budget').insert({ hour: new Date(dbNow.getTime() - (dbNow.getTime() % 3_600_000)), runs_started: 2 });
    const ahead = Math.ceil((3_600_000 - (dbNow.getTime() % 3_600_000)) / 1000) + 5;
    const r = await skewedReplica(ctx.url, `+${ahead}s`, budget);
    assert.equal(r.jobs, 0, `no Job from the next hour's budget (${JSON.stringify(r.body)})`);
    assert.ok(
      r.body.skipped.some((x) => /budget/.test(x.why)),
      JSON.stringify(r.body),
    );
  });

  test("3b. a Job whose times are a day ahead: the run's finish and the repository's due time are the database's clock", async () => {
    await resetScheduling(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, 'ahead/infra');
    const dayAhead = new Date(Date.now() + 86_400_000);
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: '', exitCode: 1, reason: 'BackoffLimitExceeded', at: dayAhead });
    const before = await databaseNow(ctx.db);
    // The harvester function's deps: no clock of its own.
    const r = await harvestJob(done, { ...deps, now: undefined });
    const after = await databaseNow(ctx.db);
    assert.equal(r.status, 'stored');
    const runRow = await runByJobName(ctx.db, job.metadata!.name!);
    const finished = new Date(runRow!.finished_at!).getTime();
    assert.ok(finished >= before.getTime() - 1000 && finished <= after.getTime() + 1000, `finished_at ${runRow!.finished_at} is the database's now`);
    const repoRow = await getRepo(ctx.db, 'github.com/ahead/infra');
    assert.ok(repoRow!.next_due_at.getTime() < dayAhead.getTime(), `due ${repoRow!.next_due_at.toISOString()}, not a day out`);
  });

  test('4. a repository removed and added again while its Job ran: the late result is dropped (logged, counted), never attached to the new one', async () => {
    await resetScheduling(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, 'readd/me');
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: 'x', exitCode: 1 });
    const metric = async () => Number(/^posture_harvest_dropped_total (\d+)/m.exec(await registry.metrics())?.[1] ?? 0);
    const dropped0 = await metric();
    const hooked = withCalls(cluster, {
      listPods: async (ns: string, sel: string) => {
        // After the harvester read the run, before it stores: `posture repos remove`, then `add`.
        await removeRepos(ctx.db, ['github.com/readd/me']);
        await addRepos(ctx.db, [{ repo: repo('readd/me') }]);
        return cluster.listPods(ns, sel);
      },
    });
    const r = await harvestJob(done, { ...deps, cluster: hooked });
    assert.equal(r.status, 'dropped', JSON.stringify(r));
    const fresh = await getRepo(ctx.db, 'github.com/readd/me');
    assert.equal(Number((await ctx.db('runs').where({ repo_id: fresh!.id }).count('* as n').first())!.n), 0, 'no run on the new repository');
    assert.equal(fresh!.consecutive_failures, 0);
    assert.equal(await metric(), dropped0 + 1);
  });

  test('5. one repository removed between claim and record is skipped on its own: the rest of the batch is created', async () => {
    await resetScheduling(ctx.db);
    const { cluster, deps } = setup(ctx.db, { maxConcurrentJobs: 10, claimBatch: 10 });
    const names = Array.from({ length: 9 }, (_, i) => `batch/r${i}`);
    await seed(ctx.db, [...names, 'batch/victim']);
    // The victim's row is deleted as soon as it is claimed (as `posture repos remove` would, right then).
    await ctx.db.raw(
      `CREATE OR REPLACE FUNCTION test_remove_on_claim() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.lease_owner IS NOT NULL AND NEW.key = 'github.com/batch/victim' THEN DELETE FROM repos WHERE id = NEW.id; END IF;
         RETURN NULL;
       END $$`,
    );
    await ctx.db.raw('CREATE TRIGGER test_remove_on_claim AFTER UPDATE OF lease_owner ON repos FOR EACH ROW EXECUTE FUNCTION test_remove_on_claim()');
    try {
      const s = await runTick('2030-01-01T00:00Z', deps);
      assert.equal(s.claimed, 10, JSON.stringify(s));
      assert.equal(s.created, 9, JSON.stringify(s));
      assert.deepEqual(s.errors, []);
      assert.ok(s.skipped.some((x) => x.repo === 'github.com/batch/victim' && /removed/.test(x.why)));
      assert.equal(s.notBefore, undefined, 'progress: no backoff');
      assert.equal(cluster.jobs.size, 9);
      assert.deepEqual(await jobsWithoutRun(ctx.db, cluster), []);
    } finally {
      await ctx.db.raw('DROP TRIGGER IF EXISTS test_remove_on_claim ON repos');
    }
  });

  test("6. two harvests of one repository at once chain: the second's predecessor is the first, never a blank", async () => {
    await resetScheduling(ctx.db);
    await addRepos(ctx.db, [{ repo: repo('chain/one') }]);
    const r = (await getRepo(ctx.db, 'github.com/chain/one'))!;
    const doc = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
    const input = (job: string, score: number, minute: number): HarvestInput => ({
      repoKey: r.key,
      jobName: job,
      jobUid: `uid-${job}`,
      finishedAt: new Date(T0.getTime() + minute * 60_000),
      checkSet: null,
      schedule: { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 },
      outcome: {
        ok: true,
        flagged: false,
        result: {
          repo: r.key,
          commit: `c${score}`,
          date: new Date(T0.getTime() + minute * 60_000).toISOString(),
          scorecardVersion: 'v5.5.0',
          scorecardCommit: 'x',
          score,
          checks: doc.checks.slice(0, 1),
          raw: {} as never,
        },
      },
    });
    for (const [job, i] of [
      ['chain-0', 0],
      ['chain-1', 1],
      ['chain-2', 2],
    ] as const) {
      await recordRun(ctx.db, { repoId: r.id, jobName: job, tickSlot: `s${i}` });
    }
    assert.equal((await storeHarvest(ctx.db, input('chain-0', 5, 0))).status, 'stored');
    // Both harvests wait for the repository's lock while another transaction holds it.
    const trx = await ctx.db.transaction();
    await trx.raw('SELECT 1 FROM repos WHERE id = ? FOR UPDATE', [r.id]);
    const first = storeHarvest(ctx.db, input('chain-1', 6, 1));
    await sleep(100);
    const second = storeHarvest(ctx.db, input('chain-2', 7, 2));
    await sleep(100);
    await trx.commit();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.status === 'stored' && b.status === 'stored');
    if (a.status !== 'stored' || b.status !== 'stored') return;
    const previous = [a.previous, b.previous].map((p) => [p?.score, p?.date.slice(0, 4)]);
    assert.deepEqual(
      previous.sort(),
      [
        [5, '2030'],
        [6, '2030'],
      ],
      'each harvest follows the one before it',
    );
  });

  test("7. a planted Pod with a copy of the Job's controller ownerReference is not read as the Job's pod", async () => {
    await resetScheduling(ctx.db);
    const doc = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
    const { cluster, config, job, deps } = await scheduled(ctx.db, doc.repo.name);
    const real = { ...doc, repo: { ...doc.repo, commit: 'a'.repeat(40) } };
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: `${JSON.stringify(real)}\n`, at: T0 });
    const jobUid = done.metadata!.uid!;
    const planted: V1Pod = {
      metadata: {
        name: 'planted',
        namespace: config.namespace,
        creationTimestamp: new Date(T0.getTime() + 1000), // newer than the Job's own
        labels: { 'batch.kubernetes.io/job-name': job.metadata!.name! },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid: jobUid, controller: true }],
      },
      status: {
        phase: 'Succeeded',
        containerStatuses: [
          { name: 'scorecard', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
        ],
      },
    };
    cluster.pods.set(`${config.namespace}/planted`, planted);
    cluster.logs.set(`${config.namespace}/planted`, `${JSON.stringify({ ...doc, repo: { ...doc.repo, commit: 'b'.repeat(40) } })}\n`);
    const r = await harvestJob(done, deps);
    assert.equal(r.status, 'stored', JSON.stringify(r));
    const stored = await ctx.db('scores').orderBy('id', 'desc').first();
    assert.equal(stored.repo_commit, 'a'.repeat(40), "the Job's own pod was read");
  });

  test('claims and releases made by a tick that lost its lease are not written', async () => {
    await resetScheduling(ctx.db);
    await seed(ctx.db, ['lost/a']);
    const lease = await takeTickLease({ db: ctx.db, config: { leaseSeconds: 7200 }, now: () => T0, lockRenewMs: 1e9 }, 'L/1');
    assert.ok(lease);
    // Another tick takes the lease after this one's ended.
    await ctx.db('scheduler_state').update({ tick_lock_owner: 'other/1', tick_lock_until: new Date(T0.getTime() + 60_000) });
    const f = await lease.fenced((tx) => claimDueRepos(tx, { owner: 'L', limit: 5, leaseSeconds: 60, now: T0 }));
    assert.equal(f.held, false);
    assert.equal((await getRepo(ctx.db, 'github.com/lost/a'))!.lease_owner, null, 'nothing claimed');
  });

  test('the database clock: read from the database, advanced by the monotonic timer', async () => {
    let mono = 1000;
    const clock = await databaseClock(ctx.db, () => mono);
    const db0 = await databaseNow(ctx.db);
    assert.ok(Math.abs(clock().getTime() - db0.getTime()) < 2000);
    const c0 = clock().getTime();
    mono += 5000;
    assert.equal(clock().getTime() - c0, 5000);
  });
});
