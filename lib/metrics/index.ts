// One prom-client registry per process, shared by every function served in it; metrics are
// created once by name so two modules asking for the same metric get the same instance.
import client from 'prom-client';

export const registry = new client.Registry();
let defaultsCollected = false;

export function collectDefaultMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  client.collectDefaultMetrics({ register: registry });
}

function existing<T>(name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): client.Counter<L> {
  return existing<client.Counter<L>>(name) ?? new client.Counter<L>({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): client.Gauge<L> {
  return existing<client.Gauge<L>>(name) ?? new client.Gauge<L>({ name, help, labelNames, registers: [registry] });
}

/** Latency buckets (seconds) of posture's histograms unless one says otherwise: 100 µs to 5 s. */
export const DEFAULT_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5];

export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: readonly number[] = DEFAULT_BUCKETS,
): client.Histogram<L> {
  return existing<client.Histogram<L>>(name) ?? new client.Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
}

export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** A histogram child whose observations wait in a typed array until the registry is read. */
export interface QueuedObserver {
  observe(value: number): void;
}

/** A counter child whose increments wait in a number until the registry is read. */
export interface QueuedCounter {
  inc(): void;
}

// Observations queued per metric, handed to prom-client by the metric's collect() (every read of
// the registry: a scrape, metricsText) or when a queue fills. Why: prom-client's observe and inc
// build the label set's hash string and, for a histogram, look its bucket up by a property name
// made from a float, on every call. Cheap in a loop, but a webhook server answers one review at a
// time between other processes' work, with its caches cold, and there those lookups measured
// microseconds per review (bench/admission-cold.ts, README "Admission latency"). Queued, a
// review writes one number; the same prom-client code runs later, in a batch, off the review's path.
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
  if (!queues) queuesByMetric.set(name, (queues = new Map()));
  const own = queues as Map<string, Q>;
  return {
    labels(...values: string[]): Q {
      const key = values.join('\u0000');
      let q = own.get(key);
      if (!q) own.set(key, (q = queueOf(values)));
      return q;
    },
  };
}

/**
 * A histogram whose children queue their observations (see above). The values a scrape shows are
 * exact: the queue is emptied into prom-client before every read of the registry.
 */
export function queuedHistogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): { labels(...values: string[]): QueuedObserver } {
  const metric = existing<client.Histogram<L>>(name) ?? new client.Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [registry], collect: () => flushAll(name) });
  return queuedChildren(name, (values) => new ObserverQueue(metric.labels(...(values as never[]))));
}

/** A counter whose children queue their increments (see above); exact on every read of the registry. */
export function queuedCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): { labels(...values: string[]): QueuedCounter } {
  const metric = existing<client.Counter<L>>(name) ?? new client.Counter<L>({ name, help, labelNames, registers: [registry], collect: () => flushAll(name) });
  return queuedChildren(name, (values) => new CounterQueue(metric.labels(...(values as never[]))));
}
