// The Kubernetes calls posture makes, behind one small interface so decisions can be tested
// without a cluster and the real client is exercised against a real API server.
import { Readable } from 'node:stream';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import * as k8s from '@kubernetes/client-node';
import type { V1Job, V1Pod } from '@kubernetes/client-node';

/** A failed Kubernetes call, classified for retry decisions. */
export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, message: string, reason = '') {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
  }
  /** 429, 5xx and transport failures (status 0) may succeed later. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface LogChunks {
  chunks: AsyncIterable<Buffer | string>;
  /** Stops the transfer (after the byte cap). */
  abort(): void;
}

export interface ClusterApi {
  /** Creates a Job; an existing Job of that name is reported, not thrown (a retried create). */
  createJob(namespace: string, job: V1Job): Promise<{ created: boolean; job: V1Job }>;
  getJob(namespace: string, name: string): Promise<V1Job | undefined>;
  listJobs(namespace: string, labelSelector: string): Promise<V1Job[]>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  /** Streams a container's log; limitBytes is enforced by the API server too. */
  streamPodLog(namespace: string, pod: string, container: string, limitBytes: number): Promise<LogChunks>;
  /** Deletes a Job and (background propagation) its pods; only the Job with this uid. */
  deleteJob(namespace: string, name: string, uid?: string): Promise<void>;
}

export function toKubeError(err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string } };
  if (typeof e?.code === 'number') {
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

/** The real implementation over @kubernetes/client-node. */
export function clusterApi(kc: k8s.KubeConfig): ClusterApi {
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const call = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw toKubeError(err);
    }
  };
  return {
    async createJob(namespace, job) {
      try {
        return { created: true, job: await batch.createNamespacedJob({ namespace, body: job }) };
      } catch (err) {
        const e = toKubeError(err);
        if (e.status !== 409) throw e;
        const existing = await call(() => batch.readNamespacedJob({ namespace, name: job.metadata!.name! }));
        return { created: false, job: existing };
      }
    },
    async getJob(namespace, name) {
      try {
        return await batch.readNamespacedJob({ namespace, name });
      } catch (err) {
        const e = toKubeError(err);
        if (e.status === 404) return undefined;
        throw e;
      }
    },
    async listJobs(namespace, labelSelector) {
      const out: V1Job[] = [];
      let _continue: string | undefined;
      do {
        const page = await call(() => batch.listNamespacedJob({ namespace, labelSelector, limit: 500, _continue }));
        out.push(...page.items);
        _continue = page.metadata?._continue || undefined;
      } while (_continue);
      return out;
    },
    async listPods(namespace, labelSelector) {
      const page = await call(() => core.listNamespacedPod({ namespace, labelSelector }));
      return page.items;
    },
    async streamPodLog(namespace, pod, container, limitBytes) {
      // Our own request rather than client-node's Log: aborting its transfer after the cap leaves
      // an 'error' on a stream nobody listens to, which would crash the process.
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new KubeError(0, 'no current cluster in the kubeconfig');
      const url = new URL(`${cluster.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`);
      url.searchParams.set('container', container);
      url.searchParams.set('limitBytes', String(limitBytes));
      const ctx = new k8s.RequestContext(url.toString(), k8s.HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      const controller = new AbortController();
      let res;
      try {
        res = await undiciFetch(url, { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() as Dispatcher | undefined, signal: controller.signal });
      } catch (err) {
        throw toKubeError(err);
      }
      if (res.status !== 200 || !res.body) {
        const text = await res.text().catch(() => '');
        throw toKubeError({ code: res.status, body: text, message: `HTTP ${res.status}` });
      }
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('error', () => {}); // an abort after the cap is expected, not a failure
      return {
        chunks: body,
        abort() {
          controller.abort();
          body.destroy();
        },
      };
    },
    async deleteJob(namespace, name, uid) {
      try {
        await batch.deleteNamespacedJob({
          namespace,
          name,
          propagationPolicy: 'Background',
          body: uid ? { preconditions: { uid } } : undefined,
        });
      } catch (err) {
        const e = toKubeError(err);
        if (e.status === 404 || e.status === 409) return; // gone already, or a newer Job with that name
        throw e;
      }
    },
  };
}

/**
 * Runs a call, retrying 429, 5xx and transport errors with exponential backoff; other errors
 * (403, 422, ...) are configuration problems and are thrown at once.
 */
export async function withRetries<T>(f: () => Promise<T>, options: { retries: number; baseMs?: number; sleep?: (ms: number) => Promise<void> }): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const e = toKubeError(err);
      if (!e.retryable || attempt >= options.retries) throw e;
      await sleep((options.baseMs ?? 200) * 2 ** attempt * (0.5 + Math.random() / 2));
    }
  }
}

/** KubeConfig from KUBECONFIG / ~/.kube/config / in-cluster, as kubectl finds it. */
export function defaultKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}
