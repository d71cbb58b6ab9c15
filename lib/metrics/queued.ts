// Metrics whose observations wait in a queue until the registry is read (a scrape, metricsText),
// or until a queue fills; the same prom-client code then runs in a batch, off the request's path.
// Why: prom-client's observe and inc build the label set's hash string and, for a histogram, look
// its bucket up by a property name made from a float, on every call. Cheap in a loop, but a webhook
// server answers one review at a time between other processes' work, with its caches cold, and
// there those lookups show in the time per review: bench/admission-cold.ts measures it (as
// bench/pipeline.ts does the harvester's CPU per scored repository: several Job events each, most
// only acknowledged). Queued, a request writes one number. What a read of the registry shows is exact.
import client from 'prom-client';
import { registry } from './index.ts';

/** A histogram child whose observations wait in a typed array until the registry is read. */
export interface QueuedObserver {
  observe(value: number): void;
}

/** A counter child whose increments wait in a number until the registry is read. */
export interface QueuedCounter {
  inc(): void;
}

const QUEUE_LENGTH = 4096;
/** Every queued metric's queues by name, then by label values; emptied by the metric's collect(). */
const queuesByMetric = new Map<string, Map<string, { flush(): void }>>();
class ObserverQueue implements QueuedObserver {
  readonly #child: { observe(v: number): void };
  readonly #values = new Float64Array(QUEUE_LENGTH);
  #length = 0;
  constructor(child: { observe(v: number): void }) {
    this.#child = child;
  }
  observe(value: number): void {
    this.#values[this.#length++] = value;
    if (this.#length === QUEUE_LENGTH) this.flush();
  }
  flush(): void {
    const n = this.#length;
    this.#length = 0;
    for (let i = 0; i < n; i++) this.#child.observe(this.#values[i]);
  }
}

class CounterQueue implements QueuedCounter {
  readonly #child: { inc(v?: number): void };
  #pending = 0;
  constructor(child: { inc(v?: number): void }) {
    this.#child = child;
  }
  inc(): void {
    this.#pending++;
  }
  flush(): void {
    if (this.#pending === 0) return;
    const n = this.#pending;
    this.#pending = 0;
    this.#child.inc(n);
  }
}

function flushAll(name: string): void {
  const queues = queuesByMetric.get(name);
  if (queues) for (const q of queues.values()) q.flush();
}

/** The children of a queued metric: one queue per set of label values, made on first use. */
function queuedChildren<Q extends { flush(): void }>(name: string, queueOf: (values: string[]) => Q): { labels(...values: string[]): Q } {
  let queues = queuesByMetric.get(name);
  if (!queues) {
    queues = new Map();
    queuesByMetric.set(name, queues);
  }
  const own = queues as Map<string, Q>;
  return {
    labels(...values: string[]): Q {
      const key = values.join('\u0000');
      let q = own.get(key);
      if (!q) {
        q = queueOf(values);
        own.set(key, q);
      }
      return q;
    },
  };
}

/** A histogram whose children queue their observations; exact on every read of the registry (emptied first). */
export function queuedHistogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: readonly number[],
): { labels(...values: string[]): QueuedObserver } {
  const metric =
    (registry.getSingleMetric(name) as client.Histogram<L> | undefined) ??
    new client.Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [registry], collect: () => flushAll(name) });
  return queuedChildren(name, (values) => new ObserverQueue(metric.labels(...(values as never[]))));
}

/** A counter whose children queue their increments (see above); exact on every read of the registry. */
export function queuedCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): { labels(...values: string[]): QueuedCounter } {
  const metric =
    (registry.getSingleMetric(name) as client.Counter<L> | undefined) ??
    new client.Counter<L>({ name, help, labelNames, registers: [registry], collect: () => flushAll(name) });
  return queuedChildren(name, (values) => new CounterQueue(metric.labels(...(values as never[]))));
}
