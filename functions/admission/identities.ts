// The control plane's own identities the webhooks exempt, by name. Each webhook exempts only the
// controllers whose work it would otherwise block (finishing a delete, stamping out pods from a
// template already judged); an add-on's service account in kube-system (CSI, CNI, a chart installed
// there) is judged like anyone else. With --use-service-account-credentials (the default of
// kubeadm and of every managed control plane) each controller of kube-controller-manager calls the
// API server as its own ServiceAccount in kube-system; without it, as system:kube-controller-manager.
import type { Exemption } from '../../lib/admission/index.ts';

/** `system:serviceaccount:kube-system:<name>`: a kube-controller-manager controller's identity. */
export function controller(name: string): string {
  return `system:serviceaccount:kube-system:${name}`;
}

/** kube-controller-manager when it runs without per-controller credentials. */
export const CONTROLLER_MANAGER = 'system:kube-controller-manager';
/** kube-scheduler (binds pods; preemption deletes them). */
export const SCHEDULER = 'system:kube-scheduler';
/** The API server's own loopback client (creates kube-system, kube-public, kube-node-lease, default at start-up). */
export const API_SERVER = 'system:apiserver';

/** Controllers that create pods, ReplicaSets or Jobs from a template a webhook has already judged. */
export const WORKLOAD_CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemon-set-controller',
  'job-controller',
  'cronjob-controller',
  'replication-controller',
] as const;

/**
 * What each of those controllers stamps out its objects from: the resource whose template it
 * copies. The gate exempts the controllers because it judged that resource, so its rules must
 * cover every one of these (scorecard-gate.test.ts checks it).
 */
export const WORKLOAD_SOURCES: Readonly<Record<(typeof WORKLOAD_CONTROLLERS)[number], { group: string; resource: string }>> = {
  'deployment-controller': { group: 'apps', resource: 'deployments' },
  'replicaset-controller': { group: 'apps', resource: 'replicasets' },
  'statefulset-controller': { group: 'apps', resource: 'statefulsets' },
  'daemon-set-controller': { group: 'apps', resource: 'daemonsets' },
  'job-controller': { group: 'batch', resource: 'jobs' },
  'cronjob-controller': { group: 'batch', resource: 'cronjobs' },
  'replication-controller': { group: '', resource: 'replicationcontrollers' },
};

/** Controllers that finish deletes: the namespace's contents, dependents, finished Jobs, orphaned pods. */
export const DELETION_CONTROLLERS = ['namespace-controller', 'generic-garbage-collector', 'ttl-after-finished-controller', 'pod-garbage-collector'] as const;

/** Controllers that change objects users may label protected (volumes, endpoints, aggregated roles...). */
export const MAINTENANCE_CONTROLLERS = [
  'persistent-volume-binder',
  'pvc-protection-controller',
  'pv-protection-controller',
  'attachdetach-controller',
  'expand-controller',
  'ephemeral-volume-controller',
  'endpoint-controller',
  'endpointslice-controller',
  'endpointslicemirroring-controller',
  'clusterrole-aggregation-controller',
  'disruption-controller',
  'horizontal-pod-autoscaler',
  'resourcequota-controller',
  'service-account-controller',
  'root-ca-cert-publisher',
  'node-controller',
] as const;

/** Exemptions for a list of controllers, plus kube-controller-manager's own identity. */
export function controllers(names: readonly string[]): Exemption[] {
  return [...names.map((n) => ({ user: controller(n) })), { user: CONTROLLER_MANAGER }];
}

/** The names as doc text: `a`, `b` and `c`. */
export function listed(names: readonly string[]): string {
  const q = names.map((n) => `\`${n}\``);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} and ${q.at(-1)}`;
}
