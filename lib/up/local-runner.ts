// Runs Scorecard Jobs as local processes when no cluster answers: the `scorecard` CLI from
// PATH, with the Job's own arguments, deadline and a byte cap on its output. It implements the
// same ClusterApi the scheduler and harvester use, so ticks, claims, caps, log handling and
// failure classes are exactly those of the cluster path.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { SCORECARD_CONTAINER } from '../jobs/spec.ts';
import { type ClusterApi, KubeError, type KubeEvent, type LogChunks } from '../kube/cluster.ts';
import { lastLines, selectorMatcher } from '../kube/selector.ts';

interface LocalJob {
  job: V1Job;
  child?: ChildProcess;
  output: Buffer[];
  bytes: number;
  /** The last logByteCap bytes of output. */
  tail?: Buffer;
  truncated: boolean;
  exitCode?: number;
  startedAt: Date;
  finishedAt?: Date;
  deadlineExceeded: boolean;
  spawnError?: string;
}

// The standard proxy variables Scorecard (Go's net/http) honours: behind a proxy, runs need them.
const PROXY_VARS = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];
function proxyEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(PROXY_VARS.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!]));
}

/** Where `scorecard` is on PATH, or undefined. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export interface LocalRunnerOptions {
  executable: string;
  /** Bytes of output kept per run (the harvester reads at most this much anyway). */
  logByteCap: number;
  /** Environment for the runs: the GitHub token(s) come from here, never from arguments. */
  env: Record<string, string | undefined>;
  /** Called when a run finishes, with the Job as the job controller would show it. */
  onFinished?: (job: V1Job) => void;
}

export class LocalJobRunner implements ClusterApi {
  readonly #jobs = new Map<string, LocalJob>();
  readonly #o: LocalRunnerOptions;

  constructor(options: LocalRunnerOptions) {
    this.#o = options;
  }

  #key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  #view(j: LocalJob): V1Job {
    const job = structuredClone(j.job);
    if (j.finishedAt) {
      const failed = j.deadlineExceeded || j.exitCode !== 0;
      job.status = {
        startTime: j.startedAt,
        completionTime: failed ? undefined : j.finishedAt,
        conditions: [
          {
            type: failed ? 'Failed' : 'Complete',
            status: 'True',
            reason: j.deadlineExceeded ? 'DeadlineExceeded' : failed ? 'BackoffLimitExceeded' : 'CompletionsReached',
            message: j.spawnError ?? '',
            lastTransitionTime: j.finishedAt,
          },
        ],
      };
    } else {
      job.status = { startTime: j.startedAt, active: 1 };
    }
    return job;
  }

  async createJob(namespace: string, job: V1Job) {
    const name = job.metadata?.name ?? '';
    const existing = this.#jobs.get(this.#key(namespace, name));
    if (existing) return { created: false, job: this.#view(existing) };
    const container = job.spec?.template.spec?.containers.find((c) => c.name === SCORECARD_CONTAINER);
    if (!container) throw new KubeError(422, 'HTTP 422: the Job has no scorecard container');
    const stored: V1Job = {
      ...structuredClone(job),
      metadata: { ...structuredClone(job.metadata), namespace, uid: randomUUID(), creationTimestamp: new Date() },
    };
    const j: LocalJob = { job: stored, output: [], bytes: 0, truncated: false, startedAt: new Date(), deadlineExceeded: false };
    this.#jobs.set(this.#key(namespace, name), j);
    // The Job's args, never a shell: the repository name was validated, and no shell sees it anyway.
    const child = spawn(this.#o.executable, container.args ?? [], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...proxyEnv(this.#o.env),
        GITHUB_AUTH_TOKEN: this.#o.env.GITHUB_AUTH_TOKEN ?? this.#o.env.GITHUB_TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    j.child = child;
    const collect = (chunk: Buffer) => {
      // The last cap bytes too, for a harvester that asks for the tail of an over-long log.
      j.tail = j.tail ? Buffer.concat([j.tail, chunk]) : chunk;
      if (j.tail.length > this.#o.logByteCap) j.tail = j.tail.subarray(j.tail.length - this.#o.logByteCap);
      if (j.bytes >= this.#o.logByteCap + 1) {
        j.truncated = true;
        return;
      }
      const room = this.#o.logByteCap + 1 - j.bytes;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      j.output.push(part);
      j.bytes += part.length;
    };
    // Pod logs merge stdout and stderr; so does this.
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const deadline = job.spec?.activeDeadlineSeconds;
    const timer = deadline
      ? setTimeout(() => {
          j.deadlineExceeded = true;
          child.kill('SIGKILL');
        }, deadline * 1000)
      : undefined;
    timer?.unref();
    const finish = (code: number, spawnError?: string) => {
      if (j.finishedAt) return;
      clearTimeout(timer);
      j.exitCode = code;
      j.spawnError = spawnError;
      j.finishedAt = new Date();
      this.#o.onFinished?.(this.#view(j));
    };
    child.on('error', (err) => finish(127, `cannot run ${this.#o.executable}: ${err.message}`));
    child.on('close', (code, signal) => finish(code ?? (signal ? 137 : 1)));
    return { created: true, job: this.#view(j) };
  }

  async getJob(namespace: string, name: string) {
    const j = this.#jobs.get(this.#key(namespace, name));
    return j ? this.#view(j) : undefined;
  }

  async listJobs(namespace: string, labelSelector: string) {
    const match = selectorMatcher(labelSelector);
    return [...this.#jobs.values()].filter((j) => j.job.metadata?.namespace === namespace && match(j.job.metadata?.labels ?? {})).map((j) => this.#view(j));
  }

  async listJobMetadataPage(namespace: string, labelSelector: string, page: { limit: number; continue?: string }) {
    const all = (await this.listJobs(namespace, labelSelector))
      .map((j) => ({ name: j.metadata!.name!, uid: j.metadata!.uid ?? '' }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const rest = page.continue === undefined ? all : all.filter((j) => j.name > page.continue!);
    const jobs = rest.slice(0, page.limit);
    return { jobs, continue: rest.length > page.limit ? jobs[jobs.length - 1].name : undefined, restarted: false };
  }

  /** A local process has no Events: what it printed and how it exited say it all. */
  async listEvents(): Promise<KubeEvent[]> {
    return [];
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const jobName = /^batch\.kubernetes\.io\/job-name=(.+)$/.exec(labelSelector)?.[1];
    const j = jobName ? this.#jobs.get(this.#key(namespace, jobName)) : undefined;
    if (!j?.finishedAt) return [];
    const failed = j.deadlineExceeded || j.exitCode !== 0;
    return [
      {
        metadata: {
          name: `${jobName}-local`,
          namespace,
          labels: { 'batch.kubernetes.io/job-name': jobName!, 'batch.kubernetes.io/controller-uid': j.job.metadata!.uid! },
          creationTimestamp: j.startedAt,
          // As the job controller sets it: the harvester reads only pods the Job controls.
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName!, uid: j.job.metadata!.uid!, controller: true }],
        },
        status: {
          phase: failed ? 'Failed' : 'Succeeded',
          reason: j.deadlineExceeded ? 'DeadlineExceeded' : undefined,
          containerStatuses: [
            {
              name: SCORECARD_CONTAINER,
              image: '',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: j.exitCode ?? 1, reason: j.spawnError ? 'StartError' : failed ? 'Error' : 'Completed', message: j.spawnError } },
            },
          ],
        },
      },
    ];
  }

  async streamPodLog(namespace: string, pod: string, _container: string, limitBytes: number, options: { tailLines?: number } = {}): Promise<LogChunks> {
    const j = this.#jobs.get(this.#key(namespace, pod.replace(/-local$/, '')));
    if (!j) throw new KubeError(404, 'HTTP 404: no such run');
    const bytes =
      options.tailLines === undefined
        ? Buffer.concat(j.output).subarray(0, limitBytes)
        : Buffer.from(lastLines((j.tail ?? Buffer.alloc(0)).toString('utf8'), options.tailLines));
    return {
      chunks: (async function* () {
        yield bytes;
      })(),
      abort() {},
    };
  }

  async deleteJob(namespace: string, name: string) {
    const j = this.#jobs.get(this.#key(namespace, name));
    if (j && !j.finishedAt) j.child?.kill('SIGKILL');
    this.#jobs.delete(this.#key(namespace, name));
  }

  async deleteJobCollection(namespace: string, labelSelector: string) {
    const match = selectorMatcher(labelSelector);
    const chosen = [...this.#jobs.values()].filter((j) => j.job.metadata?.namespace === namespace && match(j.job.metadata?.labels ?? {}));
    for (const j of chosen) await this.deleteJob(namespace, j.job.metadata!.name!);
    return chosen.length;
  }

  /** Stops every running process (on shutdown). */
  stopAll(): void {
    for (const j of this.#jobs.values()) if (!j.finishedAt) j.child?.kill('SIGTERM');
  }
}
