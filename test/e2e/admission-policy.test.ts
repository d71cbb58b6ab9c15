// The Scorecard gate's policies on the real local control plane: the API server calls posture's
// HTTPS server through the configuration `posture webhooks manifest` generates (with a policy
// tier), the policies come from a real policy file that is re-read while the server runs. A
// repository that scores above the gate's minimum but fails a required check is refused in a
// namespace judged by the first matching policy, admitted in one whose tier selects a policy it
// passes, and admitted everywhere once the file is changed to a policy it passes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { policyFailMessage } from '../../functions/admission/webhooks/scorecard-policy.ts';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { type AdmissionApp, createAdmissionApp } from '../../lib/admission/app.ts';
import { type ScoreRow, StaticScoreFeed } from '../../lib/admission/scores.ts';
import type { AdmissionServer } from '../../lib/admission/server.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { type ControlPlane, getSharedControlPlane } from '../cluster/harness.ts';
import { FIXTURES, fixturePath } from '../fixtures/scorecard.ts';
import { call, DRY, denial, eventually as eventuallyHolds } from './api-call.ts';

const RUN = `e2e-policy-${process.pid}`;
const DEV = `posture-e2e-policy-dev-${process.pid}`;
const REPO = 'github.com/e2e/payments';

// A real result (Scorecard v5.5.0 --local), its score raised above the gate's minimum of 5:
// Token-Permissions 0 is what the production policy refuses.
const real = JSON.parse(readFileSync(fixturePath(FIXTURES.realLocalV550), 'utf8')) as { checks: Array<{ name: string; score: number; reason: string }> };
const ROWS: ScoreRow[] = [
  {
    repoKey: REPO,
    repo: REPO,
    score: 7.2,
    date: new Date(Date.now() - 86_400_000).toISOString(),
    updatedAt: new Date(),
    checks: real.checks.map((c) => ({ name: c.name, score: c.score, internalError: c.reason.startsWith('internal error:') })),
  },
];

const doc = (name: string, spec: string) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const STRICT = [
  doc('production', '  repositories: ["github.com/e2e/*"]\n  minimumScore: 5\n  checks: {Token-Permissions: {minimum: 5}}\n'),
  doc('sandbox', '  repositories: ["github.com/nobody/*"]\n  minimumScore: 5\n  checks: {Dangerous-Workflow: {minimum: 10}}\n  maxAge: 30d\n'),
].join('---\n');
const RELAXED = [
  doc('production', '  repositories: ["github.com/e2e/*"]\n  minimumScore: 5\n  checks: {Dangerous-Workflow: {minimum: 10}}\n'),
  doc('sandbox', '  repositories: ["github.com/nobody/*"]\n  minimumScore: 5\n'),
].join('---\n');

let cp: ControlPlane;
let admin: k8s.KubeConfig;
let dev: k8s.KubeConfig;
let postureNs: string;
let teamNs: string;
let sandboxNs: string;
let dir: string;
let app: AdmissionApp;
let server: AdmissionServer;
const vwcNames: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

const eventually = (what: string, check: () => Promise<boolean>, ms = 20_000) => eventuallyHolds(what, check, { ms, diagnostics: () => cp.diagnostics(5) });

const deployment = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, annotations: { 'posture.dev/source-repo': REPO } },
  spec: {
    replicas: 0,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'example/app:1' }] } },
  },
});
const create = (ns: string, name: string) => call(dev, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments${DRY}`, deployment(name));

before(async () => {
  cp = await getSharedControlPlane();
  admin = cp.kc;
  postureNs = await cp.createNamespace('pol-posture');
  teamNs = await cp.createNamespace('pol-team');
  sandboxNs = await cp.createNamespace('pol-sandbox');
  for (const ns of [postureNs, teamNs, sandboxNs]) cleanups.push(() => call(admin, 'DELETE', `/api/v1/namespaces/${ns}`));
  // The tier: set by an administrator (protected-namespaces guards posture.dev/ labels; not loaded here).
  assert.equal((await call(admin, 'PATCH', `/api/v1/namespaces/${sandboxNs}`, { metadata: { labels: { 'posture.dev/policy': 'sandbox' } } })).status, 200);
  dev = await cp.asUser(DEV, ['devs'], { rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'create'] }] });

  dir = mkdtempSync(join(tmpdir(), 'posture-e2e-policy-'));
  const cert = cp.servingCert(['127.0.0.1', 'localhost']);
  writeFileSync(join(dir, 'tls.crt'), cert.cert);
  writeFileSync(join(dir, 'tls.key'), cert.key);
  writeFileSync(join(dir, 'ca.pem'), cert.ca);
  writeFileSync(join(dir, 'policy.yaml'), STRICT);

  const config = defaultConfig({
    namespace: postureNs,
    gatePolicyTiers: ['sandbox'],
    policyFile: join(dir, 'policy.yaml'),
    policyReloadSeconds: 1,
    gateRefreshSeconds: 1,
  });
  app = await createAdmissionApp({ config, scoreFeed: new StaticScoreFeed(ROWS), webhooksDir: WEBHOOKS_DIR });
  await app.scores.refresh();
  server = await app.serve({ port: 0, host: '127.0.0.1', certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });

  // The configurations as an operator generates them, with the tier from the same setting.
  const r = await runCliCaptured(['webhooks', 'manifest', '--url', `https://127.0.0.1:${server.port}`, '--ca-bundle', join(dir, 'ca.pem')], {
    POSTURE_NAMESPACE: postureNs,
    POSTURE_GATE_POLICY_TIERS: 'sandbox',
  });
  assert.equal(r.code, 0, r.stderr);
  const scope = `request.namespace in ${JSON.stringify([teamNs, sandboxNs])}`;
  const vwcs = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Record<string, any>)
    .filter((v) => ['posture-scorecard-gate', 'posture-scorecard-policy'].includes(v.metadata.name));
  assert.equal(vwcs.length, 2);
  const policyVwc = vwcs.find((v) => v.metadata.name === 'posture-scorecard-policy')!;
  assert.deepEqual(
    policyVwc.webhooks.map((w: { name: string }) => w.name),
    ['scorecard-policy.posture.dev', 'v-sandbox.scorecard-policy.posture.dev', 'invalid.scorecard-policy.posture.dev'],
  );
  const adm = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  for (const vwc of vwcs) {
    vwc.metadata.name = `${vwc.metadata.name}-${RUN}`;
    for (const w of vwc.webhooks) w.matchConditions = [...(w.matchConditions ?? []), { name: 'e2e-scope', expression: scope }];
    await adm.createValidatingWebhookConfiguration({ body: vwc as k8s.V1ValidatingWebhookConfiguration });
    vwcNames.push(vwc.metadata.name);
  }
  await eventually('scorecard-policy in force', async () => (await create(teamNs, 'probe')).status === 403);
});

after(async () => {
  const adm = admin?.makeApiClient(k8s.AdmissionregistrationV1Api);
  for (const name of vwcNames) await adm?.deleteValidatingWebhookConfiguration({ name }).catch(() => {});
  await server?.stop(100).catch(() => {});
  app?.close();
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
  await cp?.stop();
});

test('a Deployment whose repository scores above the minimum but fails a required check is refused, naming the rule', async () => {
  const r = await create(teamNs, 'web');
  assert.equal(r.status, 403);
  assert.equal(r.body.message, denial('scorecard-policy', policyFailMessage(REPO, 'production', 'Token-Permissions scores 0, below the required 5', false)));
});

test('the same Deployment is admitted in a namespace whose tier selects a policy it passes', async () => {
  const r = await create(sandboxNs, 'web');
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

test('the policy file changed on disk: re-read and applied without a restart', async () => {
  writeFileSync(join(dir, 'policy.yaml'), 'not: [valid\n');
  await eventually('the invalid file refused, the last good one kept', async () => app.policies.status().valid === false);
  assert.equal((await create(teamNs, 'web')).status, 403);
  writeFileSync(join(dir, 'policy.yaml'), RELAXED);
  await eventually('the new policy in force', async () => (await create(teamNs, 'web')).status === 201);
  assert.equal(app.policies.status().valid, true);
});
