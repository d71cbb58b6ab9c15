// Table tests of protected-objects through the full dispatcher path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { WebhookTester } from '../../../lib/admission/testing.ts';
import { defaultConfig } from '../../../lib/config/index.ts';
import { cases } from '../cases/protected-objects.ts';
import { WEBHOOKS_DIR } from '../webhooks-dir.ts';

const P = { 'posture.dev/protected': 'true' };
const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };

test('protected-objects', async (t) => {
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services, config: defaultConfig() });
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
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services });
  const w = tester.dispatcher.registry.byName('protected-objects')!;
  assert.deepEqual(w.declaration.objectSelector, { matchLabels: P });
  assert.deepEqual(w.excludedNamespaces, ['posture', 'kube-system', 'kube-node-lease']);
  assert.ok(w.matchConditions.some((c) => c.name === 'posture-exclude-leases'));
  // "*" matches no subresource: the ones that can write labels or change what runs are listed.
  assert.deepEqual(w.declaration.rules[0].resources, ['*', '*/status', 'pods/ephemeralcontainers', 'namespaces/finalize']);
  const skip = w.matchConditions.find((c) => c.name === 'posture-skip-exempt')!.expression;
  assert.ok(!skip.includes('system:serviceaccounts:kube-system'), 'not every service account of kube-system');
  assert.match(skip, /"system:serviceaccount:kube-system:namespace-controller"/);
  // The garbage collector is sent for its deletes (the owner cascade), not for its updates.
  assert.doesNotMatch(skip, /generic-garbage-collector/);
  const collector = w.matchConditions.find((c) => c.name === 'judge-only-collector-deletes')!.expression;
  assert.equal(collector, `!(request.userInfo.username == "system:serviceaccount:kube-system:generic-garbage-collector" && request.operation == 'UPDATE')`);
});
