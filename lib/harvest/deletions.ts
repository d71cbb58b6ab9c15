// Deleting harvested Jobs in batches. A harvester that deleted each Job before answering paid
// one API call per result and made the event's sender wait for it (Knative's ApiServerSource
// adapter sends one event at a time). Here the answer goes first, and the harvested Jobs of
// the next second go in one delete collection, selected by the label that carries each Job's
// name. A batch lost to a crash or a failed call is not lost work: the scheduler's sweep
// deletes harvested Jobs it finds, and the Jobs' TTL is the last resort.
import { JOB_NAME_LABEL, POSTURE_JOB_SELECTOR } from '../jobs/spec.ts';
import { type ClusterApi, toKubeError, withRetries } from '../kube/cluster.ts';
import type { Logger } from '../log/index.ts';

/** A harvested Job to delete: its labels tell whether it can go in a batch. */
export interface HarvestedJob {
  namespace: string;
  name: string;
  uid: string;
  labels?: Record<string, string>;
}

export interface JobDeleter {
  /** Queues a harvested Job's deletion; never throws, never waits. */
  delete(job: HarvestedJob): void;
}

export interface BatchOptions {
  /** Names per delete collection (each up to 63 characters in the label selector). */
  maxBatch: number;
  /** How long a Job waits for others to join its batch. */
  delayMs: number;
  /** Retries of a failed call (429, 5xx, transport), as for every Kubernetes call. */
  retries: number;
  retryBaseMs?: number;
}

export const DEFAULT_BATCH: BatchOptions = { maxBatch: 50, delayMs: 1000, retries: 3 };

/**
 * The label selector that deletes exactly these Jobs: posture's, whose name label is one of the
 * names. Names are unique per repository and due window, and a harvested run's window never gets
 * a second Job, so a name selects the harvested Job (a uid precondition cannot go in a selector).
 */
export function batchSelector(names: readonly string[]): string {
  if (names.length === 0) throw new RangeError('a batch needs at least one name');
  return `${POSTURE_JOB_SELECTOR},${JOB_NAME_LABEL} in (${names.join(',')})`;
}

/** Whether a Job can be deleted in a batch: posture labelled it with its own name (older Jobs were not). */
export function batchable(job: HarvestedJob): boolean {
  return job.labels?.[JOB_NAME_LABEL] === job.name;
}

export interface DeletionStats {
  /** Jobs handed to delete(). */
  queued: number;
  /** Delete calls made (a batch is one; an unlabelled Job is one). */
  calls: number;
  /** Jobs the API server reported deleted. */
  deleted: number;
  /** Jobs whose delete failed after its retries (left to the scheduler's sweep). */
  failed: number;
}

export class BatchedJobDeleter implements JobDeleter {
  readonly stats: DeletionStats = { queued: 0, calls: 0, deleted: 0, failed: 0 };
  readonly #cluster: ClusterApi;
  readonly #log: Logger;
  readonly #options: BatchOptions;
  /** Names waiting for their batch, per namespace. */
  readonly #waiting = new Map<string, Set<string>>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(cluster: ClusterApi, log: Logger, options: Partial<BatchOptions> = {}) {
    this.#cluster = cluster;
    this.#log = log;
    this.#options = { ...DEFAULT_BATCH, ...options };
  }

  delete(job: HarvestedJob): void {
    this.stats.queued++;
    if (!batchable(job)) {
      // Made by a posture without the name label: by name, with the uid precondition.
      this.#track(this.#call([job.name], () => this.#cluster.deleteJob(job.namespace, job.name, job.uid).then(() => 1)));
      return;
    }
    let names = this.#waiting.get(job.namespace);
    if (!names) {
      names = new Set();
      this.#waiting.set(job.namespace, names);
    }
    names.add(job.name);
    if (names.size >= this.#options.maxBatch) this.#flush(job.namespace);
    else this.#timer ??= setTimeout(() => this.#flushAll(), this.#options.delayMs).unref();
  }

  /** Sends every waiting batch now and waits for all calls (on shutdown, and in tests). */
  async drain(): Promise<void> {
    this.#flushAll();
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #flushAll(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const namespace of [...this.#waiting.keys()]) this.#flush(namespace);
  }

  #flush(namespace: string): void {
    const names = [...(this.#waiting.get(namespace) ?? [])];
    this.#waiting.delete(namespace);
    if (names.length === 0) return;
    this.#track(this.#call(names, () => this.#cluster.deleteJobCollection(namespace, batchSelector(names))));
  }

  async #call(names: string[], f: () => Promise<number>): Promise<void> {
    this.stats.calls++;
    try {
      const deleted = await withRetries(f, { retries: this.#options.retries, baseMs: this.#options.retryBaseMs });
      this.stats.deleted += deleted; // not `+= await`: that would add to the count read before the call
    } catch (err) {
      this.stats.failed += names.length;
      const e = toKubeError(err);
      this.#log.warn({ jobs: names.length, first: names[0], status: e.status, err: e.message }, "could not delete harvested Jobs; the scheduler's sweep will");
    }
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }
}
