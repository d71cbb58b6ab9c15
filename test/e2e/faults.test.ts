// The scheduler and the harvester keep their promises under faults, on the local control plane.
// Between posture and kube-apiserver sits a proxy injecting, at random from a printed seed, 429
// with Retry-After, 500/503, connection resets, answers lost after the request took effect,
// and watch disconnects. The scheduler and the harvester are separate processes, SIGKILLed at
// random points and restarted. Ticks are delivered like Knative would (a 5xx/429 or a dead
// process is retried) and sometimes twice; Job events are dropped (20%), duplicated and
// reordered. Repositories over at least 30 ticks, with short kwok Jobs (some failing,
// some with garbage logs, some failing for the infrastructure's reasons). Then a sampler's
// record of the API server (straight, not through the proxy) and the database go to a pure
// checker (faults-checker.ts), which prints the faults by kind and its counts. There are two
// scheduler replicas whose own clocks are wrong, one 45 s ahead and one 45 s behind (libfaketime,
// Debian's faketime), ticks go to either, and a quarter of the lease's renewals fail: the
// database's clock and the lease's fence keep the cap, the budget and every Job's run.
// The scenario runs twice. Shards of 10 (POSTURE_SHARD_SIZE's default), 500 repositories, 5
// Jobs at once and a budget of 400 repositories an hour: logs printed as Scorecard v5.4+
// `--repos` prints them (faults-kit.ts), where a panic ends a shard and the repositories after
// it are not reached and come back in later shards; runs are per (Job, repository), the cap
// counts Jobs, the budget repositories. Then one repository per Job (POSTURE_SHARD_SIZE=1), 200
// repositories, 40 Jobs at once.
//   POSTURE_FAULT_SEED=<n> replays a seed's fault sequence (timings still vary).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { CloudEvent } from 'cloudevents';
import { runsPerHour } from '../../lib/cadence/cadence.ts';
import { addRepos, migrate } from '../../lib/db/index.ts';
import { createPostgresDatabase } from '../../lib/db/testing.ts';
import { startJobRelay } from '../../lib/events/job-relay.ts';
import { jobRepositories, POSTURE_JOB_SELECTOR } from '../../lib/jobs/spec.ts';
import { jobState } from '../../lib/jobs/status.ts';
import { silentLogger } from '../../lib/log/index.ts';
import { seededRandom } from '../../lib/random/seeded.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { freePort } from '../cluster/config.ts';
import { checkFaultRun, type FaultRunRecord, NOT_REACHED, type SeenJob } from './faults-checker.ts';
import { expectationOf, faultRepoName, startFaultProxy } from './faults-kit.ts';
import { postEvent } from './pipeline-kit.ts';
import { useControlPlane } from './plane.ts';

const plane = useControlPlane();
// Repositories of the shard scenario; the one-repository-per-Job scenario takes two fifths of
// them (its Jobs cost the control plane ten times as much, and the file must stay within minutes).
const REPOS = Number(process.env.POSTURE_FAULT_REPOS ?? 500);
const MIN_TICKS = 30;
const TICK_MS = 2000;
const RUN_LIMIT_MS = Number(process.env.POSTURE_FAULT_RUN_LIMIT_S ?? 600) * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const repo = (s: string) => (parseRepo(s) as { ok: true; repo: RepoId }).repo;

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** A posture function process that can be killed and started again on the same port; `clockOffset` skews its own clock. */
function fnProcess(role: 'scheduler' | 'harvester', args: string[], clockOffset?: string) {
  const skew = clockOffset ? { LD_PRELOAD: LIBFAKETIME, FAKETIME: clockOffset, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {};
  let child: ChildProcess | undefined;
  let kills = 0;
  const start = async () => {
    // The compile cache halves a restart on a busy machine (a cold start parses the whole client).
    child = spawn(process.execPath, [new URL('./faults-proc.ts', import.meta.url).pathname, role, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...skew, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'posture-faults-compile-cache') },
    });
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.once('data', () => resolve());
      child!.once('exit', (code) => reject(new Error(`${role} exited ${code} before it was ready`)));
    });
    child.removeAllListeners('exit');
    child.stdout!.resume(); // never let a full pipe stall it
  };
  return {
    start,
    get kills() {
      return kills;
    },
    async kill() {
      if (!child || child.exitCode !== null) return;
      const c = child;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      kills++;
      await gone;
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const c = child;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    },
  };
}

/** One fault run: `repos` repositories, `shardSize` repositories per Job at most, `cap` Jobs at once, `claimBatch` repositories claimed per tick, `budgetPerHour` repositories per hour. */
interface Scenario {
  name: string;
  repos: number;
  shardSize: number;
  cap: number;
  claimBatch: number;
  budgetPerHour: number;
}

/** Runs a scenario and then its clean-ups (newest first), so the next scenario has the machine to itself. */
async function scenario(sc: Scenario) {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    return await runFaults(sc, (f) => void cleanups.push(f));
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

async function runFaults(sc: Scenario, cleanup: (f: () => Promise<unknown>) => void) {
  const t0 = Date.now();
  const seed = Number(process.env.POSTURE_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`${sc.name}: fault seed ${seed} (POSTURE_FAULT_SEED=${seed} replays its fault sequence)`);
  const random = seededRandom(seed);
  const cp = plane.cp;
  const namespace = await cp.createNamespace('faults');
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  cleanup(() => core.deleteNamespace({ name: namespace }));
  const database = await createPostgresDatabase();
  if (!process.env.POSTURE_FAULT_KEEP_DB) cleanup(() => database.drop());
  else console.log(`${sc.name}: database kept: ${database.url}`);
  await migrate(database.db);
  const db = database.db;
  const names = Array.from({ length: sc.repos }, (_, i) => faultRepoName(i));
  await addRepos(
    db,
    names.map((n) => ({ repo: repo(n) })),
  );
  await db('repos').update({ next_due_at: new Date(Date.now() - 1000) });

  const overrides = {
    namespace,
    shardSize: sc.shardSize,
    maxConcurrentJobs: sc.cap,
    claimBatch: sc.claimBatch,
    githubTokenCount: 1,
    githubCallsPerHour: sc.budgetPerHour * 70,
    callsPerRun: 70,
    jitterSeconds: 0,
    idleBackoffBaseSeconds: 1,
    idleBackoffMaxSeconds: 2,
    kubeRetries: 4,
    failureBackoffBaseSeconds: 3600,
  };
  const budgetPerHour = runsPerHour(overrides.githubTokenCount, overrides.githubCallsPerHour, overrides.callsPerRun);

  const proxy = await startFaultProxy(cp, random, { tooMany: 0.03, e500: 0.02, e503: 0.02, reset: 0.02, slow: 0.015, watchCut: 1 });
  cleanup(() => proxy.close());
  const proxyKc = new k8s.KubeConfig();
  proxyKc.loadFromOptions({
    clusters: [{ name: 'proxy', server: proxy.url, caData: proxy.caBundle }],
    users: [{ name: 'relay', token: 'through-the-proxy' }],
    contexts: [{ name: 'p', cluster: 'proxy', user: 'relay' }],
    currentContext: 'p',
  });
  // A quarter of the lease's renewals fail (the database refuses them): a holder must stop.
  const renewalFaults = 0.25;
  await db.raw(
    `CREATE FUNCTION test_renewal_fault() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF NEW.tick_lock_owner IS NOT DISTINCT FROM OLD.tick_lock_owner AND NEW.tick_lock_owner IS NOT NULL
          AND NEW.tick_lock_until IS DISTINCT FROM OLD.tick_lock_until AND random() < ${renewalFaults} THEN
         RAISE EXCEPTION 'injected: the lease renewal fails';
       END IF;
       RETURN NEW;
     END $$`,
  );
  await db.raw('CREATE TRIGGER test_renewal_fault BEFORE UPDATE ON scheduler_state FOR EACH ROW EXECUTE FUNCTION test_renewal_fault()');
  const [aheadPort, behindPort, harvesterPort] = [await freePort(), await freePort(), await freePort()];
  const common = [database.url!, proxy.url, proxy.caBundle, JSON.stringify(overrides)];
  const ahead = fnProcess('scheduler', [String(aheadPort), ...common], '+45s');
  const behind = fnProcess('scheduler', [String(behindPort), ...common], '-45s');
  const harvester = fnProcess('harvester', [String(harvesterPort), ...common]);
  await Promise.all([ahead.start(), behind.start(), harvester.start()]);
  cleanup(() => ahead.stop());
  cleanup(() => behind.stop());
  cleanup(() => harvester.stop());
  const schedulerUrls = [`http://127.0.0.1:${aheadPort}/`, `http://127.0.0.1:${behindPort}/`];
  const harvesterUrl = `http://127.0.0.1:${harvesterPort}/`;

  // The sampler: every 100 ms, straight from the API server (plain HTTPS and JSON.parse: the
  // typed client's deserialising would starve the proxy, which runs in this process).
  const samples: FaultRunRecord['samples'] = [];
  const seen = new Map<string, SeenJob>();
  let lastList: V1Job[] = [];
  let sampling = true;
  const tls: https.RequestOptions = {};
  await cp.kc.applyToHTTPSOptions(tls);
  const sampleAgent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  const listUrl = `${cp.server}/apis/batch/v1/namespaces/${namespace}/jobs?labelSelector=${encodeURIComponent(POSTURE_JOB_SELECTOR)}`;
  const listJobs = () =>
    new Promise<{ items: V1Job[] }>((resolve, reject) => {
      https
        .get(listUrl, { agent: sampleAgent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : reject(new Error(`HTTP ${res.statusCode}`)),
          );
          res.on('error', reject);
        })
        .on('error', reject);
    });
  cleanup(async () => sampleAgent.destroy());
  const sampler = (async () => {
    while (sampling) {
      const t = Date.now();
      try {
        const list = await listJobs();
        lastList = list.items;
        samples.push({ at: new Date(t), active: list.items.filter((j) => !jobState(j).finished).length });
        for (const j of list.items) {
          const uid = j.metadata!.uid!;
          if (!seen.has(uid))
            seen.set(uid, {
              name: j.metadata!.name!,
              uid,
              repoKeys: jobRepositories(j.metadata!.annotations).map((c) => repo(c).key),
              createdAt: new Date(j.metadata!.creationTimestamp!),
            });
        }
      } catch {
        /* the next sample */
      }
      await sleep(Math.max(0, 100 - (Date.now() - t)));
    }
  })();

  // Job events: dropped (20%), duplicated (10%), reordered (30% delayed up to 1.5 s).
  const eventFaults = { dropped: 0, duplicated: 0, reordered: 0, undeliverable: 0 };
  let chaos = true;
  const deliveries = new Set<Promise<unknown>>();
  const deliver = (e: CloudEvent<V1Job>, delay: number) => {
    const p = (async () => {
      await sleep(delay);
      let last = '';
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const r = await postEvent(harvesterUrl, e);
          if (r.status < 500 && r.status !== 429) return;
          last = `${r.status} ${JSON.stringify(r.body).slice(0, 160)}`;
        } catch (err) {
          last = (err as Error).message; // the process is down: retried, as a Broker would
        }
        await sleep(200 * 2 ** attempt);
      }
      eventFaults.undeliverable++;
      if (process.env.POSTURE_TEST_LOG) console.log(`event undeliverable: ${last}`);
    })();
    deliveries.add(p);
    void p.finally(() => deliveries.delete(p));
  };
  const relay = await startJobRelay({
    kc: proxyKc,
    namespace,
    labelSelector: POSTURE_JOB_SELECTOR,
    log: silentLogger,
    send: async (event) => {
      if (chaos && random() < 0.2) return void eventFaults.dropped++;
      const duplicate = chaos && random() < 0.1;
      if (duplicate) eventFaults.duplicated++;
      const copies = duplicate ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        const late = chaos && random() < 0.3;
        if (late) eventFaults.reordered++;
        deliver(event, late ? random() * 1500 : 0);
      }
    },
  });
  cleanup(async () => relay.stop());

  // Ticks, delivered like Knative: 5xx, 429 or no answer is retried with backoff; 10% delivered twice.
  const tickFaults = { redelivered: 0, duplicated: 0, gaveUp: 0 };
  const base = Math.floor(Date.now() / 60000) * 60000;
  let ticks = 0;
  const pings = new Set<Promise<unknown>>();
  const ping = (i: number) => {
    const e = new CloudEvent({
      type: 'dev.knative.sources.ping',
      source: '/apis/v1/namespaces/posture/pingsources/tick',
      time: new Date(base + i * 60000).toISOString(),
      data: {},
    });
    const once = async () => {
      for (let attempt = 0; attempt < 6; attempt++) {
        if (attempt > 0) tickFaults.redelivered++;
        try {
          // Knative sends each delivery to either replica.
          const r = await postEvent(schedulerUrls[random() < 0.5 ? 0 : 1], e);
          if (r.status < 500 && r.status !== 429) return;
        } catch {
          /* down */
        }
        await sleep(Math.min(8000, 250 * 2 ** attempt));
      }
      tickFaults.gaveUp++;
    };
    const duplicate = chaos && random() < 0.1;
    if (duplicate) tickFaults.duplicated++;
    const copies = duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const p = once();
      pings.add(p);
      void p.finally(() => pings.delete(p));
    }
  };

  // The killer: SIGKILL one of the two processes every 20-40 s (a restart takes 5-40 s on a
  // busy machine), restart it 0.2-1.5 s later.
  let killing = true;
  const killer = (async () => {
    while (killing) {
      await sleep(20_000 + random() * 20_000);
      if (!killing) break;
      const pick = random();
      const victim = pick < 0.25 ? ahead : pick < 0.5 ? behind : harvester;
      const t0 = Date.now();
      await victim.kill();
      await sleep(200 + random() * 1300);
      await victim.start();
      if (process.env.POSTURE_TEST_LOG)
        console.log(
          `killed and restarted ${victim === harvester ? 'harvester' : victim === ahead ? 'scheduler (ahead)' : 'scheduler (behind)'} in ${Date.now() - t0} ms`,
        );
    }
  })();

  const unfinished = async () =>
    Number(
      (
        (await db('repos as r')
          // A repository a shard did not reach has no outcome yet: it comes back in a later shard.
          .whereNotExists(db('runs').whereRaw("runs.repo_id = r.id AND runs.outcome <> 'pending' AND runs.failure_class IS DISTINCT FROM 'not-reached'"))
          .count('* as n')
          .first()) as {
          n: number;
        }
      ).n,
    );
  const started = Date.now();
  // The hour's GitHub budget is spent (by the database's clock, as the scheduler counts it): the repositories still due wait for the next hour.
  const budgetSpent = async () =>
    Number(
      ((await db('budget').whereRaw("hour = date_trunc('hour', now())").select('runs_started').first()) as { runs_started: number } | undefined)
        ?.runs_started ?? 0,
    ) >= budgetPerHour;
  while (ticks < MIN_TICKS || ((await unfinished()) > 0 && !(await budgetSpent()))) {
    if (Date.now() - started > RUN_LIMIT_MS) break;
    ping(ticks++);
    await sleep(TICK_MS);
  }
  console.log(
    `${sc.name}: faulty phase: ${ticks} ticks in ${Math.round((Date.now() - started) / 1000)} s; ${await unfinished()} repositories without a finished run`,
  );

  // Drain: no more faults or kills; ticks until no run is pending and no Job is left.
  killing = false;
  await killer;
  chaos = false;
  proxy.setEnabled(false);
  const drainStart = Date.now();
  const leased = async () => Number(((await db('repos').whereNotNull('lease_owner').count('* as n').first()) as { n: number }).n);
  const pendingRuns = async () => Number(((await db('runs').where({ outcome: 'pending' }).count('* as n').first()) as { n: number }).n);
  while (Date.now() - drainStart < 240_000) {
    ping(ticks++);
    await sleep(TICK_MS);
    // No repository leased either: a tick between its claims and its runs has spent budget on repositories with no run yet.
    if ((await pendingRuns()) === 0 && (await leased()) === 0 && lastList.length === 0 && ((await unfinished()) === 0 || (await budgetSpent()))) break;
  }
  await Promise.all([...pings]);
  await Promise.all([...deliveries]);
  await sleep(300);
  sampling = false;
  await sampler;
  relay.stop();
  const end = new Date();

  const repos = await db('repos').select('key', 'canonical', 'next_due_at', 'lease_owner', 'lease_expires_at', 'consecutive_failures', 'last_error');
  const runs = await db('runs as u')
    .join('repos as r', 'r.id', 'u.repo_id')
    .select(
      'r.key',
      'u.job_name',
      'u.job_uid',
      'u.outcome',
      'u.failure_class',
      'u.reason',
      'u.finished_at',
      db.raw('(SELECT count(*) FROM scores s WHERE s.run_id = u.id) AS scores'),
    );
  const jobsLeft = (await listJobs()).items.length;
  const record: FaultRunRecord = {
    repos: repos.map((r: any) => ({
      key: r.key,
      expect: expectationOf(r.canonical),
      nextDueAt: new Date(r.next_due_at),
      leaseOwner: r.lease_owner,
      leaseExpiresAt: r.lease_expires_at ? new Date(r.lease_expires_at) : null,
      consecutiveFailures: r.consecutive_failures,
      lastError: r.last_error,
    })),
    runs: runs.map((r: any) => ({
      repoKey: r.key,
      jobName: r.job_name,
      jobUid: r.job_uid,
      outcome: r.outcome,
      failureClass: r.failure_class,
      reason: r.reason,
      finishedAt: r.finished_at ? new Date(r.finished_at) : null,
      scores: Number(r.scores),
    })),
    jobsSeen: [...seen.values()],
    samples,
    jobsLeft,
    cap: overrides.maxConcurrentJobs,
    budgetPerHour,
    end,
    faults: {
      ...proxy.counts,
      ...Object.fromEntries(Object.entries(eventFaults).map(([k, v]) => [`event ${k}`, v])),
      ...Object.fromEntries(Object.entries(tickFaults).map(([k, v]) => [`tick ${k}`, v])),
      'scheduler SIGKILL': ahead.kills + behind.kills,
      'harvester SIGKILL': harvester.kills,
    },
  };
  const result = checkFaultRun(record);
  // When the repositories got their first outcome (seconds into the faulty phase): where the time goes.
  const firstOutcome = new Map<string, number>();
  for (const r of record.runs)
    if (r.finishedAt && r.failureClass !== NOT_REACHED)
      firstOutcome.set(r.repoKey, Math.min(firstOutcome.get(r.repoKey) ?? Infinity, r.finishedAt.getTime() - started));
  const reached = [...firstOutcome.values()].sort((a, b) => a - b);
  const at = (q: number) => Math.round((reached[Math.min(reached.length - 1, Math.floor(q * reached.length))] ?? 0) / 1000);
  console.log(`${sc.name}: repositories with an outcome: half after ${at(0.5)} s, 90% after ${at(0.9)} s, all after ${at(1)} s of the faulty phase`);
  console.log(`${sc.name}: faults injected (seed ${seed}): ${JSON.stringify(record.faults)}`);
  console.log(`${sc.name}: checker counts: ${JSON.stringify({ ...result.counts, ticks, seconds: Math.round((Date.now() - t0) / 1000) })}`);
  if (!result.ok) console.log(`checker violations:\n  ${result.violations.join('\n  ')}`);
  assert.deepEqual(result.violations, [], `seed ${seed}`);
  assert.ok(ticks >= MIN_TICKS);
  assert.equal(result.counts.repos, sc.repos);
  assert.ok(record.faults['scheduler SIGKILL'] + record.faults['harvester SIGKILL'] > 0, 'processes were killed');
  return result.counts;
}

test('faults with shards of 10: each repository scored or failed with its own cause exactly once per shard, the cap counting Jobs and the budget repositories', {
  timeout: 12 * 60_000,
}, async () => {
  // Five Jobs of ten at once (the cap binds: 50 repositories in flight while more are due); a
  // budget of four fifths of the repositories an hour binds too: the scheduler must stop at it
  // counting repositories (it would start them all counting Jobs), and give back the budget of
  // each repository a shard did not reach (or fewer than the budget get an outcome: stranded).
  const budgetPerHour = Math.round(REPOS * 0.8);
  const hour = Math.floor(Date.now() / 3_600_000);
  const counts = await scenario({ name: 'shards of 10', repos: REPOS, shardSize: 10, cap: 5, claimBatch: 60, budgetPerHour });
  assert.ok(counts.maxActive === counts.cap, `the cap was reached (${counts.maxActive} of ${counts.cap} Jobs at most)`);
  if (Math.floor(Date.now() / 3_600_000) === hour) {
    // Within one clock hour: the budget was spent exactly, and the rest wait for the next hour.
    assert.equal(counts.maxRunsPerHour, budgetPerHour);
    assert.ok(counts.waitingForBudget > 0);
  }
  assert.ok(counts.notReached > 0, 'panics ended shards before their last repositories');
  assert.ok(counts.pairsSeen > counts.jobsSeen * 5, 'Jobs scored shards');
});

test('faults: every promise holds with API faults, killed processes and lost, duplicated, reordered events (one repository per Job)', {
  timeout: 12 * 60_000,
}, async () => {
  await scenario({ name: 'one repository per Job', repos: Math.round(REPOS * 0.4), shardSize: 1, cap: 40, claimBatch: 40, budgetPerHour: 700 });
});
