// A stand-in for Knative's ApiServerSource (Resource mode) where there is no Knative: it
// watches posture's Jobs and sends the same CloudEvents, with the same gaps — no events for
// Jobs that exist when it starts or that change during a re-list, a few send retries, then
// the event is dropped. The scheduler's reconcile is what makes that safe, here as in Knative.
import { randomUUID } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { CloudEvent } from 'cloudevents';
import type { Logger } from '../log/index.ts';

export type ResourceEventType = 'dev.knative.apiserver.resource.add' | 'dev.knative.apiserver.resource.update' | 'dev.knative.apiserver.resource.delete';

/** The CloudEvent an ApiServerSource in Resource mode sends for a Job change. */
export function apiServerSourceEvent(type: ResourceEventType, job: V1Job, source: string): CloudEvent<V1Job> {
  const ns = job.metadata?.namespace ?? '';
  const name = job.metadata?.name ?? '';
  return new CloudEvent<V1Job>({
    id: randomUUID(),
    type,
    source,
    subject: `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
    datacontenttype: 'application/json',
    data: { apiVersion: 'batch/v1', kind: 'Job', ...job },
    kind: 'Job',
    apiversion: 'batch/v1',
    name,
    namespace: ns,
  });
}

const TYPES: Record<string, ResourceEventType> = {
  ADDED: 'dev.knative.apiserver.resource.add',
  MODIFIED: 'dev.knative.apiserver.resource.update',
  DELETED: 'dev.knative.apiserver.resource.delete',
};

export interface JobRelayOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  labelSelector: string;
  /** Sends one event; a rejection is retried like the adapter does, then the event is dropped. */
  send: (event: CloudEvent<V1Job>) => Promise<void>;
  log: Logger;
  retries?: number;
  /** Events in flight at once (default 8). */
  concurrency?: number;
}

export interface JobRelay {
  stop(): void;
  /** Events sent, and dropped after their retries. */
  stats: { sent: number; dropped: number };
}

export async function startJobRelay(o: JobRelayOptions): Promise<JobRelay> {
  const batch = o.kc.makeApiClient(k8s.BatchV1Api);
  const watch = new k8s.Watch(o.kc);
  const source = o.kc.getCurrentCluster()?.server ?? 'kubernetes';
  const stats = { sent: 0, dropped: 0 };
  let stopped = false;
  let abort: AbortController | undefined;
  const pending: Array<() => Promise<void>> = [];
  let inFlight = 0;
  const limit = o.concurrency ?? 8;
  const enqueue = (task: () => Promise<void>) => {
    pending.push(task);
    pump();
  };
  const pump = () => {
    while (inFlight < limit && pending.length > 0) {
      const task = pending.shift()!;
      inFlight++;
      void task().finally(() => {
        inFlight--;
        pump();
      });
    }
  };

  const sendWithRetries = async (event: CloudEvent<V1Job>) => {
    const retries = o.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        await o.send(event);
        stats.sent++;
        return;
      } catch (err) {
        if (attempt >= retries) {
          stats.dropped++;
          o.log.warn({ job: event.data?.metadata?.name, err: (err as Error).message }, 'event dropped after retries (the reconcile will find the Job)');
          return;
        }
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  };

  const run = async () => {
    while (!stopped) {
      try {
        // Like the adapter's reflector: a LIST whose objects produce no events, then a WATCH.
        const list = await batch.listNamespacedJob({ namespace: o.namespace, labelSelector: o.labelSelector, limit: 1 });
        const resourceVersion = list.metadata?.resourceVersion;
        await new Promise<void>((resolve) => {
          watch
            .watch(
              `/apis/batch/v1/namespaces/${o.namespace}/jobs`,
              { labelSelector: o.labelSelector, resourceVersion, allowWatchBookmarks: true },
              (phase: string, obj: V1Job) => {
                const type = TYPES[phase];
                if (!type) return;
                const event = apiServerSourceEvent(type, obj, source);
                // A Broker delivers concurrently and in no particular order; the harvester is idempotent.
                enqueue(() => sendWithRetries(event));
              },
              () => resolve(),
            )
            .then((a) => (abort = a))
            .catch(() => resolve());
        });
      } catch (err) {
        o.log.warn({ err: (err as Error).message }, 'job relay: list failed; retrying');
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 500));
    }
  };
  void run();
  return {
    stats,
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}
