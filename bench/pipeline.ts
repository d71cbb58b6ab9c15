// On the local control plane: Jobs created per second by one tick (beside raw client-node
// creates of the same Jobs, the floor), and whole-pipeline throughput with instant Jobs:
// tick → Jobs → pods complete → relay events → harvester → stored scores, with the scheduler and
// the harvester in their own processes (bin/serve.ts), whose CPU per scored repository is printed.
// BENCH_PIPELINE_PROFILE=<dir> writes their V8 CPU profiles there. BENCH_PIPELINE_SOURCE=knative
// sends the Job events with Knative Eventing's own ApiServerSource receive adapter (built by
// test/cluster/build-tools.sh) straight to the harvester, in place of the in-process relay.
// BENCH_PIPELINE_BASELINE=<dir> measures another checkout in the same rounds (see below).
// Each round runs the pipeline twice, one repository per Job and shards of BENCH_PIPELINE_SHARD
// (POSTURE_SHARD_SIZE, default 10) repositories per Job, first or second in turn; the last line
// compares the shards with the one-repository-per-Job floor measured in the same rounds.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { CloudEvent } from 'cloudevents';
import { defaultConfig } from '../lib/config/index.ts';
import { addRepos, migrate } from '../lib/db/index.ts';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { apiServerSourceEvent, startJobRelay } from '../lib/events/job-relay.ts';
import { buildScorecardJob, jobName, POSTURE_JOB_SELECTOR, shardJobName } from '../lib/jobs/spec.ts';
import { clusterApi } from '../lib/kube/cluster.ts';
import { silentLogger } from '../lib/log/index.ts';
import { parseRepo, type RepoId } from '../lib/repo/identity.ts';
import { databaseClock } from '../lib/scheduler/clock.ts';
import { runTick } from '../lib/scheduler/tick.ts';
import { freePort } from '../test/cluster/config.ts';
import { getSharedControlPlane } from '../test/cluster/harness.ts';
import { apiServerSourceAdapterBin, KNATIVE_EVENTING_VERSION } from '../test/cluster/tools.ts';
import { postEvent } from '../test/e2e/pipeline-kit.ts';
import { FIXTURES, fixturePath } from '../test/fixtures/scorecard.ts';
import { machineCpu, median, processCpu, processCpuMs } from './_util.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.BENCH_PIPELINE_REPOS ?? 200);
const ROUNDS = Number(process.env.BENCH_PIPELINE_ROUNDS ?? 3);
const WARMUP = process.env.BENCH_PIPELINE_WARMUP !== '0';
const SHARD = Number(process.env.BENCH_PIPELINE_SHARD ?? 10);
if (!Number.isInteger(SHARD) || SHARD < 2) throw new Error(`BENCH_PIPELINE_SHARD is a whole number of at least 2, not ${process.env.BENCH_PIPELINE_SHARD}`);
const DUE = new Date('2026-01-01T00:00:00Z');
const fixture = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;

const cp = await getSharedControlPlane({ log: () => {} });
const core = cp.kc.makeApiClient(k8s.CoreV1Api);
const batch = cp.kc.makeApiClient(k8s.BatchV1Api);
const jobsApi = batch; // `batch` is also a round's batch of repositories below
const SOURCE = process.env.BENCH_PIPELINE_SOURCE ?? 'relay';
if (SOURCE !== 'relay' && SOURCE !== 'knative') throw new Error(`BENCH_PIPELINE_SOURCE is relay or knative, not ${SOURCE}`);
const LOGS = mkdtempSync(join(tmpdir(), 'posture-bench-pipeline-'));
// What Knative's install puts in its system namespace and the adapter reads at start.
const knativeSystem = SOURCE === 'knative' ? await cp.createNamespace('bench-kn-system') : '';
if (SOURCE === 'knative') {
  for (const name of ['config-logging', 'config-observability', 'config-tracing'])
    await core.createNamespacedConfigMap({ namespace: knativeSystem, body: { metadata: { name }, data: {} } });
}

/** Where the harvester's Job events come from in a round, and how many it has been sent. */
interface EventSource {
  sent(): Promise<number>;
  /** The source's own CPU in ms so far (not posture's). */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * Knative Eventing's ApiServerSource receive adapter, configured the way its controller configures
 * it for posture's ApiServerSource (Resource mode, posture's Jobs in one namespace), sending to the
 * harvester directly. Events are counted by the harvester (its invocations metric, or the floor's
 * own count), read once a second.
 */
async function knativeSource(ns: string, harvester: { url: string }, kind: 'harvester' | 'bare-harvester'): Promise<EventSource> {
  const log = join(LOGS, `apiserversource-${ns}.log`);
  const fd = openSync(log, 'a');
  const sourceConfig = {
    namespaces: [ns],
    allNamespaces: false,
    resources: [{ gvr: { Group: 'batch', Version: 'v1', Resource: 'jobs' }, selector: POSTURE_JOB_SELECTOR }],
    mode: 'Resource',
  };
  const child: ChildProcess = spawn(apiServerSourceAdapterBin(), [], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: tmpdir(),
      KUBECONFIG: cp.kubeconfigPath,
      NAMESPACE: knativeSystem,
      SYSTEM_NAMESPACE: knativeSystem,
      K_LOGGING_CONFIG: '{}',
      K_OBSERVABILITY_CONFIG: '{}',
      NAME: 'posture-job-events',
      K_SINK: harvester.url,
      K_SOURCE_CONFIG: JSON.stringify(sourceConfig),
      PROFILING_PORT: String(await freePort()),
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  for (const deadline = Date.now() + 60000; !/STARTING --/.test(readFileSync(log, 'utf8')); ) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`the ApiServerSource adapter did not start:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2000)); // its informer's first list
  const sent = async () => {
    if (kind === 'bare-harvester') return Number(await (await fetch(`${harvester.url}events-received`)).text());
    const m = await (await fetch(`${harvester.url}metrics`)).text();
    let n = 0;
    for (const line of m.split('\n')) if (line.startsWith('posture_function_invocations_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
    return n;
  };
  return {
    sent,
    cpuMs: () => processCpuMs(child.pid!),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Deletes a namespace and waits until it is gone, so its clean-up does not slow the next measurement. */
async function deleteAndWait(ns: string): Promise<void> {
  await core.deleteNamespace({ name: ns });
  for (const deadline = Date.now() + 120000; Date.now() < deadline; ) {
    try {
      await core.readNamespace({ name: ns });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The scheduler's Jobs, created straight with client-node, 8 in flight: no posture code on the path. */
async function createRaw(ns: string, repos: RepoId[]): Promise<void> {
  const queue = [...repos];
  const config = {
    namespace: ns,
    scorecardImage: 'ghcr.io/ossf/scorecard:v5.3.0',
    scorecardChecks: [],
    githubTokenSecret: 's',
    githubTokenSecretKey: 'k',
    jobDeadlineSeconds: 600,
    jobTtlSeconds: 600,
    githubHost: '',
    githubCaConfigMap: '',
    jobMemoryLimit: '1Gi',
    jobStorageLimit: '4Gi',
  };
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        await batch.createNamespacedJob({ namespace: ns, body: buildScorecardJob({ repo: r, dueWindow: DUE }, config) });
      }
    }),
  );
}

async function rawCreates(): Promise<number> {
  const ns = await cp.createNamespace('bench-raw');
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/raw-${i}`));
  for (const r of repos) cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: '', hold: true });
  const t = performance.now();
  await createRaw(ns, repos);
  const rate = N / ((performance.now() - t) / 1000);
  await deleteAndWait(ns);
  return rate;
}

/**
 * The control plane's own CPU (the API server, etcd, the controller manager, the scheduler and
 * kwok, from /proc) and the machine's busy share of its cores, from a start point: what tells a
 * pipeline slowed by posture's work from one slowed because the machine was already full.
 */
function planeMeter(): () => { planeMs: number; busy: number; parts: Record<string, number> } {
  const components = Object.entries(cp.state.components).map(([name, c]) => [name, c.pid] as const);
  const cpu = (pid: number) => {
    try {
      return processCpuMs(pid);
    } catch {
      return 0;
    }
  };
  const p0 = new Map(components.map(([name, pid]) => [name, cpu(pid)]));
  const m0 = machineCpu();
  return () => {
    const m = machineCpu();
    const parts = Object.fromEntries(components.map(([name, pid]) => [name, cpu(pid) - p0.get(name)!]));
    return { planeMs: Object.values(parts).reduce((a, b) => a + b, 0), busy: (m.busy - m0.busy) / Math.max(1, m.total - m0.total), parts };
  };
}

interface FloorRound {
  rate: number;
  planeMsPerJob: number;
  busy: number;
  parts: Record<string, number>;
}

/** Per component, ms of CPU per Job, medians over rounds. */
function partsPerJob(rounds: Array<{ parts: Record<string, number> }>): string {
  const names = Object.keys(rounds[0]?.parts ?? {});
  return names.map((n) => `${n} ${median(rounds.map((r) => r.parts[n] / N)).toFixed(1)}`).join(', ');
}

/** The floor: the same Jobs created straight with client-node, until all are Complete (no posture code). */
async function rawComplete(): Promise<FloorRound> {
  const ns = await cp.createNamespace('bench-floor');
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/floor-${i}`));
  for (const r of repos) cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: '{}\n' });
  const t = performance.now();
  const meter = planeMeter();
  await createRaw(ns, repos);
  for (;;) {
    const jobs = (await batch.listNamespacedJob({ namespace: ns })).items;
    if (jobs.filter((j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')).length >= N) break;
    if (performance.now() - t > 300000) throw new Error('floor: Jobs not complete after 300 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = N / ((performance.now() - t) / 1000);
  const { planeMs, busy, parts } = meter();
  await deleteAndWait(ns);
  return { rate, planeMsPerJob: planeMs / N, busy, parts };
}

async function tickCreates(): Promise<number> {
  // The tick alone (no relay or harvester in this process), like the raw creates above.
  const ns = await cp.createNamespace('bench-tick');
  const database = await createPostgresDatabase();
  await migrate(database.db);
  // One repository per Job: this measures Jobs created per second.
  const config = defaultConfig({ namespace: ns, githubTokenCount: 0, maxConcurrentJobs: N, claimBatch: N, shardSize: 1 });
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/tick-${i}`));
  await addRepos(
    database.db,
    repos.map((r) => ({ repo: r })),
  );
  await database.db('repos').update({ next_due_at: DUE });
  for (const r of repos) cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: '', hold: true });
  const t = performance.now();
  const s = await runTick('2026-11-23T10:00Z', {
    db: database.db,
    cluster: clusterApi(cp.kc),
    config,
    log: silentLogger,
    now: await databaseClock(database.db),
  });
  const rate = s.created / ((performance.now() - t) / 1000);
  if (s.created !== N) throw new Error(`created ${s.created}: ${JSON.stringify(s.errors.slice(0, 3))}`);
  await database.drop();
  await deleteAndWait(ns);
  return rate;
}

/**
 * A posture function as its Knative Service's container runs it: `bin/serve.ts <fn>`, its own
 * process. 'bare-harvester' is the floor (bench/_bare-harvester.ts) in its place.
 */
async function startFunction(
  fn: 'scheduler' | 'harvester' | 'bare-harvester',
  env: Record<string, string>,
  root = ROOT,
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const profile = process.env.BENCH_PIPELINE_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PIPELINE_PROFILE}`, `--cpu-prof-name=${fn}-${Date.now()}.cpuprofile`]
    : [];
  const script = fn === 'bare-harvester' ? [join(ROOT, 'bench', '_bare-harvester.ts')] : [join(root, 'bin', 'serve.ts'), fn];
  const child = spawn(process.execPath, [...profile, ...script], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/`;
  for (const deadline = Date.now() + 60000; ; ) {
    if ((await fetch(`${url}readyz`).catch(() => undefined))?.ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${fn} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface PipelineRound {
  shard: number;
  rate: number;
  created: number;
  completed: number;
  harvested: number;
  cpuMsPerRepo: number;
  schedulerMs: number;
  harvesterMs: number;
  relayMsPerRepo: number;
  eventsPerRepo: number;
  ignoredEventMs: number;
  systemMsPerRepo: number;
  reconcileTicks: number;
  planeMsPerRepo: number;
  busy: number;
  parts: Record<string, number>;
}

/**
 * The pod logs of a pipeline's Jobs, scripted before the Jobs exist: each tick claims the next N
 * repositories (all due at DUE, so in id order, which is insertion order) and chunks them into
 * shards of `shard` in claim order, named by the scheduler's own pure function; a shard's log is
 * its repositories' result lines, one after another, as `scorecard --repos` prints them. A wrong
 * prediction leaves a Job without its log: its runs fail, and the round fails loudly.
 */
function scriptLogs(ns: string, repos: RepoId[], shard: number): void {
  const line = (r: RepoId) => `${JSON.stringify({ ...fixture, repo: { ...fixture.repo, name: r.canonical } })}\n`;
  for (let b = 0; b < repos.length; b += N) {
    const claimed = repos.slice(b, b + N);
    for (let i = 0; i < claimed.length; i += shard) {
      const members = claimed.slice(i, i + shard).map((r) => ({ repo: r, dueWindow: DUE }));
      cp.setPodLog({ namespace: ns, jobName: shardJobName(members), content: members.map((m) => line(m.repo)).join('') });
    }
  }
}

async function pipeline(harvesterKind: 'harvester' | 'bare-harvester' = 'harvester', root = ROOT, shard = 1): Promise<PipelineRound> {
  const ns = await cp.createNamespace('bench-pipe');
  const database = await createPostgresDatabase();
  await migrate(database.db);
  const repos = Array.from({ length: (WARMUP ? 2 : 1) * N }, (_, i) => repo(`bench/pipe-${i}`));
  await addRepos(
    database.db,
    repos.map((r) => ({ repo: r })),
  );
  await database.db('repos').update({ next_due_at: DUE });
  scriptLogs(ns, repos, shard);
  // The scheduler and the harvester run as they do in a cluster: each `bin/serve.ts <fn>` in its
  // own process, with its own connections and posture's default transport settings. Their CPU
  // time is read from /proc; the start-up (module loading, migrations) is not counted.
  const env = {
    DATABASE_URL: database.url!,
    KUBECONFIG: cp.kubeconfigPath,
    POSTURE_NAMESPACE: ns,
    POSTURE_JITTER_SECONDS: '0',
    POSTURE_GITHUB_TOKEN_COUNT: '0',
    POSTURE_MAX_CONCURRENT_JOBS: String(N),
    POSTURE_CLAIM_BATCH: String(N),
    POSTURE_SHARD_SIZE: String(shard),
    POSTURE_LOG_LEVEL: 'warn',
  };
  const scheduler = await startFunction('scheduler', env, root);
  const harvester = await startFunction(harvesterKind, env, root);
  // A failed round must not leave the two processes running (they would hold the next round's CPU).
  const stopOnFailure = (err: unknown) => Promise.all([scheduler.stop(), harvester.stop()]).then(() => Promise.reject(err));
  return measurePipeline(ns, database, scheduler, harvester, harvesterKind, shard).catch(stopOnFailure);
}

async function measurePipeline(
  ns: string,
  database: Awaited<ReturnType<typeof createPostgresDatabase>>,
  scheduler: Awaited<ReturnType<typeof startFunction>>,
  harvester: Awaited<ReturnType<typeof startFunction>>,
  harvesterKind: 'harvester' | 'bare-harvester',
  shard: number,
): Promise<PipelineRound> {
  const firstEvents: Array<CloudEvent<unknown>> = [];
  let source: EventSource;
  if (SOURCE === 'knative') {
    source = await knativeSource(ns, harvester, harvesterKind);
  } else {
    // The relay stands in for the ApiServerSource (Knative's, in a cluster): it runs in this process
    // and its CPU is not posture's; it is printed beside.
    const relay = await startJobRelay({
      kc: cp.kc,
      namespace: ns,
      labelSelector: POSTURE_JOB_SELECTOR,
      log: silentLogger,
      send: async (event) => {
        if (event.type === 'dev.knative.apiserver.resource.add') firstEvents.push(event);
        const r = await postEvent(harvester.url, event);
        if (r.status >= 500 || r.status === 429) throw new Error(`harvester answered ${r.status}`);
      },
    });
    await new Promise((r) => setTimeout(r, 500)); // the relay's first list and watch
    source = {
      sent: async () => relay.stats.sent,
      cpuMs: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      },
      stop: async () => relay.stop(),
    };
  }
  const quiet = async () => {
    for (let sent = -1, now = await source.sent(); sent !== now; now = await source.sent()) {
      sent = now;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  // One batch: a ping (slot k minutes from now, so each batch is its own tick) creates N Jobs;
  // done when all of them are harvested.
  let reconcileTicks = 0;
  const batch = async (k: number) => {
    const wall0 = Date.now();
    const t0 = performance.now();
    const tick = await postEvent(
      scheduler.url,
      new CloudEvent({ type: 'dev.knative.sources.ping', source: '/bench/pipeline', time: new Date(Date.now() + k * 60_000).toISOString(), data: {} }),
    );
    const tCreated = performance.now();
    if (tick.body.created !== Math.ceil(N / shard) || tick.body.scheduled !== N)
      throw new Error(
        `shards of ${shard}: created ${tick.body.created} Jobs for ${tick.body.scheduled} repositories: ${JSON.stringify(tick.body).slice(0, 500)}`,
      );
    if (SOURCE === 'knative') {
      // The ADDED events the adapter sent, rebuilt for the replay below (one list, while the Jobs exist).
      const jobs = (await jobsApi.listNamespacedJob({ namespace: ns, labelSelector: POSTURE_JOB_SELECTOR })).items;
      firstEvents.push(...jobs.map((j) => apiServerSourceEvent('dev.knative.apiserver.resource.add', { ...j, status: {} }, 'bench')));
    }
    // The relay, like the ApiServerSource, misses the events of Jobs that change while its watch
    // re-lists; in a cluster the next minute's tick harvests them (the reconcile). Here a tick is
    // sent when nothing was harvested for 10 s, as the next PingSource slot would be.
    let last = { done: -1, at: performance.now() };
    for (let slot = k * 100 + 10; ; ) {
      const done = Number(((await database.db('runs').whereNot({ outcome: 'pending' }).count('* as n').first()) as { n: number }).n);
      if (done >= (k + 1) * N) break;
      if (performance.now() - t0 > 300000) throw new Error(`only ${done - k * N} of batch ${k} harvested after 300 s`);
      if (done !== last.done) last = { done, at: performance.now() };
      else if (performance.now() - last.at > 10000) {
        reconcileTicks++;
        await postEvent(
          scheduler.url,
          new CloudEvent({ type: 'dev.knative.sources.ping', source: '/bench/pipeline', time: new Date(Date.now() + slot++ * 60_000).toISOString(), data: {} }),
        );
        last = { done, at: performance.now() };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { wall0, t0, tCreated, tEnd: performance.now() };
  };
  // A harvester runs for weeks: a first batch warms both processes up (V8 compiles the hot
  // paths, pools fill) and only the second is measured. BENCH_PIPELINE_WARMUP=0 measures cold processes.
  if (WARMUP) {
    await batch(0);
    await quiet();
    firstEvents.length = 0;
  }
  const sent0 = await source.sent();
  const meter = planeMeter();
  const cpu0 = {
    s: processCpuMs(scheduler.pid),
    h: processCpuMs(harvester.pid),
    hs: processCpu(harvester.pid).system,
    ss: processCpu(scheduler.pid).system,
    source: source.cpuMs(),
  };
  const { wall0, t0, tCreated, tEnd } = await batch(WARMUP ? 1 : 0);
  // The events after the last harvest (the deleted Jobs' updates and deletions) are part of the
  // harvester's work per repository too: counted until the relay has been quiet for a second.
  await quiet();
  const schedulerMs = processCpuMs(scheduler.pid) - cpu0.s;
  const harvesterMs = processCpuMs(harvester.pid) - cpu0.h;
  // The kernel's share (sockets: on loopback the sender's write also runs the receiver's TCP path).
  const systemMs = processCpu(harvester.pid).system - cpu0.hs + processCpu(scheduler.pid).system - cpu0.ss;
  const sourceMs = source.cpuMs() - cpu0.source;
  const { planeMs, busy, parts } = meter();
  const eventsPerRepo = ((await source.sent()) - sent0) / N;
  // What one event costs the harvester by itself: the ADDED event of every Job again (a Job not
  // finished, acknowledged and ignored), sent 8 at a time like the relay.
  const replay = firstEvents.slice();
  const h0 = processCpuMs(harvester.pid);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let e = replay.shift(); e; e = replay.shift()) await postEvent(harvester.url, e);
    }),
  );
  const ignoredEventMs = (processCpuMs(harvester.pid) - h0) / firstEvents.length;
  // When the last Job completed, from the Jobs' own Complete times (whole seconds) stored with their runs.
  const last = (await database.db('runs').max('finished_at as t').first()) as { t: Date };
  // Every repository scored: a failed run (a Job whose scripted log was not its own, a result the
  // harvester refused) would make the figures those of another pipeline.
  const outcomes = (await database.db('runs').select('outcome').count('* as n').groupBy('outcome')) as Array<{ outcome: string; n: number | string }>;
  const notSucceeded = outcomes.filter((o) => o.outcome !== 'succeeded');
  if (notSucceeded.length > 0) {
    const sample = await database.db('runs').whereNot({ outcome: 'succeeded' }).select('job_name', 'outcome', 'failure_class', 'reason').limit(3);
    throw new Error(
      `shards of ${shard}: runs not succeeded: ${notSucceeded.map((o) => `${o.n} ${o.outcome}`).join(', ')} of ${(WARMUP ? 2 : 1) * N}; e.g. ${JSON.stringify(sample)}`,
    );
  }
  if (process.env.BENCH_PIPELINE_METRICS) {
    const m = await (await fetch(`${harvester.url}metrics`)).text();
    console.log(
      m
        .split('\n')
        .filter((l) => /^posture_(function_invocations|harvester_events)_total/.test(l))
        .join('\n'),
    );
  }
  await source.stop();
  await Promise.all([scheduler.stop(), harvester.stop()]);
  await database.drop();
  await deleteAndWait(ns);
  return {
    shard,
    rate: N / ((tEnd - t0) / 1000),
    created: (tCreated - t0) / 1000,
    completed: Math.min((tEnd - t0) / 1000, (new Date(last.t).getTime() - wall0) / 1000),
    harvested: (tEnd - t0) / 1000,
    cpuMsPerRepo: (schedulerMs + harvesterMs) / N,
    schedulerMs: schedulerMs / N,
    harvesterMs: harvesterMs / N,
    relayMsPerRepo: sourceMs / N,
    eventsPerRepo,
    ignoredEventMs,
    reconcileTicks,
    systemMsPerRepo: systemMs / N,
    planeMsPerRepo: planeMs / N,
    busy,
    parts,
  };
}

const raw: number[] = [];
const floorRounds: FloorRound[] = [];
const tick: number[] = [];
const pipe: Array<Awaited<ReturnType<typeof pipeline>>> = [];
const shards: Array<Awaited<ReturnType<typeof pipeline>>> = [];
// BENCH_PIPELINE_BARE=1: each round also runs the pipeline with the floor of a harvester
// (bench/_bare-harvester.ts: parse each event; for a finished Job list its pods, read the log,
// delete it and close its run; nothing else) in place of posture's, beside posture's scheduler.
const BARE = process.env.BENCH_PIPELINE_BARE === '1';
const bare: Array<Awaited<ReturnType<typeof pipeline>>> = [];
// BENCH_PIPELINE_BASELINE=<another checkout of posture, with its node_modules>: each round also
// runs the pipeline with that checkout's scheduler and harvester (bin/serve.ts), first or second
// in turn, so a change is measured against the code before it in the same run.
const BASELINE = process.env.BENCH_PIPELINE_BASELINE;
const baseline: Array<Awaited<ReturnType<typeof pipeline>>> = [];
// BENCH_PIPELINE_PARTS=pipeline skips the tick and raw-create measurements (the floor is always measured).
const parts = (process.env.BENCH_PIPELINE_PARTS ?? 'creates,pipeline').split(',');
for (let i = 0; i < ROUNDS; i++) {
  if (parts.includes('creates')) raw.push(await rawCreates());
  floorRounds.push(await rawComplete());
  if (parts.includes('creates')) tick.push(await tickCreates());
  if (BASELINE && i % 2 === 1) baseline.push(await pipeline('harvester', BASELINE));
  // One repository per Job and shards, first or second in turn (the machine's load drifts).
  if (i % 2 === 1) shards.push(await pipeline('harvester', ROOT, SHARD));
  pipe.push(await pipeline());
  if (i % 2 === 0) shards.push(await pipeline('harvester', ROOT, SHARD));
  if (BASELINE && i % 2 === 0) baseline.push(await pipeline('harvester', BASELINE));
  if (BARE) bare.push(await pipeline('bare-harvester'));
}
const floor = floorRounds.map((f) => f.rate);
if (parts.includes('creates'))
  console.log(
    `Jobs created per second, ${N} Jobs, median of ${ROUNDS}: tick ${median(tick).toFixed(0)}/s; raw client-node creates (8 in flight) ${median(raw).toFixed(0)}/s; ratio ${(median(tick) / median(raw)).toFixed(2)}`,
  );
console.log(
  `pipeline with instant Jobs, ${N} repos, median of ${ROUNDS}: ${median(pipe.map((p) => p.rate)).toFixed(1)} repos/s; the control plane alone (create to Complete, no posture code): ${median(floor).toFixed(1)} Jobs/s; ratio ${(median(pipe.map((p) => p.rate)) / median(floor)).toFixed(2)}`,
);
console.log(
  `  where the time goes (median s from the ping): all created ${median(pipe.map((p) => p.created)).toFixed(2)}, all Complete ${median(pipe.map((p) => p.completed)).toFixed(2)} (whole seconds), all harvested ${median(pipe.map((p) => p.harvested)).toFixed(2)}`,
);
console.log(
  `posture's CPU per scored repository (the scheduler's and the harvester's processes${WARMUP ? `, after a warm-up batch of ${N}` : ', cold'}), median of ${ROUNDS}: ${median(pipe.map((p) => p.cpuMsPerRepo)).toFixed(2)} ms (scheduler ${median(pipe.map((p) => p.schedulerMs)).toFixed(2)}, harvester ${median(pipe.map((p) => p.harvesterMs)).toFixed(2)}; in the kernel ${median(pipe.map((p) => p.systemMsPerRepo)).toFixed(2)}); ${SOURCE === 'knative' ? `Knative ${KNATIVE_EVENTING_VERSION}'s ApiServerSource adapter` : 'the relay standing in for the ApiServerSource'}, not posture's: ${median(pipe.map((p) => p.relayMsPerRepo)).toFixed(2)} ms`,
);
console.log(
  `  the harvester got ${median(pipe.map((p) => p.eventsPerRepo)).toFixed(1)} Job events per scored repository; one it acknowledges and ignores (a Job not finished) costs it ${median(pipe.map((p) => p.ignoredEventMs)).toFixed(2)} ms; reconcile ticks for events the ${SOURCE === 'knative' ? 'adapter' : 'relay'} missed: ${pipe.map((p) => p.reconcileTicks).join(', ')}`,
);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
console.log(
  `  the machine: the control plane alone used ${median(floorRounds.map((f) => f.planeMsPerJob)).toFixed(2)} ms of CPU per Job with the machine ${pct(median(floorRounds.map((f) => f.busy)))} busy; in the pipeline ${median(pipe.map((p) => p.planeMsPerRepo)).toFixed(2)} ms per Job, the machine ${pct(median(pipe.map((p) => p.busy)))} busy (the measured batch)`,
);
console.log(`    per component, ms per Job: alone ${partsPerJob(floorRounds)}; in the pipeline ${partsPerJob(pipe)}`);
if (BARE) {
  const ratios = pipe.map((p, i) => p.harvesterMs / bare[i].harvesterMs);
  console.log(
    `the floor of a harvester (bench/_bare-harvester.ts in posture's harvester's place), median of ${ROUNDS}: ${median(bare.map((p) => p.harvesterMs)).toFixed(2)} ms per scored repository (in the kernel, with the scheduler's: ${median(bare.map((p) => p.systemMsPerRepo)).toFixed(2)}), ${median(bare.map((p) => p.eventsPerRepo)).toFixed(1)} events per repository, one ignored event ${median(bare.map((p) => p.ignoredEventMs)).toFixed(2)} ms; posture's harvester ÷ the floor per round: median ${median(ratios).toFixed(2)}x [${ratios.map((x) => x.toFixed(2)).join(', ')}]; the scheduler beside it ${median(bare.map((p) => p.schedulerMs)).toFixed(2)} ms; its pipeline ${median(bare.map((p) => p.rate)).toFixed(1)} repos/s, ${(median(bare.map((p) => p.rate)) / median(floor)).toFixed(2)} of the control plane's rate, the control plane ${median(bare.map((p) => p.planeMsPerRepo)).toFixed(2)} ms per Job`,
  );
}
if (BASELINE) {
  const cpu = pipe.map((p, i) => p.cpuMsPerRepo / baseline[i].cpuMsPerRepo);
  const harvester = pipe.map((p, i) => p.harvesterMs / baseline[i].harvesterMs);
  const rate = pipe.map((p, i) => p.rate / baseline[i].rate);
  const list = (xs: number[]) => `median ${median(xs).toFixed(2)}x [${xs.map((x) => x.toFixed(2)).join(', ')}]`;
  console.log(
    `the baseline (${BASELINE}), median of ${ROUNDS}: ${median(baseline.map((p) => p.rate)).toFixed(1)} repos/s (ratio to the control plane ${(median(baseline.map((p) => p.rate)) / median(floor)).toFixed(2)}), all harvested ${median(baseline.map((p) => p.harvested)).toFixed(2)} s, CPU ${median(baseline.map((p) => p.cpuMsPerRepo)).toFixed(2)} ms per scored repository (scheduler ${median(baseline.map((p) => p.schedulerMs)).toFixed(2)}, harvester ${median(baseline.map((p) => p.harvesterMs)).toFixed(2)})`,
  );
  console.log(`  posture ÷ the baseline per round: CPU ${list(cpu)}; the harvester's CPU ${list(harvester)}; repos/s ${list(rate)}`);
}
const m = (rounds: PipelineRound[], f: (p: PipelineRound) => number) => median(rounds.map(f));
for (const [label, rounds] of [
  ['one repository per Job', pipe],
  [`shards of ${SHARD}`, shards],
] as const) {
  console.log(
    `${label}, median of ${ROUNDS}: ${m(rounds, (p) => p.rate).toFixed(1)} repos/s (all created ${m(rounds, (p) => p.created).toFixed(2)} s, all harvested ${m(rounds, (p) => p.harvested).toFixed(2)} s); posture's CPU ${m(rounds, (p) => p.cpuMsPerRepo).toFixed(2)} ms per scored repository (scheduler ${m(rounds, (p) => p.schedulerMs).toFixed(2)}, harvester ${m(rounds, (p) => p.harvesterMs).toFixed(2)}; in the kernel ${m(rounds, (p) => p.systemMsPerRepo).toFixed(2)}; the ${SOURCE === 'knative' ? 'adapter' : 'relay'} ${m(rounds, (p) => p.relayMsPerRepo).toFixed(2)}, not posture's); ${m(rounds, (p) => p.eventsPerRepo).toFixed(2)} Job events per repository; control plane CPU ${m(rounds, (p) => p.planeMsPerRepo).toFixed(2)} ms per scored repository, the machine ${pct(m(rounds, (p) => p.busy))} busy`,
  );
  console.log(`  per component, ms per scored repository: ${partsPerJob(rounds)}`);
}
const perRound = (f: (s: PipelineRound, p: PipelineRound) => number) => shards.map((s, i) => f(s, pipe[i]));
const list = (xs: number[]) => `median ${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(2)).join(', ')}]`;
console.log(
  `shards of ${SHARD} ÷ one repository per Job, per round: repos/s ${list(perRound((s, p) => s.rate / p.rate))}; posture's CPU per scored repository ${list(perRound((s, p) => s.cpuMsPerRepo / p.cpuMsPerRepo))}; the control plane's CPU per scored repository ${list(perRound((s, p) => s.planeMsPerRepo / p.planeMsPerRepo))}`,
);
console.log(
  `shards of ${SHARD} ÷ the floor (${median(floor).toFixed(1)} one-repository Jobs/s, create to Complete), per round: ${list(shards.map((s, i) => s.rate / floor[i]))}; one repository per Job ÷ the floor: ${list(pipe.map((p, i) => p.rate / floor[i]))}`,
);
// The last line: the figures issue 35 asks for (medians of rounds).
console.log(
  `pipeline with shards of ${SHARD}: ${m(shards, (p) => p.rate).toFixed(1)} repos/s = ${(m(shards, (p) => p.rate) / median(floor)).toFixed(2)}x the one-repository-per-Job floor; posture CPU ${m(shards, (p) => p.cpuMsPerRepo).toFixed(2)} ms per scored repository; control plane CPU ${m(shards, (p) => p.planeMsPerRepo).toFixed(2)} ms per scored repository`,
);
await cp.stop();
