// Table tests of job-guard through the full dispatcher path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig, type Config } from '../../../lib/config/index.ts';
import { anonymous, object, serviceAccount, user, WebhookTester, type ReviewSpec } from '../../../lib/admission/testing.ts';
import type { AdmissionServices } from '../services.ts';
import { forgedMessage } from './job-guard.ts';

const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };
const L = { 'app.kubernetes.io/managed-by': 'posture' };
const job = (labels: Record<string, string> = L, extra: Record<string, unknown> = {}) => ({ ...object('Job', 'scorecard-abc', { namespace: 'posture', labels }), ...extra });
const cron = (templateLabels: Record<string, string>) => object('CronJob', 'nightly', { namespace: 'team', spec: { schedule: '@daily', jobTemplate: { metadata: { labels: templateLabels }, spec: {} } } });
const scheduler = serviceAccount('posture', 'posture-scheduler');
const jane = user('jane', 'devs');
const message = forgedMessage('Job', 'system:serviceaccount:posture:posture-scheduler');

const cases: Array<{ name: string; review: ReviewSpec; allowed: boolean; message?: string; config?: Partial<Config> }> = [
  { name: 'user CREATEs a posture Job', review: { operation: 'CREATE', object: job(), caller: jane }, allowed: false, message },
  { name: 'scheduler CREATEs a posture Job', review: { operation: 'CREATE', object: job(), caller: scheduler }, allowed: true },
  { name: 'scheduler UPDATEs a posture Job', review: { operation: 'UPDATE', object: job(), oldObject: job(), caller: scheduler }, allowed: true },
  { name: 'user UPDATEs a posture Job', review: { operation: 'UPDATE', object: job(L, { spec: { parallelism: 2 } }), oldObject: job(), caller: jane }, allowed: false, message },
  { name: 'user removes the label (old object carries it)', review: { operation: 'UPDATE', object: job({}), oldObject: job(), caller: jane }, allowed: false },
  { name: 'user adds the label to a Job', review: { operation: 'UPDATE', object: job(), oldObject: job({}), caller: jane }, allowed: false },
  { name: 'dryRun CREATE is judged the same', review: { operation: 'CREATE', object: job(), caller: jane, dryRun: true }, allowed: false },
  { name: 'another service account in posture\'s namespace', review: { operation: 'CREATE', object: job(), caller: serviceAccount('posture', 'posture-harvester') }, allowed: false },
  { name: 'cluster admin is not exempt', review: { operation: 'CREATE', object: job(), caller: user('root', 'system:masters') }, allowed: false },
  { name: 'anonymous', review: { operation: 'CREATE', object: job(), caller: anonymous }, allowed: false },
  { name: 'Job controller adds its finalizer', review: { operation: 'UPDATE', object: job(), oldObject: job(), caller: serviceAccount('kube-system', 'job-controller') }, allowed: true },
  { name: 'kube-controller-manager', review: { operation: 'UPDATE', object: job(), oldObject: job(), caller: user('system:kube-controller-manager') }, allowed: true },
  { name: 'CronJob whose Jobs would carry the label', review: { operation: 'CREATE', object: cron(L), caller: jane }, allowed: false, message: forgedMessage('CronJob', 'system:serviceaccount:posture:posture-scheduler') },
  { name: 'CronJob without the label', review: { operation: 'CREATE', object: cron({ app: 'x' }), caller: jane }, allowed: true },
  { name: 'Job without the label', review: { operation: 'CREATE', object: job({ app: 'x' }), caller: jane }, allowed: true },
  { name: 'another managed-by value', review: { operation: 'CREATE', object: job({ 'app.kubernetes.io/managed-by': 'helm' }), caller: jane }, allowed: true },
  { name: 'DELETE is not judged', review: { operation: 'DELETE', oldObject: job(), caller: jane }, allowed: true },
  { name: 'status subresource is not judged', review: { operation: 'UPDATE', object: job(), oldObject: job(), subResource: 'status', caller: jane }, allowed: true },
  { name: 'configured scheduler account', review: { operation: 'CREATE', object: job(), caller: serviceAccount('sec', 'sched') }, allowed: true, config: { namespace: 'sec', schedulerServiceAccount: 'sched' } },
  { name: 'default account once another is configured', review: { operation: 'CREATE', object: job(), caller: scheduler }, allowed: false, config: { namespace: 'sec', schedulerServiceAccount: 'sched' } },
];

test('job-guard', async (t) => {
  const testers = new Map<string, WebhookTester<AdmissionServices>>();
  for (const c of cases) {
    await t.test(c.name, async () => {
      const key = JSON.stringify(c.config ?? {});
      if (!testers.has(key)) testers.set(key, await WebhookTester.create({ services, config: defaultConfig(c.config ?? {}) }));
      const r = testers.get(key)!.send('job-guard', c.review);
      assert.equal(r.http.statusCode, 200);
      assert.equal(r.response!.allowed, c.allowed, JSON.stringify(r.response));
      if (c.message) assert.equal(r.response!.status?.message, c.message);
    });
  }
});

test("job-guard: judges posture's own namespace, skips the scheduler at the API server", async () => {
  const tester = await WebhookTester.create({ services });
  const w = tester.dispatcher.registry.byName('job-guard')!;
  assert.ok(!w.excludedNamespaces.includes('posture'));
  assert.ok(w.excludedNamespaces.includes('kube-system'));
  assert.match(w.matchConditions.find((c) => c.name === 'posture-skip-exempt')!.expression, /"system:serviceaccount:posture:posture-scheduler"/);
});
