// The harvester's trigger: ApiServerSource in Resource mode sends the whole object as data
// with types dev.knative.apiserver.resource.{add,update,delete}.

import type { V1Job } from '@kubernetes/client-node';
import type { CloudEventV1 } from 'cloudevents';

export const RESOURCE_EVENT_TYPES = [
  'dev.knative.apiserver.resource.add',
  'dev.knative.apiserver.resource.update',
  'dev.knative.apiserver.resource.delete',
] as const;

export type JobEventParse = { ok: true; job: V1Job; type: string } | { ok: false; status: 400 | 422; reason: string };

export function parseJobEvent(event: Partial<CloudEventV1<unknown>> | undefined): JobEventParse {
  if (!event || typeof event !== 'object') return { ok: false, status: 400, reason: 'not a CloudEvent' };
  if (!RESOURCE_EVENT_TYPES.includes(event.type as (typeof RESOURCE_EVENT_TYPES)[number])) {
    return { ok: false, status: 400, reason: `unexpected event type ${JSON.stringify(event.type)}: expected one of ${RESOURCE_EVENT_TYPES.join(', ')}` };
  }
  let data: unknown = event.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return { ok: false, status: 400, reason: 'event data is not JSON' };
    }
  } else if (data instanceof Uint8Array) {
    try {
      data = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      return { ok: false, status: 400, reason: 'event data is not JSON' };
    }
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return { ok: false, status: 422, reason: 'event data is not a Kubernetes object' };
  const obj = data as V1Job;
  if (obj.kind !== 'Job' || !(obj.apiVersion === 'batch/v1')) {
    return { ok: false, status: 422, reason: `event data is a ${obj.apiVersion ?? '?'} ${obj.kind ?? '?'}, not a batch/v1 Job` };
  }
  if (!obj.metadata?.name || !obj.metadata.namespace || !obj.metadata.uid) return { ok: false, status: 422, reason: 'Job without name, namespace or uid' };
  return { ok: true, job: obj, type: event.type! };
}
