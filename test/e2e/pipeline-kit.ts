// The whole posture pipeline wired over real HTTP against the local control plane: the
// scheduler and harvester functions behind the function server, a Job relay sending the
// CloudEvents an ApiServerSource would, and a database. Shared by the pipeline tests and bench.
import type { Server } from 'node:http';
import type { KubeConfig, V1Job } from '@kubernetes/client-node';
import { CloudEvent, HTTP } from 'cloudevents';
import { type Config, defaultConfig } from '../../lib/config/index.ts';
import { migrate } from '../../lib/db/index.ts';
import { createPostgresDatabase, type TestDatabase } from '../../lib/db/testing.ts';
import { type JobRelay, startJobRelay } from '../../lib/events/job-relay.ts';
import { createFunctionServer, listen } from '../../lib/function/server.ts';
import { createHarvesterHandle } from '../../lib/harvest/handler.ts';
import { type HarvestDeps, harvestJob } from '../../lib/harvest/harvest.ts';
import { POSTURE_JOB_SELECTOR } from '../../lib/jobs/spec.ts';
import { type ClusterApi, clusterApi, toKubeError } from '../../lib/kube/cluster.ts';
import { createLogger, silentLogger } from '../../lib/log/index.ts';
import { createSchedulerHandle } from '../../lib/scheduler/handler.ts';
import type { ControlPlane } from '../cluster/harness.ts';

export interface Pipeline {
  config: Config;
  database: TestDatabase;
  deps: HarvestDeps;
  schedulerUrl: string;
  harvesterUrl: string;
  relay: JobRelay;
  /** Decides what happens to each relayed event before it is POSTed (drop, repeat...). */
  setRelayFilter(f: (event: CloudEvent<V1Job>) => CloudEvent<V1Job>[]): void;
  /** POSTs a PingSource event for this minute, as a CronJob's curl would (binary mode). */
  ping(slotTime: Date, mode?: 'binary' | 'structured'): Promise<{ status: number; body: any }>;
  /** Every Kubernetes call the scheduler and the harvester made, with its outcome. */
  kubeCalls: KubeCall[];
  close(): Promise<void>;
}

/** One ClusterApi call: which function made it, which call, and 'ok' or the HTTP status (0: no answer). */
export interface KubeCall {
  fn: 'scheduler' | 'harvester';
  call: keyof ClusterApi;
  outcome: 'ok' | number;
  /** The ClusterApi call's own result, e.g. createJob's 409 handled as "already exists". */
  detail?: string;
}

export interface PipelineOptions {
  /**
   * Identities to run as (default: the admin KubeConfig of the control plane): the scheduler's
   * and the harvester's Kubernetes calls, and the relay standing in for the ApiServerSource.
   */
  kubeConfigs?: { scheduler?: KubeConfig; harvester?: KubeConfig; relay?: KubeConfig };
}

/** Wraps a ClusterApi so every call and its outcome is recorded. */
export function recordingClusterApi(inner: ClusterApi, fn: KubeCall['fn'], calls: KubeCall[]): ClusterApi {
  const wrap = <K extends keyof ClusterApi>(call: K): ClusterApi[K] =>
    (async (...args: unknown[]) => {
      try {
        const r = await (inner[call] as (...a: unknown[]) => Promise<unknown>)(...args);
        calls.push({ fn, call, outcome: 'ok', ...(call === 'createJob' && !(r as { created: boolean }).created ? { detail: 'existed' } : {}) });
        return r;
      } catch (err) {
        calls.push({ fn, call, outcome: toKubeError(err).status, detail: toKubeError(err).message });
        throw err;
      }
    }) as ClusterApi[K];
  return {
    createJob: wrap('createJob'),
    getJob: wrap('getJob'),
    listJobs: wrap('listJobs'),
    listJobMetadataPage: wrap('listJobMetadataPage'),
    listPods: wrap('listPods'),
    listEvents: wrap('listEvents'),
    streamPodLog: wrap('streamPodLog'),
    deleteJob: wrap('deleteJob'),
    deleteJobCollection: wrap('deleteJobCollection'),
  };
}

export async function postEvent(url: string, event: CloudEvent<unknown>, mode: 'binary' | 'structured' = 'binary'): Promise<{ status: number; body: any }> {
  const msg = mode === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
  const res = await fetch(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

export async function startPipeline(cp: ControlPlane, namespace: string, overrides: Partial<Config> = {}, options: PipelineOptions = {}): Promise<Pipeline> {
  const database = await createPostgresDatabase();
  await migrate(database.db);
  // One repository per Job unless a test says otherwise: these tests script each Job's pod log by
  // its one repository's Job name (shards are the fault e2e's, the database tests' and the real node's).
  const config = defaultConfig({ namespace, githubTokenCount: 0, jitterSeconds: 0, maxConcurrentJobs: 100, claimBatch: 100, shardSize: 1, ...overrides });
  const log = process.env.POSTURE_TEST_LOG ? createLogger({ level: 'debug', name: 'e2e' }) : silentLogger;
  const deps: HarvestDeps = { db: database.db, cluster: clusterApi(cp.kc), config, log, random: () => 0 };
  const kubeCalls: KubeCall[] = [];
  const kcs = options.kubeConfigs ?? {};
  const harvesterDeps: HarvestDeps = {
    ...deps,
    cluster: recordingClusterApi(kcs.harvester ? clusterApi(kcs.harvester) : deps.cluster, 'harvester', kubeCalls),
  };
  // The scheduler's reconcile harvests missed Jobs with the scheduler's own identity.
  const schedulerDeps: HarvestDeps = {
    ...deps,
    cluster: recordingClusterApi(kcs.scheduler ? clusterApi(kcs.scheduler) : deps.cluster, 'scheduler', kubeCalls),
  };
  const servers: Server[] = [];
  const harvester = createFunctionServer({ name: 'harvester', handle: createHarvesterHandle(async () => harvesterDeps), log });
  const scheduler = createFunctionServer({
    name: 'scheduler',
    handle: createSchedulerHandle(async () => ({ ...schedulerDeps, harvest: (job) => harvestJob(job, schedulerDeps) })),
    log,
  });
  servers.push(harvester, scheduler);
  const harvesterUrl = `http://127.0.0.1:${await listen(harvester, 0)}/`;
  const schedulerUrl = `http://127.0.0.1:${await listen(scheduler, 0)}/`;
  let filter = (e: CloudEvent<V1Job>) => [e];
  const relay = await startJobRelay({
    kc: kcs.relay ?? cp.kc,
    namespace,
    labelSelector: POSTURE_JOB_SELECTOR,
    log,
    send: async (event) => {
      for (const e of filter(event)) {
        const r = await postEvent(harvesterUrl, e);
        if (r.status >= 500 || r.status === 429) throw new Error(`harvester answered ${r.status}`);
      }
    },
  });
  return {
    config,
    database,
    deps,
    schedulerUrl,
    harvesterUrl,
    relay,
    kubeCalls,
    setRelayFilter(f) {
      filter = f;
    },
    ping(slotTime, mode = 'binary') {
      return postEvent(
        schedulerUrl,
        new CloudEvent({ type: 'dev.knative.sources.ping', source: '/apis/v1/namespaces/posture/pingsources/tick', time: slotTime.toISOString(), data: {} }),
        mode,
      );
    },
    async close() {
      relay.stop();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      for (const s of servers) s.closeAllConnections();
      await database.drop();
    },
  };
}
