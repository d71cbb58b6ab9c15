// One prom-client registry per process, shared by every function served in it; metrics are
// created once by name so two modules asking for the same metric get the same instance. Request
// paths that answer one request at a time use the queued kinds (queued.ts).
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
