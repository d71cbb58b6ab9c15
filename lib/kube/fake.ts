// An in-memory ClusterApi for unit tests of decisions around the cluster (the real client is
// tested against a real API server in test/e2e). It can be told to fail calls.
import { randomUUID } from 'node:crypto';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { type ClusterApi, KubeError, type KubeEvent } from './cluster.ts';
import { lastLines, selectorMatcher } from './selector.ts';

export class FakeCluster implements ClusterApi {
  jobs = new Map<string, V1Job>();
  pods = new Map<string, V1Pod>();
  logs = new Map<string, string>();
  /** Events by namespace; listEvents matches `involvedObject.<field>=<value>` selectors. */
  events = new Map<string, KubeEvent[]>();
  calls: string[] = [];
  /** Whole Job objects handed out by listJobs (what a listing costs the caller's memory). */
  jobsListed = 0;
  /** Fail the next calls of a kind with these statuses (consumed in order). */
  failures: Record<string, number[]> = {};

  #maybeFail(kind: string): void {
    this.calls.push(kind);
    const next = this.failures[kind]?.shift();
    if (next !== undefined) throw new KubeError(next, `HTTP ${next}: injected`, next === 403 ? 'Forbidden' : '');
  }

  #key(ns: string, name: string) {
    return `${ns}/${name}`;
  }

  async createJob(namespace: string, job: V1Job) {
    this.#maybeFail('createJob');
    const k = this.#key(namespace, job.metadata!.name!);
    const existing = this.jobs.get(k);
    if (existing) return { created: false, job: existing };
    const stored: V1Job = structuredClone({ ...job, metadata: { ...job.metadata, namespace, uid: randomUUID(), creationTimestamp: new Date() } });
    this.jobs.set(k, stored);
    return { created: true, job: stored };
  }

  async getJob(namespace: string, name: string) {
    this.#maybeFail('getJob');
    return this.jobs.get(this.#key(namespace, name));
  }

  async listJobs(namespace: string, labelSelector: string) {
    this.#maybeFail('listJobs');
    const match = selectorMatcher(labelSelector);
    const out = [...this.jobs.values()].filter((j) => j.metadata?.namespace === namespace && match(j.metadata?.labels ?? {}));
    this.jobsListed += out.length;
    return out;
  }

  /** Pages in name order; a continue token is the last name of the previous page ("expired:" ones answer 410). */
  async listJobMetadataPage(namespace: string, labelSelector: string, page: { limit: number; continue?: string }) {
    this.#maybeFail('listJobMetadataPage');
    let after = page.continue;
    let restarted = false;
    if (after?.startsWith('expired:')) {
      after = undefined;
      restarted = true;
    }
    const match = selectorMatcher(labelSelector);
    const all = [...this.jobs.values()]
      .filter((j) => j.metadata?.namespace === namespace && match(j.metadata?.labels ?? {}))
      .map((j) => ({ name: j.metadata!.name!, uid: j.metadata!.uid! }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const rest = after === undefined ? all : all.filter((j) => j.name > after);
    const jobs = rest.slice(0, page.limit);
    return { jobs, continue: rest.length > page.limit ? jobs[jobs.length - 1].name : undefined, restarted };
  }

  async listPods(namespace: string, labelSelector: string) {
    this.#maybeFail('listPods');
    const match = selectorMatcher(labelSelector);
    return [...this.pods.values()].filter((p) => p.metadata?.namespace === namespace && match(p.metadata?.labels ?? {}));
  }

  async listEvents(namespace: string, fieldSelector: string) {
    this.#maybeFail('listEvents');
    const wanted = fieldSelector
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('=') as [string, string]);
    return (this.events.get(namespace) ?? []).filter((e) =>
      wanted.every(([field, value]) => {
        const key = field.replace(/^involvedObject\./, '') as 'kind' | 'name' | 'uid';
        return field.startsWith('involvedObject.') && e.involvedObject?.[key] === value;
      }),
    );
  }

  async streamPodLog(namespace: string, pod: string, _container: string, limitBytes: number, options: { tailLines?: number } = {}) {
    this.#maybeFail('streamPodLog');
    const text = this.logs.get(this.#key(namespace, pod));
    if (text === undefined) throw new KubeError(404, 'HTTP 404: no such pod');
    // As the kubelet: tailLines sends the last lines whole (limitBytes is not combined with it here).
    const bytes = options.tailLines === undefined ? Buffer.from(text).subarray(0, limitBytes) : Buffer.from(lastLines(text, options.tailLines));
    return {
      chunks: (async function* () {
        for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
      })(),
      abort() {},
    };
  }

  async deleteJob(namespace: string, name: string) {
    this.#maybeFail('deleteJob');
    this.#removeJob(namespace, name);
  }

  /** The Job and (as background propagation would) its pods. */
  #removeJob(namespace: string, name: string) {
    this.jobs.delete(this.#key(namespace, name));
    for (const [k, p] of this.pods) if (p.metadata?.labels?.['batch.kubernetes.io/job-name'] === name) this.pods.delete(k);
  }

  async deleteJobCollection(namespace: string, labelSelector: string) {
    this.#maybeFail('deleteJobCollection');
    const match = selectorMatcher(labelSelector);
    let n = 0;
    for (const j of [...this.jobs.values()]) {
      if (j.metadata?.namespace !== namespace || !match(j.metadata?.labels ?? {})) continue;
      this.#removeJob(namespace, j.metadata!.name!);
      n++;
    }
    return n;
  }

  /** Finishes a Job the way the job controller would, with a pod whose log is `log`. */
  /**
   * What a real job controller leaves when a pod waited (missing Secret, unpullable image) until
   * the Job's deadline: the pod deleted, the Job Failed with DeadlineExceeded, and Events, the
   * Job's naming its pod and the pod's (`podEvents`) saying why it waited.
   */
  deadlineWithoutPod(namespace: string, name: string, podEvents: Array<{ reason: string; message: string; type?: string }>, at = new Date()): V1Job {
    const job = this.jobs.get(this.#key(namespace, name));
    if (!job) throw new Error(`no Job ${name}`);
    const podName = `${name}-x7k2p`;
    const jobRef = { kind: 'Job', name, uid: job.metadata!.uid! };
    const podRef = { kind: 'Pod', name: podName, uid: randomUUID() };
    const events = this.events.get(namespace) ?? [];
    events.push(
      { type: 'Normal', reason: 'SuccessfulCreate', message: `Created pod: ${podName}`, involvedObject: jobRef, lastTimestamp: at },
      ...podEvents.map((e) => ({ type: e.type ?? 'Warning', reason: e.reason, message: e.message, involvedObject: podRef, lastTimestamp: at })),
      { type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${podName}`, involvedObject: jobRef, lastTimestamp: at },
      { type: 'Warning', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', involvedObject: jobRef, lastTimestamp: at },
    );
    this.events.set(namespace, events);
    job.status = {
      failed: 1,
      conditions: [
        { type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: at },
        { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: at },
      ],
    };
    return structuredClone(job);
  }

  finish(namespace: string, name: string, options: { log: string; exitCode?: number; reason?: string; at?: Date }): V1Job {
    const job = this.jobs.get(this.#key(namespace, name));
    if (!job) throw new Error(`no Job ${name}`);
    const at = options.at ?? new Date();
    const failed = (options.exitCode ?? 0) !== 0 || options.reason === 'DeadlineExceeded';
    const podName = `${name}-abcde`;
    this.pods.set(this.#key(namespace, podName), {
      metadata: {
        name: podName,
        namespace,
        creationTimestamp: at,
        labels: { 'batch.kubernetes.io/job-name': name, 'batch.kubernetes.io/controller-uid': job.metadata!.uid! },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      },
      status: {
        phase: failed ? 'Failed' : 'Succeeded',
        containerStatuses: [
          {
            name: 'scorecard',
            image: '',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: options.exitCode ?? 0, reason: failed ? 'Error' : 'Completed' } },
          },
        ],
      },
    });
    this.logs.set(this.#key(namespace, podName), options.log);
    job.status = {
      conditions: [
        {
          type: failed ? 'Failed' : 'Complete',
          status: 'True',
          reason: options.reason ?? (failed ? 'BackoffLimitExceeded' : undefined),
          lastTransitionTime: at,
        },
      ],
    };
    return structuredClone(job);
  }
}

/**
 * The fake with some calls replaced and every other call answered by the fake itself, for a test
 * that makes one call misbehave. A Proxy rather than Object.create: the fake's methods read its
 * # fields, which only the fake itself has.
 */
export function withCalls(fake: FakeCluster, calls: Partial<ClusterApi>): FakeCluster {
  return new Proxy(fake, {
    get(target, key) {
      if (Object.hasOwn(calls, key)) return calls[key as keyof ClusterApi];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
