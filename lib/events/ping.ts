// The scheduler's trigger: a PingSource event, or the same event POSTed by a CronJob. Its
// logical identity is its cron slot (the minute it was due), not its random id, so a tick
// delivered twice is recognised as one.
import type { CloudEventV1 } from 'cloudevents';

export const PING_TYPE = 'dev.knative.sources.ping';

export type PingParse = { ok: true; slot: string; source: string } | { ok: false; reason: string };

/** The minute a ping belongs to, as an ISO string without seconds: `2030-01-01T00:05Z`. */
export function cronSlot(time: Date): string {
  return new Date(Math.floor(time.getTime() / 60000) * 60000).toISOString().replace(/:00\.000Z$/, 'Z');
}

export function parsePing(event: Partial<CloudEventV1<unknown>> | undefined, receivedAt: Date): PingParse {
  if (!event || typeof event !== 'object') return { ok: false, reason: 'not a CloudEvent: expected a PingSource event (binary or structured mode)' };
  if (event.type !== PING_TYPE) return { ok: false, reason: `unexpected event type ${JSON.stringify(event.type)}: the scheduler accepts ${PING_TYPE}` };
  let when = receivedAt;
  if (event.time !== undefined) {
    const t = new Date(String(event.time));
    if (Number.isNaN(t.getTime())) return { ok: false, reason: `event time ${JSON.stringify(event.time)} is not an RFC 3339 timestamp` };
    when = t;
  }
  return { ok: true, slot: cronSlot(when), source: String(event.source ?? '') };
}
