// `posture up` (what `npm start` runs): the whole of posture in one process on one machine.
// The scheduler, the harvester and the score API behind the same function server as in a
// cluster, the admission server over HTTPS with a self-signed certificate, ticks from a
// timer, and Job completions turned into the CloudEvents Knative would send: from a watch of
// the cluster in the current KUBECONFIG when one answers, otherwise from a local runner of the
// `scorecard` CLI.
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { CloudEvent, HTTP } from 'cloudevents';
import type { V1Job } from '@kubernetes/client-node';
import { createApiHandle } from '../api/index.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { checkConnection, describeTarget, migrate, openDb, scoresChangedSince, type Db } from '../db/index.ts';
import { lockDataDir } from '../db/lock.ts';
import { createHarvesterHandle, SCORE_UPDATED_TYPE } from '../harvest/handler.ts';
import { harvestJob, type HarvestDeps } from '../harvest/harvest.ts';
import { POSTURE_JOB_SELECTOR } from '../jobs/spec.ts';
import { clusterApi, toKubeError, transportOptionsOf, type ClusterApi } from '../kube/cluster.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { apiServerSourceEvent, startJobRelay, type JobRelay } from '../events/job-relay.ts';
import { createSchedulerHandle } from '../scheduler/handler.ts';
import { createFunctionServer, listen } from '../function/server.ts';
import { findExecutable, LocalJobRunner } from './local-runner.ts';
import { selfSignedCertificate } from './tls.ts';

export interface UpOptions {
  env: Record<string, string | undefined>;
  /** Where the human-readable lines go (what runs where; a line per scored repository). */
  out: Writable;
  /** Overrides for tests: ports (0 = any free one). */
  apiPort?: number;
  admissionPort?: number;
  /** Skip the cluster probe and use this mode. */
  mode?: 'cluster' | 'local';
  /** Tick from a timer (default true); tests call tick() themselves. */
  timer?: boolean;
}

export interface UpHandle {
  config: Config;
  db: Db;
  mode: 'cluster' | 'local' | 'idle';
  apiUrl: string;
  admissionUrl?: string;
  /** Sends one tick for the minute of `at` (the timer does this every POSTURE_TICK_SECONDS). */
  tick(at?: Date): Promise<any>;
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
  try {
    // As kubectl: $KUBECONFIG (its first file), else ~/.kube/config, else in-cluster.
    const file = env.KUBECONFIG?.split(':').find((f) => f !== '');
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    return { why: `no usable kubeconfig (${(err as Error).message})` };
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) return { why: 'no current cluster in the kubeconfig' };
  const api = clusterApi(kc, transportOptionsOf(config));
  try {
    await Promise.race([api.listJobMetadataPage(config.namespace, POSTURE_JOB_SELECTOR, { limit: 1 }), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000))]);
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
      .createNamespacedSecret({ namespace: config.namespace, body: { metadata: { name: config.githubTokenSecret }, stringData: { [config.githubTokenSecretKey]: token } } })
      .then(() => say(`created Secret ${config.namespace}/${config.githubTokenSecret} from GITHUB_AUTH_TOKEN`))
      .catch((err) => say(`cannot create Secret ${config.githubTokenSecret}: ${toKubeError(err).message}`));
  }
}

export async function up(o: UpOptions): Promise<UpHandle> {
  const say = (s: string) => o.out.write(s + '\n');
  const config = loadConfig(o.env);
  const log: Logger = createLogger({ level: o.env.POSTURE_LOG_LEVEL ?? 'warn', name: 'posture-up', destination: process.stderr as never });
  const release = config.databaseUrl ? () => {} : lockDataDir(config.dataDir, 'posture up');
  const dbOptions = { databaseUrl: config.databaseUrl, dataDir: config.dataDir };
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
        runner = new LocalJobRunner({ executable: exe, logByteCap: config.logByteCap, env: o.env, onFinished: (job) => void deliver(job) });
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
    let harvesterUrl = '';
    let schedulerUrl = '';
    if (cluster) {
      const deps: HarvestDeps = { db, cluster, config, log };
      const harvester = createFunctionServer({ name: 'harvester', handle: createHarvesterHandle(async () => deps), log });
      const scheduler = createFunctionServer({ name: 'scheduler', handle: createSchedulerHandle(async () => ({ ...deps, harvest: (job: V1Job) => harvestJob(job, deps) })), log });
      servers.push(harvester, scheduler);
      harvesterUrl = `http://127.0.0.1:${await listen(harvester, 0)}/`;
      schedulerUrl = `http://127.0.0.1:${await listen(scheduler, 0)}/`;
    }
    const api = createFunctionServer({ name: 'api', handle: createApiHandle(async () => ({ db, config, log })), log });
    servers.push(api);
    const apiPort = await listen(api, o.apiPort ?? config.port, '127.0.0.1');
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    say(`score API: ${apiUrl}/projects/github.com/<owner>/<repo>`);

    // Admission, over HTTPS as the API server would call it.
    let admissionUrl: string | undefined;
    let onScore: ((e: CloudEvent<unknown>) => void) | undefined;
    try {
      const { createAdmissionApp } = await import('../../functions/admission/app.ts');
      const tls = config.tlsCertFile ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile! } : await selfSignedCertificate(join(config.dataDir, 'tls'));
      const app = await createAdmissionApp({ config, scoreFeed: { scoresChangedSince: (since) => scoresChangedSince(db, since) }, logger: log });
      const server = await app.serve({ port: o.admissionPort ?? config.admissionPort, host: '127.0.0.1', certFile: tls.certFile, keyFile: tls.keyFile });
      admissionUrl = `https://127.0.0.1:${server.port}`;
      onScore = (e) => void app.onScoreEvent(e);
      stops.push(() => server.stop(), () => app.close());
      say(`admission: ${admissionUrl} (webhooks: ${app.registry.webhooks.map((w) => w.name).join(' ')}; certificate ${tls.certFile})`);
    } catch (err) {
      say(`admission: not started: ${(err as Error).message}`);
    }

    // Completions → the CloudEvents an ApiServerSource would send → the harvester.
    const deliver = async (job: V1Job) => {
      const r = await postEvent(harvesterUrl, apiServerSourceEvent('dev.knative.apiserver.resource.update', job, mode === 'local' ? 'posture-up/local' : (kc?.getCurrentCluster()?.server ?? '')));
      if (r.status >= 500) throw new Error(`harvester answered ${r.status}`);
      if (r.event?.type === SCORE_UPDATED_TYPE) {
        const d = r.event.data as { repo: string; score: number | null; failure: string | null; reason: string | null; flagged: boolean };
        say(d.failure ? `${d.repo}: failed (${d.failure}) ${d.reason ?? ''}` : `${d.repo}: scored ${d.score?.toFixed(1)}${d.flagged ? ' (some checks reported internal errors)' : ''}`);
        onScore?.(r.event);
      }
    };
    let relay: JobRelay | undefined;
    if (mode === 'cluster' && kc) {
      relay = await startJobRelay({ kc, namespace: config.namespace, labelSelector: POSTURE_JOB_SELECTOR, log, send: (e) => deliver(e.data as V1Job) });
      stops.push(() => relay!.stop());
    }

    // Ticks from a timer, as PingSource events.
    const tick = async (at: Date = new Date()) => {
      if (mode === 'idle') return { status: 'idle' };
      const r = await postEvent(schedulerUrl, new CloudEvent({ type: 'dev.knative.sources.ping', source: 'posture-up/timer', time: at.toISOString(), data: {} }));
      const body = JSON.parse(r.body || '{}');
      if (body.status !== 'duplicate' && (body.created > 0 || body.errors?.length)) say(`tick ${body.slot}: ${body.created} started, ${body.active} running${body.errors?.length ? `, errors: ${body.errors.slice(0, 3).join('; ')}` : ''}`);
      return body;
    };
    if (o.timer !== false) {
      const timer = setInterval(() => void tick().catch((err) => say(`tick failed: ${(err as Error).message}`)), config.tickSeconds * 1000);
      stops.push(() => clearInterval(timer));
      void tick().catch((err) => say(`tick failed: ${(err as Error).message}`));
    }
    say(`ticks: every ${config.tickSeconds} s. Add repositories with: npm run posture -- repos add <owner/repo> (after stopping this), or set DATABASE_URL to share PostgreSQL`);

    return {
      config,
      db,
      mode,
      apiUrl,
      admissionUrl,
      tick,
      stop: stopAll,
    };
  }
}
