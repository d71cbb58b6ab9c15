// The admission webhooks end to end on the real local control plane: the API server calls posture's
// HTTPS server through the configuration `posture webhooks manifest --url --ca-bundle` generates,
// as real users and ServiceAccounts; a certificate rotated on disk is served without a restart; with
// the server stopped, Ignore webhooks (the gate) let requests through and Fail webhooks do not;
// kube-system is never blocked. Attacks and liveness cases are in attacks.test.ts.
//
// The plane is shared with other test files, so each generated configuration gets a unique name and
// one extra match condition scoping it to this file's users and namespaces (a match condition, not a
// namespaceSelector, so the generated namespace exclusions are what is being tested). Every request
// that could harm the shared plane (deleting kube-system...) is a server-side dry run, which the
// API server still sends through admission.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { forgedMessage } from '../../functions/admission/webhooks/job-guard.ts';
import { protectedMessage as nsMessage, policyLabelMessage } from '../../functions/admission/webhooks/protected-namespaces.ts';
import { protectedMessage as objMessage, unlabelMessage } from '../../functions/admission/webhooks/protected-objects.ts';
import { lowScoreMessage } from '../../functions/admission/webhooks/scorecard-gate.ts';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { type AdmissionApp, createAdmissionApp } from '../../lib/admission/app.ts';
import { StaticScoreFeed } from '../../lib/admission/scores.ts';
import type { AdmissionServer } from '../../lib/admission/server.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { type ControlPlane, getSharedControlPlane, type ServingCert } from '../cluster/harness.ts';
import { call, DRY, denial, eventually as eventuallyHolds } from './api-call.ts';

const RUN = `e2e-${process.pid}`;
const DEV = `posture-e2e-dev-${process.pid}`;
const SCORES = [
  { repoKey: 'github.com/e2e/low', repo: 'github.com/e2e/low', score: 3.2, date: '2026-11-01T00:00:00Z', updatedAt: new Date() },
  { repoKey: 'github.com/e2e/high', repo: 'github.com/e2e/high', score: 7.5, date: '2026-11-01T00:00:00Z', updatedAt: new Date() },
];

let cp: ControlPlane;
let admin: k8s.KubeConfig;
let dev: k8s.KubeConfig;
let scheduler: k8s.KubeConfig;
let postureNs: string;
let teamNs: string;
let strictNs: string;
let warnNs: string;
let dir: string;
let first: ServingCert;
let second: ServingCert;
let app: AdmissionApp;
let warnApp: AdmissionApp;
let server: AdmissionServer;
let warnServer: AdmissionServer;
const vwcNames: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

// The control plane's log tails go with a timeout: `cp` is set in the before hook.
const eventually = (what: string, check: () => Promise<boolean>, ms = 20_000) => eventuallyHolds(what, check, { ms, diagnostics: () => cp.diagnostics(5) });

const deployment = (name: string, repo: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, annotations: { 'posture.dev/source-repo': repo } },
  spec: {
    replicas: 0,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'example/app:1' }] } },
  },
});

const job = (name: string, labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'posture' }) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, labels },
  spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scorecard', image: 'ghcr.io/ossf/scorecard:v5.3.0' }] } } },
});

const protectedMap = (name: string, value = 'a') => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels: { 'posture.dev/protected': 'true' } },
  data: { v: value },
});

/** The generated configurations for one server, named and scoped for this test file. */
async function generated(port: number, caFile: string, scope: string): Promise<Array<Record<string, any>>> {
  const r = await runCliCaptured(['webhooks', 'manifest', '--engine', 'webhook', '--url', `https://127.0.0.1:${port}`, '--ca-bundle', caFile], {
    POSTURE_NAMESPACE: postureNs,
  });
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => {
    const vwc = d.toJS() as Record<string, any>;
    vwc.metadata.name = `${vwc.metadata.name}-${RUN}`;
    for (const w of vwc.webhooks) w.matchConditions = [...(w.matchConditions ?? []), { name: 'e2e-scope', expression: scope }];
    return vwc;
  });
}

before(async () => {
  cp = await getSharedControlPlane();
  admin = cp.kc;
  postureNs = await cp.createNamespace('adm-posture');
  teamNs = await cp.createNamespace('adm-team');
  strictNs = await cp.createNamespace('adm-strict');
  warnNs = await cp.createNamespace('adm-warn');
  for (const ns of [postureNs, teamNs, strictNs, warnNs]) cleanups.push(() => call(admin, 'DELETE', `/api/v1/namespaces/${ns}`));
  assert.equal((await call(admin, 'PATCH', `/api/v1/namespaces/${strictNs}`, { metadata: { labels: { 'posture.dev/min-score': '8' } } })).status, 200);
  dev = await cp.asUser(DEV, ['devs'], {
    rules: [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] },
      { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'create', 'update', 'patch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'create', 'update', 'patch'] },
    ],
  });
  scheduler = await cp.asServiceAccount(postureNs, 'posture-scheduler', {
    namespace: postureNs,
    rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get'] }],
  });

  dir = mkdtempSync(join(tmpdir(), 'posture-e2e-admission-'));
  first = cp.servingCert(['127.0.0.1', 'localhost']);
  second = cp.servingCert(['127.0.0.1', 'localhost']);
  writeFileSync(join(dir, 'tls.crt'), first.cert);
  writeFileSync(join(dir, 'tls.key'), first.key);
  // Overlap, as a real CA rotation does: the bundle trusts the old and the new CA.
  writeFileSync(join(dir, 'ca-both.pem'), first.ca + second.ca);
  writeFileSync(join(dir, 'ca-first.pem'), first.ca);

  const config = defaultConfig({ namespace: postureNs, tlsReloadSeconds: 1 });
  app = await createAdmissionApp({ config, scoreFeed: new StaticScoreFeed(SCORES), webhooksDir: WEBHOOKS_DIR });
  warnApp = await createAdmissionApp({
    config: defaultConfig({ namespace: postureNs, tlsReloadSeconds: 1, webhookEnforcement: ['scorecard-gate=warn'] }),
    scoreFeed: new StaticScoreFeed(SCORES),
    webhooksDir: WEBHOOKS_DIR,
  });
  await app.scores.refresh();
  await warnApp.scores.refresh();
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  server = await app.serve({ port: 0, host: '127.0.0.1', ...files });
  warnServer = await warnApp.serve({ port: 0, host: '127.0.0.1', ...files });

  const users = JSON.stringify([DEV, `system:serviceaccount:${postureNs}:posture-scheduler`, 'posture-admin']);
  const mine = JSON.stringify([postureNs, teamNs, strictNs]);
  const main = await generated(
    server.port,
    join(dir, 'ca-both.pem'),
    `!(request.namespace in ["${warnNs}"]) && (request.userInfo.username in ${users} || request.namespace in ${mine} || request.name in ${mine})`,
  );
  const warn = (await generated(warnServer.port, join(dir, 'ca-both.pem'), `request.namespace in ["${warnNs}"]`)).filter((v) =>
    v.metadata.name.startsWith('posture-scorecard-gate'),
  );
  warn[0].metadata.name = `posture-scorecard-gate-warn-${RUN}`;
  const adm = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  for (const vwc of [...main, ...warn]) {
    await adm.createValidatingWebhookConfiguration({ body: vwc as k8s.V1ValidatingWebhookConfiguration });
    vwcNames.push(vwc.metadata.name);
  }
  // The API server loads webhook configurations asynchronously: wait until each is in force.
  await eventually('protected-namespaces in force', async () => (await call(dev, 'DELETE', `/api/v1/namespaces/${postureNs}${DRY}`)).status === 403);
  await eventually(
    'scorecard-gate in force',
    async () => (await call(dev, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('probe', 'github.com/e2e/low'))).status === 403,
  );
  await eventually('job-guard in force', async () => (await call(dev, 'POST', `/apis/batch/v1/namespaces/${teamNs}/jobs${DRY}`, job('probe'))).status === 403);
  await eventually('warn gate in force', async () =>
    (await call(dev, 'POST', `/apis/apps/v1/namespaces/${warnNs}/deployments${DRY}`, deployment('probe', 'github.com/e2e/low'))).warnings.includes(
      'below the minimum',
    ),
  );
  assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${teamNs}/configmaps`, protectedMap('guarded'))).status, 201);
  await eventually(
    'protected-objects in force',
    async () => (await call(dev, 'PUT', `/api/v1/namespaces/${teamNs}/configmaps/guarded${DRY}`, protectedMap('guarded', 'b'))).status === 403,
  );
});

after(async () => {
  const adm = admin?.makeApiClient(k8s.AdmissionregistrationV1Api);
  for (const name of vwcNames) await adm?.deleteValidatingWebhookConfiguration({ name }).catch(() => {});
  await server?.stop(100).catch(() => {});
  await warnServer?.stop(100).catch(() => {});
  app?.close();
  warnApp?.close();
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
  await cp?.stop();
});

test('the API server calls posture over TLS with the generated configuration, as real identities', async () => {
  const r = await call(dev, 'DELETE', `/api/v1/namespaces/${postureNs}${DRY}`);
  assert.equal(r.status, 403);
  const text = await (await import('../../lib/metrics/index.ts')).metricsText();
  assert.match(text.body, /posture_admission_decisions_total\{webhook="protected-namespaces",outcome="denied"\} [1-9]/);
});

test('protected-namespaces: a non-admin may not delete kube-system or a protected namespace; an admin may', async () => {
  // kube-system, kube-public and default cannot be deleted by anyone: the built-in NamespaceLifecycle
  // admission refuses before any webhook runs. Changing kube-system is ours to refuse.
  const builtIn = await call(dev, 'DELETE', `/api/v1/namespaces/kube-system${DRY}`);
  assert.equal(builtIn.status, 403);
  const change = await call(dev, 'PATCH', `/api/v1/namespaces/kube-system${DRY}`, { metadata: { labels: { team: 'mine' } } });
  assert.equal(change.status, 403, JSON.stringify(change.body));
  assert.equal(change.body.message, denial('protected-namespaces', nsMessage('kube-system', 'UPDATE')));
  // Deleting a protected namespace: posture's own, and one matching ^kube-.
  const kubeNs = `kube-posture-e2e-${process.pid}`;
  assert.equal((await call(admin, 'POST', '/api/v1/namespaces', { metadata: { name: kubeNs } })).status, 201);
  cleanups.push(() => call(admin, 'DELETE', `/api/v1/namespaces/${kubeNs}`));
  for (const ns of [postureNs, kubeNs]) {
    const r = await call(dev, 'DELETE', `/api/v1/namespaces/${ns}${DRY}`);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.message, denial('protected-namespaces', nsMessage(ns, 'DELETE')));
  }
  for (const ns of [postureNs, kubeNs]) assert.equal((await call(admin, 'DELETE', `/api/v1/namespaces/${ns}${DRY}`)).status, 200, ns);
  assert.equal(
    (await call(admin, 'PATCH', `/api/v1/namespaces/kube-system${DRY}`, { metadata: { labels: { team: 'mine' } } })).status,
    200,
    'an admin may change kube-system',
  );
  assert.equal((await call(dev, 'DELETE', `/api/v1/namespaces/${teamNs}${DRY}`)).status, 200, 'an ordinary namespace');
  const label = await call(dev, 'PATCH', `/api/v1/namespaces/${teamNs}${DRY}`, { metadata: { labels: { 'posture.dev/min-score': '0' } } });
  assert.equal(label.status, 403);
  assert.equal(label.body.message, denial('protected-namespaces', policyLabelMessage('posture.dev/min-score')));
});

test('protected-objects: labelled objects change only for admins; removing the label is refused', async () => {
  const path = `/api/v1/namespaces/${teamNs}/configmaps/guarded`;
  const what = `ConfigMap "${teamNs}/guarded"`;
  const update = await call(dev, 'PUT', path, protectedMap('guarded', 'b'));
  assert.equal(update.status, 403);
  assert.equal(update.body.message, denial('protected-objects', objMessage(what, 'UPDATE')));
  const unlabel = await call(dev, 'PATCH', path, { metadata: { labels: { 'posture.dev/protected': null } } });
  assert.equal(unlabel.body.message, denial('protected-objects', unlabelMessage(what)));
  const del = await call(dev, 'DELETE', path);
  assert.equal(del.body.message, denial('protected-objects', objMessage(what, 'DELETE')));
  assert.equal((await call(admin, 'PATCH', path, { data: { v: 'by-admin' } })).status, 200);
});

test("job-guard: a forged posture Job is denied, even for an admin; the scheduler's ServiceAccount succeeds", async () => {
  const forged = await call(dev, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs`, job('forged'));
  assert.equal(forged.status, 403);
  assert.equal(forged.body.message, denial('job-guard', forgedMessage('Job', `system:serviceaccount:${postureNs}:posture-scheduler`)));
  assert.equal((await call(admin, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs${DRY}`, job('by-admin'))).status, 403);
  assert.equal(
    (await call(dev, 'POST', `/apis/batch/v1/namespaces/${teamNs}/jobs${DRY}`, job('plain', { app: 'x' }))).status,
    201,
    'unlabelled Jobs are not judged',
  );
  const real = await call(scheduler, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs`, job('scorecard-e2e'));
  assert.equal(real.status, 201, JSON.stringify(real.body));
});

test('scorecard-gate: a low-scoring repository is denied (deny) or admitted with a warning the client sees (warn)', async () => {
  const denied = await call(dev, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments`, deployment('low', 'github.com/e2e/low'));
  assert.equal(denied.status, 403);
  assert.equal(denied.body.message, denial('scorecard-gate', lowScoreMessage('github.com/e2e/low', 3.2, '2026-11-01T00:00:00Z', 5, false)));
  assert.equal((await call(dev, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments`, deployment('high', 'github.com/e2e/high'))).status, 201);
  const strict = await call(dev, 'POST', `/apis/apps/v1/namespaces/${strictNs}/deployments`, deployment('high', 'github.com/e2e/high'));
  assert.equal(strict.status, 403, 'the namespace label raises the threshold');
  // The namespace's label routed the request to its tier's entry (one per value, by namespaceSelector).
  assert.equal(strict.body.message, denial('v-8.scorecard-gate', lowScoreMessage('github.com/e2e/high', 7.5, '2026-11-01T00:00:00Z', 8, true)));
  const warned = await call(dev, 'POST', `/apis/apps/v1/namespaces/${warnNs}/deployments`, deployment('low', 'github.com/e2e/low'));
  assert.equal(warned.status, 201);
  assert.match(warned.warnings, /repository github\.com\/e2e\/low scores 3\.2 on OpenSSF Scorecard \(2026-11-01\), below the minimum of 5/);
});

test('a serving certificate rotated on disk is picked up without a restart', async () => {
  const adm = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  const name = vwcNames.find((n) => n.startsWith('posture-protected-objects'))!;
  const path = `/api/v1/namespaces/${teamNs}/configmaps/guarded${DRY}`;
  const port = server.port;
  const before = server.fingerprint;
  // 1. Trust only the new CA: the API server can no longer verify the old certificate (Fail: refused).
  const vwc = await adm.readValidatingWebhookConfiguration({ name });
  for (const w of vwc.webhooks!) w.clientConfig.caBundle = second.caBundle;
  await adm.replaceValidatingWebhookConfiguration({ name, body: vwc });
  await eventually('API server uses the new caBundle', async () => {
    const r = await call(dev, 'PUT', path, protectedMap('guarded', 'c'));
    return r.status >= 500 && /failed calling webhook/.test(r.body.message ?? '');
  });
  // 2. Rotate the files on disk; the running server swaps them in and the API server gets through.
  writeFileSync(join(dir, 'tls.key'), second.key);
  writeFileSync(join(dir, 'tls.crt'), second.cert);
  await eventually('rotated certificate served', async () => {
    const r = await call(dev, 'PUT', path, protectedMap('guarded', 'c'));
    return r.status === 403 && r.body.message === denial('protected-objects', objMessage(`ConfigMap "${teamNs}/guarded"`, 'UPDATE'));
  });
  assert.notEqual(server.fingerprint, before);
  assert.equal(server.port, port, 'same server, no restart');
});

test('with the server stopped: Ignore webhooks let requests through, Fail webhooks do not, exempt callers and kube-system are never blocked', async () => {
  // Objects the checks below need, made while the webhooks answer.
  assert.equal((await call(admin, 'POST', `/api/v1/namespaces/kube-system/configmaps`, protectedMap(`posture-e2e-${process.pid}`))).status, 201);
  cleanups.push(() => call(admin, 'DELETE', `/api/v1/namespaces/kube-system/configmaps/posture-e2e-${process.pid}`));
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'held', labels: { 'posture.dev/protected': 'true' } },
    spec: { holderIdentity: 'a' },
  };
  assert.equal((await call(admin, 'POST', `/apis/coordination.k8s.io/v1/namespaces/${teamNs}/leases`, lease)).status, 201);

  await server.stop(100);
  await warnServer.stop(100);

  // Ignore: scorecard-gate.
  assert.equal(
    (await call(dev, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments`, deployment('low-while-down', 'github.com/e2e/low'))).status,
    201,
    'scorecard-gate (Ignore) lets it through',
  );
  // Fail: protected-namespaces (a policy label set meanwhile would outlast the outage), protected-objects and job-guard.
  const ns = await call(dev, 'DELETE', `/api/v1/namespaces/${postureNs}${DRY}`);
  assert.equal(ns.status, 500, JSON.stringify(ns.body));
  assert.match(ns.body.message, /failed calling webhook "protected-namespaces\.posture\.dev"/);
  const cm = await call(dev, 'PUT', `/api/v1/namespaces/${teamNs}/configmaps/guarded`, protectedMap('guarded', 'd'));
  assert.equal(cm.status, 500, JSON.stringify(cm.body));
  assert.match(cm.body.message, /failed calling webhook "protected-objects\.posture\.dev"/);
  const forged = await call(dev, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs${DRY}`, job('forged-while-down'));
  assert.equal(forged.status, 500);
  assert.match(forged.body.message, /failed calling webhook "job-guard\.posture\.dev"/);
  // Exempt callers never wait on the webhook (match condition): the scheduler and admins still work.
  assert.equal((await call(scheduler, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs`, job('scorecard-while-down'))).status, 201);
  assert.equal((await call(admin, 'PATCH', `/api/v1/namespaces/${teamNs}/configmaps/guarded`, { data: { v: 'admin-while-down' } })).status, 200);
  // kube-system is excluded by every webhook that does not protect it by name: never blocked.
  assert.equal(
    (await call(dev, 'PATCH', `/api/v1/namespaces/kube-system/configmaps/posture-e2e-${process.pid}`, { data: { v: 'x' } })).status,
    200,
    'protected object in kube-system',
  );
  assert.equal((await call(dev, 'POST', `/apis/batch/v1/namespaces/kube-system/jobs${DRY}`, job('in-kube-system'))).status, 201, 'posture Job in kube-system');
  // Leases are excluded by a match condition, even labelled ones (controllers renew them every few seconds).
  assert.equal(
    (await call(dev, 'PATCH', `/apis/coordination.k8s.io/v1/namespaces/${teamNs}/leases/held`, { spec: { holderIdentity: 'b' } })).status,
    200,
    'lease',
  );
});
