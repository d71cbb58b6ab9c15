// Is a Job finished, and how? Only the terminal conditions count: newer Kubernetes sets
// SuccessCriteriaMet / FailureTarget first, while pods may still be terminating.
import type { V1Job } from '@kubernetes/client-node';

export type JobState = { finished: false; why: string } | { finished: true; succeeded: boolean; reason: string; message: string; finishedAt: Date };

export function jobState(job: V1Job): JobState {
  const conditions = job.status?.conditions ?? [];
  for (const type of ['Complete', 'Failed'] as const) {
    const c = conditions.find((x) => x.type === type && x.status === 'True');
    if (c) {
      const when = c.lastTransitionTime ?? job.status?.completionTime ?? c.lastProbeTime;
      return {
        finished: true,
        succeeded: type === 'Complete',
        reason: c.reason ?? type,
        message: c.message ?? '',
        finishedAt: when ? new Date(when) : new Date(),
      };
    }
  }
  const pending = conditions.filter((x) => x.status === 'True').map((x) => x.type);
  return { finished: false, why: pending.length ? `only ${pending.join(', ')} so far` : 'no terminal condition yet' };
}
