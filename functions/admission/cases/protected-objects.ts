// The table cases of protected-objects: the unit test sends each through the webhook's dispatcher, and
// test/e2e/admission-vap.test.ts sends each to a real API server with only the generated
// ValidatingAdmissionPolicy installed; both must give the verdict written here.
import { anonymous, object, type ReviewSpec, serviceAccount, user } from '../../../lib/admission/testing.ts';
import { cascadeMessage, protectedMessage, subresourceMessage, unlabelMessage } from '../webhooks/protected-objects.ts';

const P = { 'posture.dev/protected': 'true' };
const cm = (labels: Record<string, string> = P, data = 'a') => ({ ...object('ConfigMap', 'settings', { namespace: 'team', labels }), data: { v: data } });
const jane = user('jane', 'devs');
const DELETING = { deletionTimestamp: '2026-11-26T09:00:00Z', deletionGracePeriodSeconds: 0 };
/** A protected ConfigMap, with metadata fields merged in (finalizers, deletionTimestamp...). */
const cmWith = (metadata: Record<string, unknown>, data = 'a', labels: Record<string, string> = P) => {
  const o = cm(labels, data);
  return { ...o, metadata: { ...o.metadata, ...metadata } };
};
const pod = (metadata: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => {
  const o = object('Pod', 'web-0', { namespace: 'team', labels: P, spec: { nodeName: 'kwok-node-0', containers: [{ name: 'app', image: 'app:1' }] } });
  return { ...o, ...extra, metadata: { ...o.metadata, ...metadata } };
};
const OWNER = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: '6d1f1c8e-0000-4000-8000-000000000001' };
const kubelet = user('system:node:kwok-node-0', 'system:nodes', 'system:authenticated');
const gitops = serviceAccount('gitops', 'controller');

export const cases: Array<{ name: string; review: ReviewSpec; allowed: boolean; message?: string; code?: number }> = [
  {
    name: 'UPDATE a protected object',
    review: { operation: 'UPDATE', object: cm(P, 'b'), oldObject: cm(), caller: jane },
    allowed: false,
    message: protectedMessage('ConfigMap "team/settings"', 'UPDATE'),
  },
  {
    name: 'UPDATE removing the label',
    review: { operation: 'UPDATE', object: cm({}), oldObject: cm(), caller: jane },
    allowed: false,
    message: unlabelMessage('ConfigMap "team/settings"'),
  },
  {
    name: 'UPDATE setting the label to false',
    review: { operation: 'UPDATE', object: cm({ 'posture.dev/protected': 'false' }), oldObject: cm(), caller: jane },
    allowed: false,
  },
  {
    name: 'DELETE (only oldObject)',
    review: { operation: 'DELETE', oldObject: cm(), caller: jane },
    allowed: false,
    message: protectedMessage('ConfigMap "team/settings"', 'DELETE'),
  },
  { name: 'dryRun DELETE is judged the same', review: { operation: 'DELETE', oldObject: cm(), caller: jane, dryRun: true }, allowed: false },
  {
    name: 'cluster-scoped object',
    review: { operation: 'DELETE', oldObject: object('ClusterRole', 'view-all', { labels: P }), caller: jane },
    allowed: false,
    message: protectedMessage('ClusterRole "view-all"', 'DELETE'),
  },
  { name: 'UPDATE adding the label', review: { operation: 'UPDATE', object: cm(), oldObject: cm({}), caller: jane }, allowed: true },
  { name: 'UPDATE an unlabelled object', review: { operation: 'UPDATE', object: cm({}, 'b'), oldObject: cm({}), caller: jane }, allowed: true },
  { name: 'label value other than "true"', review: { operation: 'DELETE', oldObject: cm({ 'posture.dev/protected': 'yes' }), caller: jane }, allowed: true },
  { name: 'DELETE an unlabelled object', review: { operation: 'DELETE', oldObject: cm({}), caller: jane }, allowed: true },
  // Terminating objects: finishing a delete is never refused.
  {
    name: "the kubelet's final DELETE of a terminating pod (grace 0)",
    review: { operation: 'DELETE', oldObject: pod(DELETING), caller: kubelet },
    allowed: true,
  },
  { name: 'DELETE of a terminating object by anyone RBAC allows', review: { operation: 'DELETE', oldObject: cmWith(DELETING), caller: jane }, allowed: true },
  {
    name: 'DELETE of a pod not yet terminating, by the kubelet',
    review: { operation: 'DELETE', oldObject: pod(), caller: kubelet },
    allowed: false,
    message: protectedMessage('Pod "team/web-0"', 'DELETE'),
  },
  {
    name: 'a controller removes its finalizer from a terminating object',
    review: {
      operation: 'UPDATE',
      object: cmWith({ ...DELETING, finalizers: ['other/keep'] }),
      oldObject: cmWith({ ...DELETING, finalizers: ['gitops/cleanup', 'other/keep'] }),
      caller: gitops,
    },
    allowed: true,
  },
  {
    name: 'removing every finalizer from a terminating object',
    review: {
      operation: 'UPDATE',
      object: cmWith({ ...DELETING, resourceVersion: '9', managedFields: [{ manager: 'x' }] }),
      oldObject: cmWith({ ...DELETING, finalizers: ['gitops/cleanup'], resourceVersion: '8' }),
      caller: gitops,
    },
    allowed: true,
  },
  {
    name: 'removing a finalizer and changing data of a terminating object',
    review: { operation: 'UPDATE', object: cmWith(DELETING, 'b'), oldObject: cmWith({ ...DELETING, finalizers: ['gitops/cleanup'] }), caller: gitops },
    allowed: false,
  },
  {
    name: 'removing a finalizer and the label of a terminating object',
    review: { operation: 'UPDATE', object: cmWith(DELETING, 'a', {}), oldObject: cmWith({ ...DELETING, finalizers: ['gitops/cleanup'] }), caller: gitops },
    allowed: false,
  },
  {
    name: 'adding a finalizer to a terminating object',
    review: {
      operation: 'UPDATE',
      object: cmWith({ ...DELETING, finalizers: ['a', 'b'] }),
      oldObject: cmWith({ ...DELETING, finalizers: ['a'] }),
      caller: gitops,
    },
    allowed: false,
  },
  {
    name: 'swapping finalizers on a terminating object',
    review: {
      operation: 'UPDATE',
      object: cmWith({ ...DELETING, finalizers: ['c'] }),
      oldObject: cmWith({ ...DELETING, finalizers: ['a', 'b'] }),
      caller: gitops,
    },
    allowed: false,
  },
  {
    name: 'removing a finalizer from an object not terminating',
    review: { operation: 'UPDATE', object: cmWith({}), oldObject: cmWith({ finalizers: ['gitops/cleanup'] }), caller: gitops },
    allowed: false,
  },
  // Subresources that can write labels or change what runs.
  {
    name: 'a status write that only changes status (the kubelet)',
    review: {
      operation: 'UPDATE',
      object: pod({ resourceVersion: '2' }, { status: { phase: 'Running' } }),
      oldObject: pod({ resourceVersion: '1' }),
      subResource: 'status',
      caller: kubelet,
    },
    allowed: true,
  },
  {
    name: 'a status write on a terminating pod (the pod status strategy clears deletionTimestamp)',
    review: { operation: 'UPDATE', object: pod({}, { status: { phase: 'Succeeded' } }), oldObject: pod(DELETING), subResource: 'status', caller: kubelet },
    allowed: true,
  },
  {
    name: 'a status write removing the protection label',
    review: { operation: 'UPDATE', object: pod({ labels: {} }), oldObject: pod(), subResource: 'status', caller: jane },
    allowed: false,
    message: unlabelMessage('Pod "team/web-0"'),
  },
  {
    name: 'a status write changing other labels',
    review: { operation: 'UPDATE', object: pod({ labels: { ...P, app: 'x' } }), oldObject: pod(), subResource: 'status', caller: jane },
    allowed: false,
    message: subresourceMessage('Pod "team/web-0"', 'status'),
  },
  {
    name: 'a status write changing annotations',
    review: { operation: 'UPDATE', object: pod({ annotations: { a: 'b' } }), oldObject: pod(), subResource: 'status', caller: jane },
    allowed: false,
  },
  {
    name: 'ephemeral containers injected into a protected pod',
    review: {
      operation: 'UPDATE',
      object: pod({}, { spec: { ephemeralContainers: [{ name: 'debug', image: 'busybox' }] } }),
      oldObject: pod(),
      subResource: 'ephemeralcontainers',
      caller: jane,
    },
    allowed: false,
    message: subresourceMessage('Pod "team/web-0"', 'ephemeralcontainers'),
  },
  {
    name: 'namespaces/finalize that only changes spec.finalizers',
    review: {
      operation: 'UPDATE',
      object: { ...object('Namespace', 'prod', { labels: P }), spec: { finalizers: [] } },
      oldObject: { ...object('Namespace', 'prod', { labels: P }), spec: { finalizers: ['kubernetes'] } },
      subResource: 'finalize',
      caller: jane,
    },
    allowed: true,
  },
  {
    name: 'namespaces/status removing the protection label',
    review: {
      operation: 'UPDATE',
      object: object('Namespace', 'prod', { labels: {} }),
      oldObject: object('Namespace', 'prod', { labels: P }),
      subResource: 'status',
      caller: jane,
    },
    allowed: false,
    message: unlabelMessage('Namespace "prod"'),
  },
  { name: 'CREATE is not judged', review: { operation: 'CREATE', object: cm(), caller: jane }, allowed: true },
  {
    name: 'DELETE without oldObject cannot be decided: Fail denies',
    review: { operation: 'DELETE', oldObject: null, name: 'settings', namespace: 'team', caller: jane, kind: { group: '', version: 'v1', kind: 'ConfigMap' } },
    allowed: false,
    code: 400,
  },
  { name: 'system:masters', review: { operation: 'DELETE', oldObject: cm(), caller: user('root', 'system:masters') }, allowed: true },
  {
    name: 'posture:admins removes the label',
    review: { operation: 'UPDATE', object: cm({}), oldObject: cm(), caller: user('ann', 'posture:admins') },
    allowed: true,
  },
  // Its owner deleted (by anyone who may delete the unlabelled owner), the collector deleted the
  // protected dependent too: its delete is judged now, its updates are not.
  {
    name: 'garbage collector deleting a protected dependent whose owner was deleted',
    review: { operation: 'DELETE', oldObject: cmWith({ ownerReferences: [OWNER] }), caller: serviceAccount('kube-system', 'generic-garbage-collector') },
    allowed: false,
    message: cascadeMessage('ConfigMap "team/settings"'),
  },
  {
    name: 'garbage collector finishing the delete of a protected object already terminating',
    review: {
      operation: 'DELETE',
      oldObject: cmWith({ ownerReferences: [OWNER], ...DELETING }),
      caller: serviceAccount('kube-system', 'generic-garbage-collector'),
    },
    allowed: true,
  },
  {
    name: 'garbage collector dropping the owner reference (orphaning delete of the owner)',
    review: {
      operation: 'UPDATE',
      object: cmWith({}),
      oldObject: cmWith({ ownerReferences: [OWNER] }),
      caller: serviceAccount('kube-system', 'generic-garbage-collector'),
    },
    allowed: true,
  },
  {
    name: 'namespace controller',
    review: { operation: 'DELETE', oldObject: cm(), caller: serviceAccount('kube-system', 'namespace-controller') },
    allowed: true,
  },
  { name: 'kube-scheduler (preemption)', review: { operation: 'DELETE', oldObject: pod(), caller: user('system:kube-scheduler') }, allowed: true },
  {
    name: 'an add-on service account in kube-system is judged',
    review: { operation: 'DELETE', oldObject: cm(), caller: serviceAccount('kube-system', 'csi-attacher') },
    allowed: false,
  },
  {
    name: 'kube-controller-manager',
    review: { operation: 'UPDATE', object: cm(P, 'b'), oldObject: cm(), caller: user('system:kube-controller-manager') },
    allowed: true,
  },
  { name: 'service account elsewhere', review: { operation: 'DELETE', oldObject: cm(), caller: serviceAccount('team', 'ci') }, allowed: false },
  { name: 'anonymous', review: { operation: 'DELETE', oldObject: cm(), caller: anonymous }, allowed: false },
];
