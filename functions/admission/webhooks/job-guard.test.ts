// Table tests of job-guard through the full dispatcher path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { WebhookTester } from '../../../lib/admission/testing.ts';
import { defaultConfig } from '../../../lib/config/index.ts';
import { cases } from '../cases/job-guard.ts';
import { WEBHOOKS_DIR } from '../webhooks-dir.ts';

const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };

test('job-guard', async (t) => {
  const testers = new Map<string, WebhookTester<AdmissionServices>>();
  for (const c of cases) {
    await t.test(c.name, async () => {
      const key = JSON.stringify(c.config ?? {});
      if (!testers.has(key)) testers.set(key, await WebhookTester.create({ dir: WEBHOOKS_DIR, services, config: defaultConfig(c.config ?? {}) }));
      const r = testers.get(key)!.send('job-guard', c.review);
      assert.equal(r.http.statusCode, 200);
      assert.equal(r.response!.allowed, c.allowed, JSON.stringify(r.response));
      if (c.message) assert.equal(r.response!.status?.message, c.message);
    });
  }
});

test("job-guard: judges posture's own namespace, skips the scheduler at the API server", async () => {
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services });
  const w = tester.dispatcher.registry.byName('job-guard')!;
  assert.ok(!w.excludedNamespaces.includes('posture'));
  assert.ok(w.excludedNamespaces.includes('kube-system'));
  const skip = w.matchConditions.find((c) => c.name === 'posture-skip-exempt')!.expression;
  assert.match(skip, /"system:serviceaccount:posture:posture-scheduler"/);
  assert.match(skip, /"system:serviceaccount:kube-system:job-controller"/);
  assert.ok(!skip.includes('system:serviceaccounts:kube-system'), 'not every service account of kube-system');
});
