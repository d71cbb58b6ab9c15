// Table tests of protected-objects through the full dispatcher path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../../../lib/config/index.ts';
import { anonymous, object, serviceAccount, user, WebhookTester, type ReviewSpec } from '../../../lib/admission/testing.ts';
import type { AdmissionServices } from '../services.ts';
import { protectedMessage, unlabelMessage } from './protected-objects.ts';

const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };
const P = { 'posture.dev/protected': 'true' };
const cm = (labels: Record<string, string> = P, data = 'a') => ({ ...object('ConfigMap', 'settings', { namespace: 'team', labels }), data: { v: data } });
const jane = user('jane', 'devs');

const cases: Array<{ name: string; review: ReviewSpec; allowed: boolean; message?: string; code?: number }> = [
  { name: 'UPDATE a protected object', review: { operation: 'UPDATE', object: cm(P, 'b'), oldObject: cm(), caller: jane }, allowed: false, message: protectedMessage('ConfigMap "team/settings"', 'UPDATE') },
  { name: 'UPDATE removing the label', review: { operation: 'UPDATE', object: cm({}), oldObject: cm(), caller: jane }, allowed: false, message: unlabelMessage('ConfigMap "team/settings"') },
  { name: 'UPDATE setting the label to false', review: { operation: 'UPDATE', object: cm({ 'posture.dev/protected': 'false' }), oldObject: cm(), caller: jane }, allowed: false },
  { name: 'DELETE (only oldObject)', review: { operation: 'DELETE', oldObject: cm(), caller: jane }, allowed: false, message: protectedMessage('ConfigMap "team/settings"', 'DELETE') },
  { name: 'dryRun DELETE is judged the same', review: { operation: 'DELETE', oldObject: cm(), caller: jane, dryRun: true }, allowed: false },
  { name: 'cluster-scoped object', review: { operation: 'DELETE', oldObject: object('ClusterRole', 'view-all', { labels: P }), caller: jane }, allowed: false, message: protectedMessage('ClusterRole "view-all"', 'DELETE') },
  { name: 'UPDATE adding the label', review: { operation: 'UPDATE', object: cm(), oldObject: cm({}), caller: jane }, allowed: true },
  { name: 'UPDATE an unlabelled object', review: { operation: 'UPDATE', object: cm({}, 'b'), oldObject: cm({}), caller: jane }, allowed: true },
  { name: 'label value other than "true"', review: { operation: 'DELETE', oldObject: cm({ 'posture.dev/protected': 'yes' }), caller: jane }, allowed: true },
  { name: 'DELETE an unlabelled object', review: { operation: 'DELETE', oldObject: cm({}), caller: jane }, allowed: true },
  { name: 'status subresource is not judged', review: { operation: 'UPDATE', object: cm(P, 'b'), oldObject: cm(), subResource: 'status', caller: jane }, allowed: true },
  { name: 'CREATE is not judged', review: { operation: 'CREATE', object: cm(), caller: jane }, allowed: true },
  { name: 'DELETE without oldObject cannot be decided: Fail denies', review: { operation: 'DELETE', oldObject: null, name: 'settings', namespace: 'team', caller: jane, kind: { group: '', version: 'v1', kind: 'ConfigMap' } }, allowed: false, code: 400 },
  { name: 'system:masters', review: { operation: 'DELETE', oldObject: cm(), caller: user('root', 'system:masters') }, allowed: true },
  { name: 'posture:admins removes the label', review: { operation: 'UPDATE', object: cm({}), oldObject: cm(), caller: user('ann', 'posture:admins') }, allowed: true },
  { name: 'kube-system garbage collector', review: { operation: 'DELETE', oldObject: cm(), caller: serviceAccount('kube-system', 'generic-garbage-collector') }, allowed: true },
  { name: 'kube-controller-manager', review: { operation: 'UPDATE', object: cm(P, 'b'), oldObject: cm(), caller: user('system:kube-controller-manager') }, allowed: true },
  { name: 'service account elsewhere', review: { operation: 'DELETE', oldObject: cm(), caller: serviceAccount('team', 'ci') }, allowed: false },
  { name: 'anonymous', review: { operation: 'DELETE', oldObject: cm(), caller: anonymous }, allowed: false },
];

test('protected-objects', async (t) => {
  const tester = await WebhookTester.create({ services, config: defaultConfig() });
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = tester.send('protected-objects', c.review);
      assert.equal(r.http.statusCode, 200);
      assert.equal(r.response!.allowed, c.allowed, JSON.stringify(r.response));
      if (c.message) assert.equal(r.response!.status?.message, c.message);
      if (!c.allowed) assert.equal(r.response!.status?.code, c.code ?? 403);
    });
  }
});

test('protected-objects: selected by label, old object included, default exclusions kept', async () => {
  const tester = await WebhookTester.create({ services });
  const w = tester.dispatcher.registry.byName('protected-objects')!;
  assert.deepEqual(w.declaration.objectSelector, { matchLabels: P });
  assert.deepEqual(w.excludedNamespaces, ['posture', 'kube-system', 'kube-node-lease']);
  assert.ok(w.matchConditions.some((c) => c.name === 'posture-exclude-leases'));
});
