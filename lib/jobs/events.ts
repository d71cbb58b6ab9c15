// Why a Job's pod never ran Scorecard, read from the Events that outlive the pod. On a real node
// a pod that waits on a missing Secret or an image that cannot be pulled stays waiting until the
// Job's deadline, and the job controller deletes it before it marks the Job Failed: by harvest
// time only the Events (kept about an hour by the API server) still say why. Pure.

import type { KubeEvent } from '../kube/cluster.ts';

export type { KubeEvent };

export type StartFailureKind = 'image' | 'config' | 'schedule';

export interface StartFailure {
  kind: StartFailureKind;
  /** The Event's reason and message, e.g. `Failed: Error: secret "posture-github" not found`. */
  detail: string;
}

/** Names of the pods a Job's controller created, from its `SuccessfulCreate` Events (`Created pod: <name>`). */
export function podNamesOfJobEvents(events: readonly KubeEvent[]): string[] {
  const names = new Set<string>();
  for (const e of events) {
    if (e.involvedObject?.kind !== 'Job' || e.reason !== 'SuccessfulCreate') continue;
    const m = /^Created pod: ([a-z0-9][-a-z0-9.]{0,252})$/.exec(e.message ?? '');
    if (m) names.add(m[1]);
  }
  return [...names];
}

// Kubelet and scheduler Event reasons (pkg/kubelet/events, the scheduler) that mean the
// container was never started, for the platform's reasons.
const IMAGE =
  /^Error: (?:ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InvalidImageName)\b|^Failed to pull image |^Back-off pulling image |is not present with pull policy of Never/;
const CONFIG_ERROR = /^Error: /;

function when(e: KubeEvent): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
  return t ? new Date(t).getTime() : 0;
}

/**
 * Why the pod never started its container, when its Events say so and it never did start (a
 * pull that failed once and then worked is not a start failure); null otherwise. The newest
 * reason wins (the one the pod was left waiting on); of the image Events, the one that names
 * the image and the error (`Failed to pull image …`) says more than `Error: ImagePullBackOff`.
 */
export function startFailureOf(podEvents: readonly KubeEvent[]): StartFailure | null {
  if (podEvents.some((e) => e.reason === 'Started')) return null;
  let newest: { at: number; kind: StartFailureKind; detail: string } | null = null;
  let imageDetail: string | null = null;
  for (const e of podEvents) {
    if (e.type !== 'Warning') continue;
    const reason = e.reason ?? '';
    const message = (e.message ?? '').trim();
    let kind: StartFailureKind | null = null;
    if (reason === 'FailedScheduling') kind = 'schedule';
    else if (reason === 'ErrImageNeverPull' || reason === 'InspectFailed' || IMAGE.test(message)) kind = 'image';
    else if (reason === 'FailedMount' || (reason === 'Failed' && CONFIG_ERROR.test(message))) kind = 'config';
    if (kind === null) continue;
    const detail = `${reason}: ${message}`;
    if (kind === 'image' && !CONFIG_ERROR.test(message)) imageDetail = detail;
    const at = when(e);
    if (newest === null || at >= newest.at) newest = { at, kind, detail };
  }
  if (newest === null) return null;
  return { kind: newest.kind, detail: newest.kind === 'image' && imageDetail ? imageDetail : newest.detail };
}
