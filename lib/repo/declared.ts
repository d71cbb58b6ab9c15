// Where a workload declares the repository it is built from, read the same way by the Scorecard
// gate (functions/admission/webhooks/scorecard-gate.ts, at admission) and the audit (lib/audit,
// of what already runs).

/** The repository a workload is built from. */
export const SOURCE_REPO_ANNOTATION = 'posture.dev/source-repo';

type Meta = { annotations?: Record<string, string> } | undefined;

function field(x: unknown, key: string): unknown {
  return typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[key] : undefined;
}

export function annotationsOf(o: unknown): Record<string, string> {
  const m = field(o, 'metadata') as Meta;
  const a = typeof m === 'object' && m !== null ? m.annotations : undefined;
  return typeof a === 'object' && a !== null ? a : {};
}

/** The pod template of a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) or CronJob. */
export function podTemplateOf(o: unknown): unknown {
  const spec = field(o, 'spec');
  const template = field(spec, 'template');
  if (template !== undefined) return template;
  return field(field(field(spec, 'jobTemplate'), 'spec'), 'template');
}

/** The Job template of a CronJob. */
export function jobTemplateOf(o: unknown): unknown {
  return field(field(o, 'spec'), 'jobTemplate');
}

/**
 * The repositories an object declares: on itself, on the Job template a CronJob stamps out (the
 * cronjob-controller copies its annotations onto each Job, and is exempt) and on the pod template.
 */
export function declaredRepos(o: unknown): string[] {
  const out: string[] = [];
  for (const m of [o, jobTemplateOf(o), podTemplateOf(o)]) {
    const v = annotationsOf(m)[SOURCE_REPO_ANNOTATION];
    if (typeof v === 'string' && !out.includes(v)) out.push(v);
  }
  return out;
}
