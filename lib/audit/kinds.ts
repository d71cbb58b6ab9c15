// The workloads the audit lists: every kind the Scorecard gate judges at admission, each at its
// top (a ReplicaSet a Deployment owns, a Job a CronJob owns and a Pod any controller owns are
// judged through their owner, which declares the same repository).

export interface AuditedKind {
  kind: string;
  apiVersion: string;
  group: string;
  version: string;
  resource: string;
  /** Only objects with no ownerReferences (the rest are judged through their owner). */
  onlyWithoutOwner: boolean;
}

const kind = (kind: string, group: string, resource: string, onlyWithoutOwner = false): AuditedKind => ({
  kind,
  apiVersion: group ? `${group}/v1` : 'v1',
  group,
  version: 'v1',
  resource,
  onlyWithoutOwner,
});

export const AUDITED_KINDS: readonly AuditedKind[] = [
  kind('Deployment', 'apps', 'deployments'),
  kind('StatefulSet', 'apps', 'statefulsets'),
  kind('DaemonSet', 'apps', 'daemonsets'),
  kind('ReplicaSet', 'apps', 'replicasets', true),
  kind('ReplicationController', '', 'replicationcontrollers'),
  kind('CronJob', 'batch', 'cronjobs'),
  kind('Job', 'batch', 'jobs', true),
  kind('Pod', '', 'pods', true),
];

/** The cluster-wide list path of a kind. */
export function listPath(k: AuditedKind): string {
  return `${k.group ? `/apis/${k.group}` : '/api'}/${k.version}/${k.resource}`;
}

/** Whether an object of this kind is audited itself (not through an owner). */
export function auditedItself(k: AuditedKind, o: unknown): boolean {
  if (!k.onlyWithoutOwner) return true;
  const refs = (o as { metadata?: { ownerReferences?: unknown } } | null)?.metadata?.ownerReferences;
  return !Array.isArray(refs) || refs.length === 0;
}
