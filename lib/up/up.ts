// `posture up` (what `npm start` runs): the whole of posture in one process on one machine.
// The scheduler, the harvester and the score API behind the same function server as in a
// cluster, the admission server over HTTPS with a self-signed certificate, ticks from a
// timer, and Job completions turned into the CloudEvents Knative would send: from a watch of
// the cluster in the current KUBECONFIG when one answers, otherwise from a local runner of the
// `scorecard` CLI.
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { V1Job } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { CloudEvent, HTTP } from 'cloudevents';
import { alertDepsOf, createAlertsHandle, describeTargets } from '../alerts/handler.ts';
import { apiBodyLimit, createApiHandle } from '../api/index.ts';
import { httpSender, SCORE_UPDATED_TYPE, senderFromEnv } from '../changes/events.ts';
import { type Config, loadConfig } from '../config/index.ts';
import { checkConnection, type Db, dbOptions as dbOptionsOf, describeTarget, migrate, openDb, scoresChangedPage } from '../db/index.ts';
import { lockDataDir } from '../db/lock.ts';
import { queueSummary } from '../db/repo-admin.ts';
import { apiServerSourceEvent, type JobRelay, startJobRelay } from '../events/job-relay.ts';
import { createFunctionServer, listen } from '../function/server.ts';
import { githubTickSteps } from '../github/tick-steps.ts';
import { createHarvesterHandle } from '../harvest/handler.ts';
import { type HarvestDeps, harvestJob } from '../harvest/harvest.ts';
import { POSTURE_JOB_SELECTOR } from '../jobs/spec.ts';
import { type ClusterApi, clusterApi, toKubeError, transportOptionsOf } from '../kube/cluster.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { createSchedulerHandle } from '../scheduler/handler.ts';
import { type ControlRequest, type ControlStreams, controlSocketPath, startControlServer, UP_HOLDER } from './control.ts';
import { findKubeconfig } from './kubeconfig.ts';
import { findExecutable, LocalJobRunner } from './local-runner.ts';
import { selfSignedCertificate } from './tls.ts';

export interface UpOptions {
  env: Record<string, string | undefined>;
  /** Where the human-readable lines go (what runs where; a line per scored repository). */
  out: Writable;
  /** The admission function's webhooks folder (the CLI passes it on). */
  webhooksDir: string;
  /** Overrides for tests: ports (0 = any free one). */
  apiPort?: number;
  admissionPort?: number;
  /** Skip the cluster probe and use this mode. */
  mode?: 'cluster' | 'local';
  /** Tick from a timer (default true); tests call tick() themselves. */
  timer?: boolean;
  /**
   * Runs a command-line command inside this process, on its database (the control socket,
   * lib/up/control.ts). Without it, nothing listens and the CLI reports the database in use.
   */
  control?: (request: ControlRequest, streams: ControlStreams, database: { config: Config; db: Db }) => Promise<number>;
  /** How long without a line before an idle heartbeat is printed (default 5 minutes). */
  heartbeatMs?: number;
}

/** The scheduler's reply to a tick, as `posture up` reads it (the summary's fields it prints). */
export interface TickReply {
  status: string;
  slot?: string;
  created?: number;
  active?: number;
  errors?: string[];
  /** The fleet paused for GitHub's sake (FleetPause, lib/cadence/pause.ts). */
  paused?: { reason: string; message: string; until?: string };
  [field: string]: unknown;
}

export interface UpHandle {
  config: Config;
  db: Db;
  mode: 'cluster' | 'local' | 'idle';
  apiUrl: string;
  admissionUrl?: string;
  /** The control socket's path, when commands can run through this process. */
  controlSocket?: string;
  /** Prints the idle heartbeat now (the timer does this after heartbeatMs without a line). */
  heartbeat(): Promise<void>;
  /** Sends one tick for the minute of `at` (the timer does this every POSTURE_TICK_SECONDS). */
  tick(at?: Date): Promise<TickReply>;
  stop(): Promise<void>;
}

async function postEvent(url: string, event: CloudEvent<unknown>): Promise<{ status: number; event?: CloudEvent<unknown>; body: string }> {
  const msg = HTTP.binary(event);
  const res = await fetch(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
  const body = await res.text();
  const headers = Object.fromEntries(res.headers);
  const reply = HTTP.isEvent({ headers, body }) ? (HTTP.toEvent({ headers, body }) as CloudEvent<unknown>) : undefined;
  return { status: res.status, event: reply, body };
}

/** Does a cluster answer at the current KUBECONFIG? Any HTTP answer counts, within 3 s. */
async function probeCluster(config: Config, env: Record<string, string | undefined>): Promise<{ kc: k8s.KubeConfig; api: ClusterApi } | { why: string }> {
  const kc = new k8s.KubeConfig();
  const source = findKubeconfig(env);
  if (source.kind === 'none') return { why: source.why };
  try {
    if (source.kind === 'file') kc.loadFromFile(source.path);
    else kc.loadFromCluster();
  } catch (err) {
    return { why: `no usable kubeconfig (${(err as Error).message})` };
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) return { why: 'no current cluster in the kubeconfig' };
  const api = clusterApi(kc, transportOptionsOf(config));
  try {
    await Promise.race([
      api.listJobMetadataPage(config.namespace, POSTURE_JOB_SELECTOR, { limit: 1 }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000)),
    ]);
    return { kc, api };
  } catch (err) {
    const e = toKubeError(err);
    if (e.status > 0) return { kc, api }; // it answered, if only to refuse: report errors per tick
    return { why: `${cluster.server}: ${e.message}` };
  }
}

async function prepareNamespace(kc: k8s.KubeConfig, config: Config, env: Record<string, string | undefined>, say: (s: string) => void): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: config.namespace } } }).then(
    () => say(`created namespace ${config.namespace}`),
    (err) => {
      const e = toKubeError(err);
      if (e.status !== 409) say(`cannot create namespace ${config.namespace}: ${e.message}`);
    },
  );
  const token = env.GITHUB_AUTH_TOKEN ?? env.GITHUB_TOKEN;
  try {
    await core.readNamespacedSecret({ name: config.githubTokenSecret, namespace: config.namespace });
  } catch {
    if (!token) {
      say(`warning: Secret ${config.namespace}/${config.githubTokenSecret} is missing and GITHUB_AUTH_TOKEN is not set: Scorecard pods will not start`);
      return;
    }
    await core
      .createNamespacedSecret({
        namespace: config.namespace,
        body: { metadata: { name: config.githubTokenSecret }, stringData: { [config.githubTokenSecretKey]: token } },
      })
      .then(() => say(`created Secret ${config.namespace}/${config.githubTokenSecret} from GITHUB_AUTH_TOKEN`))
      .catch((err) => say(`cannot create Secret ${config.githubTokenSecret}: ${toKubeError(err).message}`));
  }
}

export async function up(o: UpOptions): Promise<UpHandle> {
  let lastLine = Date.now();
  const say = (s: string) => {
    lastLine = Date.now();
    o.out.write(`${s}\n`);
  };
  const config = loadConfig(o.env);
  const log: Logger = createLogger({ level: o.env.POSTURE_LOG_LEVEL ?? 'warn', name: 'posture-up', destination: process.stderr as never });
  const release = config.databaseUrl ? () => {} : lockDataDir(config.dataDir, UP_HOLDER);
  const dbOptions = dbOptionsOf(config);
  const db = openDb(dbOptions);
  const servers: Server[] = [];
  const stops: Array<() => unknown> = [];
  try {
    await checkConnection(db, dbOptions);
    await migrate(db);
  } catch (err) {
    await db.destroy().catch(() => {});
    release();
    throw err;
  }
  say(`database: ${describeTarget(dbOptions)}`);
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => {});
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await db.destroy();
    release();
  };
  try {
    return await start();
  } catch (err) {
    await stopAll();
    throw err;
  }

  async function start(): Promise<UpHandle> {
    // Where Jobs run.
    let mode: UpHandle['mode'] = 'idle';
    let cluster: ClusterApi | undefined;
    let kc: k8s.KubeConfig | undefined;
    let runner: LocalJobRunner | undefined;
    const probed = o.mode === 'local' ? { why: 'local mode requested' } : await probeCluster(config, o.env);
    if ('api' in probed) {
      mode = 'cluster';
      cluster = probed.api;
      kc = probed.kc;
      say(`jobs: Kubernetes at ${kc.getCurrentCluster()?.server}, namespace ${config.namespace} (at most ${config.maxConcurrentJobs} at once)`);
      await prepareNamespace(kc, config, o.env, say);
    } else {
      const exe = findExecutable('scorecard', o.env.PATH);
      if (exe) {
        mode = 'local';
        runner = new LocalJobRunner({ executable: exe, logByteCap: config.logByteCap * config.shardSize, env: o.env, onFinished: (job) => void deliver(job) });
        cluster = runner;
        stops.push(() => runner!.stopAll());
        say(`jobs: no cluster (${probed.why}); running ${exe} locally (at most ${config.maxConcurrentJobs} at once)`);
        if (!o.env.GITHUB_AUTH_TOKEN && !o.env.GITHUB_TOKEN) say('warning: GITHUB_AUTH_TOKEN is not set; Scorecard needs a GitHub token');
      } else {
        say(`jobs: none. No cluster answered (${probed.why}) and \`scorecard\` is not on PATH.`);
        say('      Install the Scorecard CLI (https://github.com/ossf/scorecard#installation) or point KUBECONFIG at a cluster; repositories stay queued.');
      }
    }

    // Functions, served exactly as in a cluster (the scheduler and harvester only where Jobs can run).
    // The alerts take the harvester's score.changed events, as the Broker's Trigger does in a
    // cluster (unless K_SINK sends them elsewhere).
    const alertTargets = describeTargets(config);
    for (const w of alertTargets.warnings) say(`warning: ${w}`);
    const alertDeps = alertDepsOf({ config, db, log });
    const alerts = createFunctionServer({ name: 'alerts', handle: createAlertsHandle(async () => alertDeps), log });
    servers.push(alerts);
    const alertsUrl = `http://127.0.0.1:${await listen(alerts, 0, '127.0.0.1')}/`;
    say(`alerts: webhook ${alertTargets.webhook}, GitHub issues ${alertTargets.githubIssues}`);
    let harvesterUrl = '';
    let schedulerUrl = '';
    if (cluster) {
      const deps: HarvestDeps = { db, cluster, config, log };
      const harvest = createHarvesterHandle(async () => deps, { sendEvent: senderFromEnv(o.env) ?? httpSender(alertsUrl, 600_000) });
      stops.push(() => harvest.drain());
      const harvester = createFunctionServer({ name: 'harvester', handle: harvest, log });
      const scheduler = createFunctionServer({
        name: 'scheduler',
        handle: createSchedulerHandle(async () => ({ ...deps, ...githubTickSteps(deps), harvest: (job: V1Job) => harvestJob(job, deps) })),
        log,
      });
      servers.push(harvester, scheduler);
      harvesterUrl = `http://127.0.0.1:${await listen(harvester, 0)}/`;
      schedulerUrl = `http://127.0.0.1:${await listen(scheduler, 0)}/`;
    }
    const api = createFunctionServer({ name: 'api', handle: createApiHandle(async () => ({ db, config, log })), log, metrics: false, bodyLimit: apiBodyLimit });
    servers.push(api);
    const apiPort = await listen(api, o.apiPort ?? config.port, '127.0.0.1');
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    say(`score API: ${apiUrl}/projects/github.com/<owner>/<repo>`);
    say(`dashboard: ${apiUrl}/ui`);

    // Admission, over HTTPS as the API server would call it.
    let admissionUrl: string | undefined;
    let onScore: ((e: CloudEvent<unknown>) => void) | undefined;
    try {
      const { createAdmissionApp } = await import('../admission/app.ts');
      const tls = config.tlsCertFile ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile! } : await selfSignedCertificate(join(config.dataDir, 'tls'));
      const app = await createAdmissionApp({
        config,
        scoreFeed: { scoresChangedSince: (since, page) => scoresChangedPage(db, since, page) },
        logger: log,
        webhooksDir: o.webhooksDir,
      });
      const server = await app.serve({ port: o.admissionPort ?? config.admissionPort, host: '127.0.0.1', certFile: tls.certFile, keyFile: tls.keyFile });
      admissionUrl = `https://127.0.0.1:${server.port}`;
      onScore = (e) => void app.onScoreEvent(e);
      stops.push(
        () => server.stop(),
        () => app.close(),
      );
      say(`admission: ${admissionUrl} (webhooks: ${app.registry.webhooks.map((w) => w.name).join(' ')}; certificate ${tls.certFile})`);
    } catch (err) {
      say(`admission: not started: ${(err as Error).message}`);
    }

    // Completions → the CloudEvents an ApiServerSource would send → the harvester.
    const deliver = async (job: V1Job) => {
      const r = await postEvent(
        harvesterUrl,
        apiServerSourceEvent('dev.knative.apiserver.resource.update', job, mode === 'local' ? 'posture-up/local' : (kc?.getCurrentCluster()?.server ?? '')),
      );
      if (r.status >= 500) throw new Error(`harvester answered ${r.status}`);
      if (r.event?.type === SCORE_UPDATED_TYPE) {
        type Update = { repo: string; score: number | null; failure: string | null; reason: string | null; flagged: boolean };
        // A shard's reply lists each repository it stored; a one-repository Job's is that repository.
        const data = r.event.data as Update | { results: Update[] };
        for (const d of 'results' in data ? data.results : [data]) {
          say(
            d.failure
              ? `${d.repo}: ${d.failure === 'not-reached' ? 'not reached, due again' : `failed (${d.failure})`} ${d.failure === 'not-reached' ? '' : (d.reason ?? '')}`.trimEnd()
              : `${d.repo}: scored ${d.score?.toFixed(1)}${d.flagged ? ' (some checks reported internal errors)' : ''}`,
          );
        }
        onScore?.(r.event);
      }
    };
    let relay: JobRelay | undefined;
    if (mode === 'cluster' && kc) {
      relay = await startJobRelay({ kc, namespace: config.namespace, labelSelector: POSTURE_JOB_SELECTOR, log, send: (e) => deliver(e.data as V1Job) });
      stops.push(() => relay!.stop());
    }

    // Ticks from a timer, as PingSource events.
    let nextTickAt: Date | undefined;
    let pausedSaid: string | null = null;
    const tick = async (at: Date = new Date()) => {
      if (mode === 'idle') return { status: 'idle' } as TickReply;
      const r = await postEvent(
        schedulerUrl,
        new CloudEvent({ type: 'dev.knative.sources.ping', source: 'posture-up/timer', time: at.toISOString(), data: {} }),
      );
      const body = JSON.parse(r.body || '{}') as TickReply;
      if (body.status !== 'duplicate' && ((body.created ?? 0) > 0 || body.errors?.length))
        say(
          `tick ${body.slot}: ${body.created} started, ${body.active} running${body.errors?.length ? `, errors: ${body.errors.slice(0, 3).join('; ')}` : ''}`,
        );
      if (body.status === 'done') {
        // Said once when the fleet pauses for GitHub's sake, and once when it resumes.
        const now = body.paused?.message ?? null;
        if (now !== pausedSaid) say(now ? `paused: ${now}` : 'resumed: the fleet is no longer paused');
        pausedSaid = now;
      }
      return body;
    };
    const runTick = () => {
      nextTickAt = new Date(Date.now() + config.tickSeconds * 1000);
      void tick().catch((err) => say(`tick failed: ${(err as Error).message}`));
    };
    if (o.timer !== false) {
      const timer = setInterval(runTick, config.tickSeconds * 1000);
      stops.push(() => clearInterval(timer));
      runTick();
    }

    // Commands from the command line, through this process (it holds the embedded database).
    let controlSocket: string | undefined;
    if (o.control && !config.databaseUrl) {
      const control = o.control;
      const server = await startControlServer(
        controlSocketPath(config.dataDir),
        (req, streams) => control(req, streams, { config, db }),
        (err) => log.warn({ err: err.message }, 'control connection failed'),
      );
      controlSocket = server.path;
      stops.push(() => server.close());
    }

    // What it waits for, now and whenever it has been quiet for a while.
    const hhmm = (d: Date) => `${d.toISOString().slice(11, 16)}Z`;
    const heartbeat = async () => {
      const q = await queueSummary(db, config.stuckAfterRuns);
      const parts = [`${q.total} ${q.total === 1 ? 'repository' : 'repositories'}`, `${q.due} due`, `${q.running} running`];
      if (q.failing > 0) parts.push(`${q.failing} failing`);
      if (q.stuck > 0) parts.push(`${q.stuck} stuck (see: posture repos list --state stuck)`);
      if (q.nextDueAt) parts.push(`next due ${q.nextDueAt.toISOString().replace(/:\d\d\.\d+Z$/, 'Z')}`);
      const ticks = mode === 'idle' ? 'no ticks: nothing can run Jobs (see "jobs:" above)' : nextTickAt ? `next tick ${hhmm(nextTickAt)}` : 'ticks off';
      say(`idle: ${parts.join(', ')}; ${ticks}`);
    };
    const add = controlSocket ? 'npm run posture -- repos add <owner/repo> (it goes through this process)' : 'npm run posture -- repos add <owner/repo>';
    say(`ticks: every ${config.tickSeconds} s${mode === 'idle' ? ' once something can run Jobs' : ''}.`);
    const q = await queueSummary(db);
    if (q.total === 0) say(`waiting for repositories: add some with ${add}`);
    else
      say(
        `waiting for: ${q.due} of ${q.total} repositories due${mode === 'idle' ? ', and a cluster or `scorecard` to run them' : q.due > 0 ? ', Jobs for them start at the first tick' : q.nextDueAt ? `; the next is due ${q.nextDueAt.toISOString().replace(/:\d\d\.\d+Z$/, 'Z')}` : ''}`,
      );
    const heartbeatMs = o.heartbeatMs ?? 300_000;
    const beat = setInterval(
      () => {
        if (Date.now() - lastLine >= heartbeatMs) void heartbeat().catch((err) => say(`idle: cannot read the queue: ${(err as Error).message}`));
      },
      Math.max(50, Math.min(heartbeatMs, 60_000)),
    );
    stops.push(() => clearInterval(beat));

    return {
      config,
      db,
      mode,
      apiUrl,
      admissionUrl,
      controlSocket,
      heartbeat,
      tick,
      stop: stopAll,
    };
  }
}
