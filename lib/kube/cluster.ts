// The Kubernetes calls posture makes, behind one small interface so decisions can be tested
// without a cluster and the real client is exercised against a real API server.

import type { V1Job, V1Pod } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { errorFromResponse, KubeError, sharedTransport, type TransportOptions } from './transport.ts';

export { KubeError } from './transport.ts';

/** The fields of a core/v1 Event posture reads (lib/jobs/events.ts). */
export interface KubeEvent {
  metadata?: { uid?: string };
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string; uid?: string };
  firstTimestamp?: Date | string | null;
  lastTimestamp?: Date | string | null;
  eventTime?: Date | string | null;
}

export interface LogChunks {
  chunks: AsyncIterable<Buffer | string>;
  /** Stops the transfer (after the byte cap). */
  abort(): void;
}

export interface JobMetadataPage {
  jobs: Array<{ name: string; uid: string }>;
  continue?: string;
  restarted: boolean;
}

export interface ClusterApi {
  /** Creates a Job; an existing Job of that name is reported, not thrown (a retried create). */
  /** `timeoutMs` bounds this call (the scheduler's: never past its lease's end). */
  createJob(namespace: string, job: V1Job, options?: { timeoutMs?: number }): Promise<{ created: boolean; job: V1Job }>;
  getJob(namespace: string, name: string): Promise<V1Job | undefined>;
  listJobs(namespace: string, labelSelector: string): Promise<V1Job[]>;
  /**
   * One page of Job names and uids (metadata only). `restarted`: the continue token had expired
   * (410) and this page is the first of a new listing.
   */
  listJobMetadataPage(namespace: string, labelSelector: string, page: { limit: number; continue?: string }): Promise<JobMetadataPage>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  /** core/v1 Events of the namespace matching a field selector (`involvedObject.uid=…`). */
  listEvents(namespace: string, fieldSelector: string): Promise<KubeEvent[]>;
  /**
   * Streams a container's log; limitBytes is enforced by the API server too. With tailLines,
   * only the last lines are sent (and limitBytes is not passed: it would cut the tail's end).
   */
  streamPodLog(namespace: string, pod: string, container: string, limitBytes: number, options?: { tailLines?: number }): Promise<LogChunks>;
  /** Deletes a Job and (background propagation) its pods; only the Job with this uid. */
  deleteJob(namespace: string, name: string, uid?: string): Promise<void>;
  /**
   * Deletes every Job the label selector selects, in one call (a delete collection), and
   * (background propagation) their pods. Returns how many were deleted.
   */
  deleteJobCollection(namespace: string, labelSelector: string): Promise<number>;
}

export function toKubeError(err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { code?: unknown; body?: unknown; headers?: Record<string, string>; message?: string; cause?: { code?: string } };
  if (typeof e?.code === 'number') {
    // client-node's ApiException (code, body, headers): the same reading as our own transport's.
    if (typeof e.body === 'string' || e.headers)
      return errorFromResponse(e.code, e.headers ?? {}, typeof e.body === 'string' ? e.body : JSON.stringify(e.body ?? ''));
    let body = e.body as { message?: string; reason?: string } | string | undefined;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body) as { message?: string; reason?: string };
      } catch {
        /* not a Status */
      }
    }
    const msg = typeof body === 'object' && body?.message ? body.message : (e.message ?? `HTTP ${e.code}`);
    const reason = typeof body === 'object' && body?.reason ? body.reason : '';
    return new KubeError(e.code, `HTTP ${e.code}: ${firstLine(msg)}`, reason);
  }
  return new KubeError(0, `cannot reach the Kubernetes API: ${firstLine(e?.cause?.code ?? e?.message ?? String(err))}`);
}

function firstLine(s: string): string {
  return String(s).split('\n')[0].slice(0, 500);
}

const PAGE = 500;
/** Asks the API server for metadata only (no spec, no status): a fraction of a Job's bytes. */
const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

const jobsPath = (ns: string) => `/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs`;
const podsPath = (ns: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`;
const eventsPath = (ns: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/events`;

interface ListOf<T> {
  items: T[];
  metadata?: { continue?: string; resourceVersion?: string };
}

/**
 * Pages through a list. A 410 on a continue token (the snapshot it names was compacted away)
 * goes on with the inconsistent token the server offers, or starts over; items are deduplicated
 * by uid so a restart never reports an object twice.
 */
export async function listAll<T extends { metadata?: { uid?: string } }>(page: (cont: string | undefined) => Promise<ListOf<T>>): Promise<T[]> {
  const out = new Map<string, T>();
  let anonymous = 0;
  let cont: string | undefined;
  for (let restarts = 0; ; ) {
    let got: ListOf<T>;
    try {
      got = await page(cont);
    } catch (err) {
      const e = toKubeError(err);
      if (e.status !== 410 || cont === undefined || restarts >= 3) throw e;
      restarts++;
      cont = e.continueToken;
      continue;
    }
    for (const item of got.items ?? []) out.set(item.metadata?.uid ?? `#${anonymous++}`, item);
    cont = got.metadata?.continue || undefined;
    if (!cont) return [...out.values()];
  }
}

/** The real implementation: client-node's types and kubeconfig handling, posture's own transport. */
export function clusterApi(kc: k8s.KubeConfig, options: Partial<TransportOptions> = {}): ClusterApi {
  const t = sharedTransport(kc, options);
  return {
    async createJob(namespace, job, options = {}) {
      try {
        return { created: true, job: await t.json<V1Job>({ method: 'POST', path: jobsPath(namespace), body: job, timeoutMs: options.timeoutMs }) };
      } catch (err) {
        const e = toKubeError(err);
        if (e.status !== 409) throw e;
        const existing = await t.json<V1Job>({ method: 'GET', path: `${jobsPath(namespace)}/${encodeURIComponent(job.metadata!.name!)}` });
        return { created: false, job: existing };
      }
    },
    async getJob(namespace, name) {
      try {
        return await t.json<V1Job>({ method: 'GET', path: `${jobsPath(namespace)}/${encodeURIComponent(name)}` });
      } catch (err) {
        const e = toKubeError(err);
        if (e.status === 404) return undefined;
        throw e;
      }
    },
    async listJobs(namespace, labelSelector) {
      return listAll((cont) => t.json<ListOf<V1Job>>({ method: 'GET', path: jobsPath(namespace), query: { labelSelector, limit: PAGE, continue: cont } }));
    },
    async listJobMetadataPage(namespace, labelSelector, page) {
      let got: ListOf<{ metadata?: { name?: string; uid?: string } }>;
      let restarted = false;
      try {
        got = await t.json({
          method: 'GET',
          path: jobsPath(namespace),
          accept: METADATA_ONLY,
          query: { labelSelector, limit: page.limit, continue: page.continue },
        });
      } catch (err) {
        const e = toKubeError(err);
        if (e.status !== 410 || !page.continue) throw e;
        // The cursor expired between ticks: begin again (a sweep only needs to cover every Job eventually).
        restarted = true;
        got = await t.json({ method: 'GET', path: jobsPath(namespace), accept: METADATA_ONLY, query: { labelSelector, limit: page.limit } });
      }
      return {
        jobs: (got.items ?? []).map((i) => ({ name: i.metadata?.name ?? '', uid: i.metadata?.uid ?? '' })),
        continue: got.metadata?.continue || undefined,
        restarted,
      };
    },
    async listPods(namespace, labelSelector) {
      return listAll((cont) => t.json<ListOf<V1Pod>>({ method: 'GET', path: podsPath(namespace), query: { labelSelector, limit: PAGE, continue: cont } }));
    },
    async listEvents(namespace, fieldSelector) {
      return listAll((cont) =>
        t.json<ListOf<KubeEvent>>({ method: 'GET', path: eventsPath(namespace), query: { fieldSelector, limit: PAGE, continue: cont } }),
      );
    },
    async streamPodLog(namespace, pod, container, limitBytes, options = {}) {
      const { chunks, abort } = await t.stream({
        method: 'GET',
        path: `${podsPath(namespace)}/${encodeURIComponent(pod)}/log`,
        query: { container, limitBytes: options.tailLines === undefined ? limitBytes : undefined, tailLines: options.tailLines },
        accept: '*/*',
      });
      return { chunks, abort };
    },
    async deleteJob(namespace, name, uid) {
      try {
        await t.json({
          method: 'DELETE',
          path: `${jobsPath(namespace)}/${encodeURIComponent(name)}`,
          body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) },
        });
      } catch (err) {
        const e = toKubeError(err);
        if (e.status === 404 || e.status === 409) return; // gone already, or a newer Job with that name
        throw e;
      }
    },
    async deleteJobCollection(namespace, labelSelector) {
      // An empty selector would select every Job in the namespace (a 400: never retried).
      if (labelSelector.trim() === '') throw new KubeError(400, 'deleteJobCollection needs a label selector', 'BadRequest');
      const got = await t.json<ListOf<{ metadata?: { name?: string } }>>({
        method: 'DELETE',
        path: jobsPath(namespace),
        // The answer lists the deleted Jobs: their metadata is enough to count them.
        accept: METADATA_ONLY,
        query: { labelSelector },
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' },
      });
      return got?.items?.length ?? 0;
    },
  };
}

export interface RetryOptions {
  retries: number;
  baseMs?: number;
  /** Longest wait a server's Retry-After may impose on one retry (default 30 s). */
  retryAfterMaxMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** How long to wait before retry `attempt` (0-based): the server's hint (capped) or exponential backoff with jitter. */
export function retryDelayMs(e: KubeError, attempt: number, options: RetryOptions, random = Math.random()): number {
  const backoff = (options.baseMs ?? 200) * 2 ** attempt * (0.5 + random / 2);
  if (e.retryAfterSeconds === undefined) return backoff;
  return Math.min(e.retryAfterSeconds * 1000, options.retryAfterMaxMs ?? 30000);
}

/**
 * Runs a call, retrying 429, 5xx and transport errors; waits as long as the server's
 * Retry-After (or Status details.retryAfterSeconds) asks, capped, else backs off exponentially.
 * Other errors (403, 422, ...) are configuration problems and are thrown at once.
 */
export async function withRetries<T>(f: () => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const e = toKubeError(err);
      if (!e.retryable || attempt >= options.retries) throw e;
      await sleep(retryDelayMs(e, attempt, options));
    }
  }
}

/** The transport settings of posture's configuration. */
export function transportOptionsOf(config: { kubeQps: number; kubeBurst: number; kubeTimeoutSeconds: number }): TransportOptions {
  return { qps: config.kubeQps, burst: config.kubeBurst, timeoutMs: config.kubeTimeoutSeconds * 1000 };
}

/** KubeConfig from KUBECONFIG / ~/.kube/config / in-cluster, as kubectl finds it. */
export function defaultKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}
