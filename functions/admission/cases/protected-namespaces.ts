// The table cases of protected-namespaces: the unit test sends each through the webhook's dispatcher, and
// test/e2e/admission-vap.test.ts sends each to a real API server with only the generated
// ValidatingAdmissionPolicy installed; both must give the verdict written here.
import { anonymous, object, type ReviewSpec, serviceAccount, user } from '../../../lib/admission/testing.ts';
import type { Config } from '../../../lib/config/index.ts';
import { policyLabelMessage, protectedMessage } from '../webhooks/protected-namespaces.ts';

const ns = (name: string, labels: Record<string, string> = {}) => object('Namespace', name, { labels });
const jane = user('jane', 'devs');
const admin = user('root', 'system:masters');

export interface Case {
  name: string;
  review: ReviewSpec;
  allowed: boolean;
  message?: string;
  config?: Partial<Config>;
}

export const cases: Case[] = [
  // Every operation on protected names, as a non-admin.
  {
    name: 'DELETE kube-system (only oldObject)',
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: jane },
    allowed: false,
    message: protectedMessage('kube-system', 'DELETE'),
  },
  {
    name: 'DELETE default',
    review: { operation: 'DELETE', oldObject: ns('default'), caller: jane },
    allowed: false,
    message: protectedMessage('default', 'DELETE'),
  },
  { name: "DELETE posture's own namespace", review: { operation: 'DELETE', oldObject: ns('posture'), caller: jane }, allowed: false },
  { name: 'DELETE kube-node-lease', review: { operation: 'DELETE', oldObject: ns('kube-node-lease'), caller: jane }, allowed: false },
  {
    name: 'DELETE with the name only in oldObject',
    review: { operation: 'DELETE', oldObject: ns('kube-public'), name: '', caller: jane },
    allowed: false,
    message: protectedMessage('kube-public', 'DELETE'),
  },
  {
    name: 'CREATE kube-anything',
    review: { operation: 'CREATE', object: ns('kube-mine'), caller: jane },
    allowed: false,
    message: protectedMessage('kube-mine', 'CREATE'),
  },
  {
    name: 'UPDATE kube-system labels',
    review: { operation: 'UPDATE', object: ns('kube-system', { team: 'x' }), oldObject: ns('kube-system'), caller: jane },
    allowed: false,
    message: protectedMessage('kube-system', 'UPDATE'),
  },
  { name: 'dryRun DELETE is judged the same', review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: jane, dryRun: true }, allowed: false },
  {
    name: 'subresource of a protected namespace',
    review: { operation: 'UPDATE', object: ns('kube-system'), oldObject: ns('kube-system'), subResource: 'finalize', caller: jane },
    allowed: false,
  },
  { name: 'CONNECT is not judged', review: { operation: 'CONNECT', object: { kind: 'NamespaceOptions' }, name: 'kube-system', caller: jane }, allowed: true },
  // Unprotected namespaces.
  { name: 'DELETE a team namespace', review: { operation: 'DELETE', oldObject: ns('team-a'), caller: jane }, allowed: true },
  { name: 'CREATE a team namespace', review: { operation: 'CREATE', object: ns('team-a'), caller: jane }, allowed: true },
  {
    name: 'UPDATE ordinary labels',
    review: { operation: 'UPDATE', object: ns('team-a', { team: 'a' }), oldObject: ns('team-a'), caller: jane },
    allowed: true,
  },
  { name: 'names that only contain kube-', review: { operation: 'DELETE', oldObject: ns('my-kube-x'), caller: jane }, allowed: true },
  // Subresources: a Namespace's status and finalize strategies keep the request's labels.
  {
    name: 'namespaces/status setting posture.dev/min-score',
    review: { operation: 'UPDATE', object: ns('team-a', { 'posture.dev/min-score': '0' }), oldObject: ns('team-a'), subResource: 'status', caller: jane },
    allowed: false,
    message: policyLabelMessage('posture.dev/min-score'),
  },
  {
    name: 'namespaces/finalize lowering posture.dev/min-score',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '0' }),
      oldObject: ns('team-a', { 'posture.dev/min-score': '9' }),
      subResource: 'finalize',
      caller: jane,
    },
    allowed: false,
    message: policyLabelMessage('posture.dev/min-score'),
  },
  {
    name: 'namespaces/status without label changes',
    review: {
      operation: 'UPDATE',
      object: { ...ns('team-a'), status: { phase: 'Terminating' } },
      oldObject: ns('team-a'),
      subResource: 'status',
      caller: jane,
    },
    allowed: true,
  },
  {
    name: 'namespaces/finalize of a protected namespace',
    review: { operation: 'UPDATE', object: ns('kube-public'), oldObject: ns('kube-public'), subResource: 'finalize', caller: jane },
    allowed: false,
    message: protectedMessage('kube-public', 'UPDATE'),
  },
  // Policy labels on any namespace.
  {
    name: 'CREATE with posture.dev/min-score',
    review: { operation: 'CREATE', object: ns('team-a', { 'posture.dev/min-score': '0' }), caller: jane },
    allowed: false,
    message: policyLabelMessage('posture.dev/min-score'),
  },
  {
    name: 'UPDATE adding posture.dev/min-score',
    review: { operation: 'UPDATE', object: ns('team-a', { 'posture.dev/min-score': '1' }), oldObject: ns('team-a'), caller: jane },
    allowed: false,
  },
  {
    name: 'UPDATE changing posture.dev/min-score',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '1' }),
      oldObject: ns('team-a', { 'posture.dev/min-score': '9' }),
      caller: jane,
    },
    allowed: false,
  },
  {
    name: 'UPDATE removing posture.dev/min-score (label removal)',
    review: { operation: 'UPDATE', object: ns('team-a'), oldObject: ns('team-a', { 'posture.dev/min-score': '9' }), caller: jane },
    allowed: false,
  },
  {
    name: 'UPDATE keeping posture.dev/min-score',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '9', x: 'y' }),
      oldObject: ns('team-a', { 'posture.dev/min-score': '9' }),
      caller: jane,
    },
    allowed: true,
  },
  // Exemptions.
  { name: 'system:masters', review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: admin }, allowed: true },
  { name: 'posture:admins', review: { operation: 'DELETE', oldObject: ns('default'), caller: user('ann', 'posture:admins') }, allowed: true },
  { name: 'admin sets policy labels', review: { operation: 'CREATE', object: ns('team-a', { 'posture.dev/min-score': '0' }), caller: admin }, allowed: true },
  {
    name: 'configured admin user',
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: user('ops') },
    allowed: true,
    config: { adminUsers: ['ops'] },
  },
  {
    name: 'the namespace controller, by name',
    review: {
      operation: 'UPDATE',
      object: ns('kube-public', { a: 'b' }),
      oldObject: ns('kube-public'),
      subResource: 'finalize',
      caller: serviceAccount('kube-system', 'namespace-controller'),
    },
    allowed: true,
  },
  {
    name: "the API server's loopback client (creates the system namespaces at start-up)",
    review: { operation: 'CREATE', object: ns('kube-node-lease'), caller: user('system:apiserver') },
    allowed: true,
  },
  {
    name: 'kube-controller-manager',
    review: { operation: 'UPDATE', object: ns('kube-public', { a: 'b' }), oldObject: ns('kube-public'), caller: user('system:kube-controller-manager') },
    allowed: true,
  },
  {
    name: 'an add-on service account in kube-system is judged',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '0' }),
      oldObject: ns('team-a'),
      caller: serviceAccount('kube-system', 'csi-driver'),
    },
    allowed: false,
  },
  {
    name: "another namespace's service account",
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: serviceAccount('team-a', 'deployer') },
    allowed: false,
  },
  {
    name: 'anonymous, even if its group is configured as admin',
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: anonymous },
    allowed: false,
    config: { adminGroups: ['system:unauthenticated', 'system:masters'] },
  },
  // Configuration.
  {
    name: 'configured pattern',
    review: { operation: 'DELETE', oldObject: ns('prod-eu'), caller: jane },
    allowed: false,
    config: { protectedNamespaces: ['^prod-'] },
  },
  {
    name: 'own namespace is always protected',
    review: { operation: 'DELETE', oldObject: ns('sec'), caller: jane },
    allowed: false,
    config: { protectedNamespaces: ['^prod-'], namespace: 'sec' },
  },
  {
    name: 'patterns replace the defaults',
    review: { operation: 'DELETE', oldObject: ns('default'), caller: jane },
    allowed: true,
    config: { protectedNamespaces: ['^prod-'] },
  },
];
