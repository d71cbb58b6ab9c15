// The two engines agree: every table case of protected-namespaces, protected-objects and job-guard
// (functions/admission/cases/) is sent to a real API server with only the generated
// ValidatingAdmissionPolicies installed (no webhook configuration, no admission server), and must
// get the verdict the webhook's dispatcher gives the same review. A case the API server cannot be
// asked (a review it never sends) is counted and must be one of UNSENDABLE, with its reason.
//
// A private plane: the test binds cluster-admin to every caller so that RBAC never answers first.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { cases as jobGuardCases } from '../../functions/admission/cases/job-guard.ts';
import { cases as protectedNamespacesCases } from '../../functions/admission/cases/protected-namespaces.ts';
import { cases as protectedObjectsCases } from '../../functions/admission/cases/protected-objects.ts';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { admissionPolicy, policyBinding } from '../../lib/admission/manifest.ts';
import { buildRegistry, loadDeclarations } from '../../lib/admission/registry.ts';
import type { AdmissionServices } from '../../lib/admission/services.ts';
import { type ReviewSpec, WebhookTester } from '../../lib/admission/testing.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { type Config, defaultConfig } from '../../lib/config/index.ts';
import { freePort } from '../cluster/config.ts';
import { type ControlPlane, startControlPlane } from '../cluster/harness.ts';
import { call } from './api-call.ts';
import { type Sent, sendCase } from './policy-kit.ts';

interface TableCase {
  name: string;
  review: ReviewSpec;
  allowed: boolean;
  config?: Partial<Config>;
}

const TABLES: Array<{ webhook: string; cases: readonly TableCase[] }> = [
  { webhook: 'protected-namespaces', cases: protectedNamespacesCases },
  { webhook: 'protected-objects', cases: protectedObjectsCases },
  { webhook: 'job-guard', cases: jobGuardCases },
];

const IMMORTAL = /this namespace may not be deleted/;
/**
 * Cases a real API server cannot be asked as written, `<webhook>: <case>` → why (checked: exactly
 * these, each for this reason). Most are refused before any validating admission: the
 * NamespaceLifecycle plugin never lets anyone delete kube-system, kube-public or default, and the
 * API server's own validation refuses a Terminating phase without a deletion and new finalizers on
 * an object being deleted. The rest are reviews the API server never sends.
 */
export const UNSENDABLE: Record<string, RegExp> = {
  'protected-namespaces: CONNECT is not judged': /^CONNECT/,
  'protected-namespaces: DELETE kube-system (only oldObject)': IMMORTAL,
  'protected-namespaces: DELETE default': IMMORTAL,
  'protected-namespaces: DELETE with the name only in oldObject': IMMORTAL,
  'protected-namespaces: dryRun DELETE is judged the same': IMMORTAL,
  'protected-namespaces: system:masters': IMMORTAL,
  'protected-namespaces: posture:admins': IMMORTAL,
  "protected-namespaces: another namespace's service account": IMMORTAL,
  'protected-namespaces: configured admin user': IMMORTAL,
  'protected-namespaces: anonymous, even if its group is configured as admin': IMMORTAL,
  'protected-namespaces: patterns replace the defaults': IMMORTAL,
  'protected-namespaces: namespaces/status without label changes': /may only be 'Active' if `deletionTimestamp` is empty/,
  'protected-objects: adding a finalizer to a terminating object': /no new finalizers can be added if the object is being deleted/,
  'protected-objects: swapping finalizers on a terminating object': /no new finalizers can be added if the object is being deleted/,
  'protected-objects: DELETE without oldObject cannot be decided: Fail denies': /the API server always sends the stored object/,
};

/** A username whose requests every policy under test refuses with the mark of its configuration. */
const PROBE_USER = 'posture-e2e-probe';

const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };
let cp: ControlPlane;
let admin: k8s.KubeConfig;

before(async () => {
  cp = await startControlPlane();
  admin = cp.kc;
  // Every caller may do anything RBAC-wise: what refuses is admission alone.
  const r = await call(admin, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'posture-e2e-everyone' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:unauthenticated' },
    ],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

after(async () => {
  await cp?.stop();
});

/** The requests that reach each policy (and pass its match conditions), made as PROBE_USER. */
async function probe(name: string): Promise<{ status: number; body: any }> {
  const as = { 'Impersonate-User': PROBE_USER };
  if (name === 'protected-namespaces')
    return call(admin, 'POST', '/api/v1/namespaces?dryRun=All', { metadata: { name: 'posture-e2e-probe-created' } }, undefined, as);
  if (name === 'protected-objects')
    return call(admin, 'PATCH', '/api/v1/namespaces/posture-e2e-probe/configmaps/probe?dryRun=All', { data: { v: String(Date.now()) } }, undefined, as);
  return call(
    admin,
    'POST',
    '/apis/batch/v1/namespaces/posture-e2e-probe/jobs?dryRun=All',
    {
      metadata: { name: 'probe', labels: { 'app.kubernetes.io/managed-by': 'posture' } },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } },
    },
    undefined,
    as,
  );
}

let generation = 0;

/**
 * Replaces the policies under test by those of `config`, and returns once the API server enforces
 * exactly these: each carries one extra validation refusing PROBE_USER with a mark of this
 * installation, and a probe of each policy must come back refused with that mark (and, between
 * two installations, allowed once the old ones are gone).
 */
async function installPolicies(config: Config, names: readonly string[]): Promise<void> {
  const registry = buildRegistry(await loadDeclarations(WEBHOOKS_DIR), config);
  const mark = `posture-e2e-generation-${++generation}`;
  const probeNs = await call(admin, 'POST', '/api/v1/namespaces', { metadata: { name: 'posture-e2e-probe' } });
  assert.ok(probeNs.status === 201 || probeNs.status === 409);
  const cm = { metadata: { name: 'probe', labels: { 'posture.dev/protected': 'true' } }, data: { v: '0' } };
  const made = await call(admin, 'POST', '/api/v1/namespaces/posture-e2e-probe/configmaps', cm);
  assert.ok(made.status === 201 || made.status === 409);
  // The old ones out first, until no probe is refused.
  for (const name of names) {
    await call(admin, 'DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/posture-${name}`);
    await call(admin, 'DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/posture-${name}`);
  }
  for (const name of names) await until(`the old policy ${name} is gone`, async () => (await probe(name)).status < 300, 30_000);
  for (const name of names) {
    const w = registry.byName(name)!;
    const policy = admissionPolicy(w) as { spec: { validations: unknown[] } };
    policy.spec.validations.unshift({ expression: `request.userInfo.username != "${PROBE_USER}"`, messageExpression: `"${mark}"` });
    for (const [plural, o] of [
      ['validatingadmissionpolicies', policy as Record<string, unknown>],
      ['validatingadmissionpolicybindings', policyBinding(w)],
    ] as const) {
      const path = `/apis/admissionregistration.k8s.io/v1/${plural}`;
      const objName = (o.metadata as { name: string }).name;
      await call(admin, 'DELETE', `${path}/${objName}`);
      for (let i = 0; ; i++) {
        const r = await call(admin, 'POST', path, o);
        if (r.status === 201) break;
        if (r.status !== 409 || i > 50) throw new Error(`install ${plural}/${objName}: ${r.status} ${JSON.stringify(r.body)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }
  for (const name of names)
    await until(`the policy ${name} of ${mark} is enforced`, async () => ((await probe(name)).body?.message ?? '').includes(mark), 30_000);
}

/** The requests protected-objects' policy leaves to its webhook (its beyondCel expression, in TypeScript). */
function beyondCel(r: ReviewSpec): boolean {
  const old = r.oldObject as any;
  const now = r.object as any;
  return (
    r.operation === 'UPDATE' &&
    !r.subResource &&
    !!old &&
    !!now &&
    !!old.metadata?.deletionTimestamp &&
    old.metadata?.labels?.['posture.dev/protected'] === 'true' &&
    (now.metadata?.finalizers ?? []).length < (old.metadata?.finalizers ?? []).length
  );
}

const beyond: string[] = [];

const results: Array<{ key: string; webhook: boolean; policy: Sent; sameMessage?: boolean }> = [];

test('every table case: the ValidatingAdmissionPolicy on a real API server gives the webhook verdict', async (t) => {
  // Cases grouped by configuration: each group gets the policies generated for its configuration.
  const groups = new Map<string, Array<{ table: string; c: TableCase; index: number }>>();
  for (const { webhook, cases } of TABLES) {
    cases.forEach((c, index) => {
      const key = JSON.stringify(c.config ?? {});
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push({ table: webhook, c, index });
    });
  }
  for (const [key, group] of groups) {
    const config = defaultConfig(JSON.parse(key));
    await installPolicies(config, [...new Set(TABLES.map((x) => x.webhook))]);
    const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services, config });
    for (const { table, c, index } of group) {
      const caseKey = `${table}: ${c.name}`;
      await t.test(caseKey, async () => {
        const webhook = tester.send(table, c.review);
        assert.equal(webhook.http.statusCode, 200);
        const webhookAllowed = webhook.response!.allowed;
        const policy = await sendCase(
          admin,
          c.review,
          `${table === 'protected-namespaces' ? 'n' : table === 'protected-objects' ? 'o' : 'j'}${index}`,
          config.namespace,
        );
        // The materialized objects live in namespaces renamed <tag>-<namespace>: said back as the table's.
        const sameMessage =
          'verdict' in policy && !webhookAllowed ? policy.message.replace(/\b[nojp]\d+-/g, '') === (webhook.response!.status?.message ?? '') : undefined;
        results.push({ key: caseKey, webhook: webhookAllowed, policy, sameMessage });
        if ('unsendable' in policy) {
          assert.ok(UNSENDABLE[caseKey], `${caseKey}: not sent: ${policy.unsendable}`);
          assert.match(policy.unsendable, UNSENDABLE[caseKey]);
          return;
        }
        assert.ok(!UNSENDABLE[caseKey], `${caseKey} is listed as unsendable but was sent`);
        if (table === 'protected-objects' && beyondCel(c.review)) {
          // Named in docs/operate/webhooks.md: the policy skips these; the webhook's beyond-cel entry judges them.
          assert.equal(policy.verdict, 'allowed', `${caseKey}: the policy must skip what it leaves to the webhook`);
          beyond.push(caseKey);
          return;
        }
        assert.equal(
          policy.verdict === 'allowed',
          webhookAllowed,
          `${caseKey}: the policy ${policy.verdict} (${policy.message}); the webhook ${webhookAllowed ? 'allowed' : 'denied'}`,
        );
      });
    }
  }
  const sent = results.filter((r) => 'verdict' in r.policy && !beyond.includes(r.key));
  const same = sent.filter((r) => 'verdict' in r.policy && (r.policy.verdict === 'allowed') === r.webhook);
  const denied = sent.filter((r) => !r.webhook);
  t.diagnostic(
    `cases ${results.length}; sent and judged by the policy ${sent.length}; same verdict ${same.length}; left to the webhook (beyond CEL) ${beyond.length}; unsendable ${results.filter((r) => 'unsendable' in r.policy).length}; ` +
      `denied by both ${denied.length}, of which the same message ${denied.filter((r) => r.sameMessage).length}`,
  );
  for (const { webhook, cases } of TABLES) {
    const mine = results.filter((r) => r.key.startsWith(`${webhook}: `));
    t.diagnostic(
      `${webhook}: ${mine.length} cases, ${mine.filter((r) => 'verdict' in r.policy).length} sent, ${mine.filter((r) => 'verdict' in r.policy && (r.policy.verdict === 'allowed') === r.webhook).length} same`,
    );
    assert.equal(mine.length, cases.length);
  }
});

test('with the admission server stopped (engine both), the policies still refuse a non-admin: deleting a protected namespace, removing a protected label', async () => {
  // `both` as knative/base ships it, the webhooks pointed at a port nobody listens on.
  const port = await freePort();
  const caFile = join(mkdtempSync(join(tmpdir(), 'posture-vap-')), 'ca.pem');
  writeFileSync(caFile, cp.servingCert(['127.0.0.1']).ca);
  const out = await runCliCaptured(['webhooks', 'manifest', '--engine', 'both', '--url', `https://127.0.0.1:${port}`, '--ca-bundle', caFile], {});
  assert.equal(out.code, 0, out.stderr);
  const docs = parseAllDocuments(out.stdout).map((d) => d.toJS() as Record<string, any>);
  const kinds = docs.map((d) => d.kind);
  assert.ok(kinds.includes('ValidatingAdmissionPolicy') && kinds.includes('ValidatingWebhookConfiguration'), kinds.join());
  const plural: Record<string, string> = {
    ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
    ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
    ValidatingWebhookConfiguration: 'validatingwebhookconfigurations',
  };
  for (const d of docs) {
    const path = `/apis/admissionregistration.k8s.io/v1/${plural[d.kind]}`;
    await call(admin, 'DELETE', `${path}/${d.metadata.name}`);
    for (let i = 0; ; i++) {
      const r = await call(admin, 'POST', path, d);
      if (r.status === 201) break;
      if (r.status !== 409 || i > 50) throw new Error(`${d.kind} ${d.metadata.name}: ${r.status} ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  // The three request-only webhooks fall back under Ignore; the gate keeps its own policy.
  for (const d of docs.filter((x) => x.kind === 'ValidatingWebhookConfiguration' && x.metadata.name !== 'posture-scorecard-gate')) {
    for (const w of d.webhooks) if (!w.name.startsWith('beyond-cel.')) assert.equal(w.failurePolicy, 'Ignore', w.name);
  }
  const mallory = await cp.asUser('vap-mallory', ['devs']);
  const ns = await cp.createNamespace('vap-down');
  // A protected namespace (^kube-.*) that may be deleted at all: kube-system, kube-public and
  // default are refused by the API server's NamespaceLifecycle before any admission.
  const kubeNs = `kube-vap-${process.pid}`;
  assert.equal((await call(admin, 'POST', '/api/v1/namespaces', { metadata: { name: kubeNs } })).status, 201);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'keep', labels: { 'posture.dev/protected': 'true' } }, data: { a: '1' } };
  assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${ns}/configmaps`, cm)).status, 201);
  const refusedByPolicy = (r: { status: number; body: any }, policy: string) =>
    r.status !== 200 && new RegExp(`ValidatingAdmissionPolicy 'posture-${policy}'`).test(r.body?.message ?? '');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const del = await call(mallory, 'DELETE', `/api/v1/namespaces/${kubeNs}`);
    const unlabel = await call(mallory, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/keep`, { metadata: { labels: { 'posture.dev/protected': null } } });
    if (refusedByPolicy(del, 'protected-namespaces') && refusedByPolicy(unlabel, 'protected-objects')) {
      assert.equal(del.status, 403);
      assert.equal(unlabel.status, 403);
      break;
    }
    if (Date.now() > deadline)
      assert.fail(`not refused by the policies within 20 s: ${JSON.stringify([del.status, del.body?.message, unlabel.status, unlabel.body?.message])}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // Nothing changed: the namespace and the label are still there.
  assert.equal((await call(admin, 'GET', `/api/v1/namespaces/${kubeNs}`)).body.metadata.deletionTimestamp, undefined);
  assert.equal((await call(admin, 'GET', `/api/v1/namespaces/${ns}/configmaps/keep`)).body.metadata.labels['posture.dev/protected'], 'true');
  // The webhook configurations point nowhere: gone before the next test.
  for (const d of docs.filter((x) => x.kind === 'ValidatingWebhookConfiguration'))
    await call(admin, 'DELETE', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${d.metadata.name}`);
});

/** A request of test/e2e/attacks.test.ts, made again here with only the policies installed. */
interface Attack {
  what: string;
  /** Whether the webhook engine (attacks.test.ts) admits it. */
  allowed: boolean;
}

const ATTACKS: Attack[] = [];

test("attacks.test.ts's requests with only the policies: the same verdicts", async (t) => {
  await installPolicies(defaultConfig({ namespace: 'posture' }), ['protected-namespaces', 'protected-objects', 'job-guard']);
  const mallory = await cp.asUser('vap-atk-mallory', ['devs']);
  const addon = await cp.asServiceAccount('kube-system', 'vap-atk-addon');
  const gitops = await cp.asServiceAccount('default', 'vap-atk-gitops');
  const NODE = 'vap-atk-node';
  await call(admin, 'POST', '/api/v1/nodes', { metadata: { name: NODE } });
  const kubelet = await cp.asUser(`system:node:${NODE}`, ['system:nodes']);
  const team = await cp.createNamespace('vap-atk-team');
  const doomed = await cp.createNamespace('vap-atk-doomed');
  await ensure('posture');
  const check = async (what: string, allowed: boolean, r: Promise<{ status: number; body: any }>) => {
    const got = await r;
    ATTACKS.push({ what, allowed });
    const ok = got.status >= 200 && got.status < 300;
    if (!allowed) assert.match(got.body?.message ?? '', /ValidatingAdmissionPolicy 'posture-/, `${what}: ${got.status} ${JSON.stringify(got.body)}`);
    assert.equal(ok, allowed, `${what}: ${got.status} ${got.body?.message}`);
  };
  const protectedPod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'posture.dev/protected': 'true' } },
    spec: { nodeName: NODE, terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'example/app:1' }] },
  });
  // Wait until the policies are in force.
  const deadline = Date.now() + 20_000;
  while (
    !/ValidatingAdmissionPolicy 'posture-protected-namespaces'/.test(
      (await call(mallory, 'POST', '/api/v1/namespaces?dryRun=All', { metadata: { name: 'kube-vap-atk' } })).body?.message ?? '',
    )
  ) {
    if (Date.now() > deadline) throw new Error('the policies are not in force');
    await new Promise((r) => setTimeout(r, 250));
  }

  await t.test('subresources', async () => {
    assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${team}/pods`, protectedPod('guarded'))).status, 201);
    const pod = `/api/v1/namespaces/${team}/pods/guarded`;
    await check(
      'pods/status removing the protection label',
      false,
      call(mallory, 'PATCH', `${pod}/status`, { metadata: { labels: { 'posture.dev/protected': null } } }),
    );
    await check('pods/status adding a label', false, call(mallory, 'PATCH', `${pod}/status`, { metadata: { labels: { app: 'mine' } } }));
    await check(
      'pods/ephemeralcontainers',
      false,
      call(
        mallory,
        'PATCH',
        `${pod}/ephemeralcontainers`,
        { spec: { ephemeralContainers: [{ name: 'debug', image: 'busybox', targetContainerName: 'app' }] } },
        'application/strategic-merge-patch+json',
      ),
    );
    await check(
      'namespaces/status setting posture.dev/min-score',
      false,
      call(mallory, 'PATCH', `/api/v1/namespaces/${team}/status`, { metadata: { labels: { 'posture.dev/min-score': '0' } } }),
    );
    const nsObject = (await call(admin, 'GET', `/api/v1/namespaces/${team}`)).body;
    nsObject.metadata.labels = { ...nsObject.metadata.labels, 'posture.dev/min-score': '0' };
    await check('namespaces/finalize setting posture.dev/min-score', false, call(mallory, 'PUT', `/api/v1/namespaces/${team}/finalize`, nsObject));
    await check(
      'pods/eviction (not judged)',
      true,
      call(mallory, 'POST', `${pod}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'guarded', namespace: team } }),
    );
  });

  await t.test('job-guard: a bare Pod dressed as a Job pod, an add-on ServiceAccount in kube-system', async () => {
    const bare = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'scorecard-fake', labels: { 'batch.kubernetes.io/job-name': 'scorecard-abc', 'job-name': 'scorecard-abc' } },
      spec: { containers: [{ name: 'scorecard', image: 'evil/forger:1' }] },
    };
    await check("a bare Pod with a Job's name label in posture's namespace", false, call(mallory, 'POST', '/api/v1/namespaces/posture/pods?dryRun=All', bare));
    const labelled = { ...bare, metadata: { ...bare.metadata, labels: { ...bare.metadata.labels, 'app.kubernetes.io/managed-by': 'posture' } } };
    await check("a Pod with posture's label in another namespace", false, call(mallory, 'POST', `/api/v1/namespaces/${team}/pods?dryRun=All`, labelled));
    await check("the same bare Pod outside posture's namespace, unlabelled", true, call(mallory, 'POST', `/api/v1/namespaces/${team}/pods?dryRun=All`, bare));
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'by-addon', labels: { 'app.kubernetes.io/managed-by': 'posture' } },
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scorecard', image: 'ghcr.io/ossf/scorecard:v5.3.0' }] } } },
    };
    await check(
      'an add-on ServiceAccount of kube-system creating a posture Job',
      false,
      call(addon, 'POST', '/apis/batch/v1/namespaces/posture/jobs?dryRun=All', job),
    );
  });

  await t.test('a namespace holding a protected object with a finalizer deletes to the end', async () => {
    const cm = { metadata: { name: 'keep', labels: { 'posture.dev/protected': 'true' }, finalizers: ['gitops.example/cleanup'] }, data: { v: 'a' } };
    assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${doomed}/configmaps`, cm)).status, 201);
    const path = `/api/v1/namespaces/${doomed}/configmaps/keep`;
    await check('deleting a protected ConfigMap', false, call(mallory, 'DELETE', path));
    await check('deleting its (unprotected) namespace', true, call(mallory, 'DELETE', `/api/v1/namespaces/${doomed}`));
    await until('the protected object is terminating', async () => !!(await call(admin, 'GET', path)).body?.metadata?.deletionTimestamp);
    await check(
      'the GitOps controller removes its finalizer from the terminating object',
      true,
      call(gitops, 'PATCH', path, { metadata: { finalizers: null } }),
    );
    await until('the namespace is gone', async () => (await call(admin, 'GET', `/api/v1/namespaces/${doomed}`)).status === 404, 90_000);
  });

  await t.test("a protected pod finishes the kubelet's delete flow", async () => {
    assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${team}/pods`, protectedPod('kubelet-flow'))).status, 201);
    const path = `/api/v1/namespaces/${team}/pods/kubelet-flow`;
    const uid = (await call(admin, 'GET', path)).body.metadata.uid;
    await check(
      'the kubelet reports it running (status only)',
      true,
      call(kubelet, 'PATCH', `${path}/status`, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }),
    );
    await check('a non-admin deletes it', false, call(mallory, 'DELETE', path));
    assert.equal((await call(admin, 'DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 30 })).status, 200);
    await check(
      'the kubelet reports it stopped',
      true,
      call(kubelet, 'PATCH', `${path}/status`, { status: { phase: 'Succeeded', conditions: [{ type: 'Ready', status: 'False' }] } }),
    );
    await check(
      "the kubelet's final delete",
      true,
      call(kubelet, 'DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid } }),
    );
    assert.equal((await call(admin, 'GET', path)).status, 404);
  });

  await t.test("deleting a protected object's unlabelled owner leaves it in place", async () => {
    const cms = `/api/v1/namespaces/${team}/configmaps`;
    const owner = await call(admin, 'POST', cms, { metadata: { name: 'owner' }, data: { v: 'a' } });
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.body.metadata.uid };
    const dependent = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels, ownerReferences: [ref] }, data: { v: 'a' } });
    assert.equal((await call(admin, 'POST', cms, dependent('guarded-dependent', { 'posture.dev/protected': 'true' }))).status, 201);
    assert.equal((await call(admin, 'POST', cms, dependent('plain-dependent', {}))).status, 201);
    await check('deleting the protected dependent directly', false, call(mallory, 'DELETE', `${cms}/guarded-dependent`));
    await check('deleting the unprotected owner', true, call(mallory, 'DELETE', `${cms}/owner`));
    await until('the garbage collector deleted the unprotected dependent', async () => (await call(admin, 'GET', `${cms}/plain-dependent`)).status === 404);
    await new Promise((r) => setTimeout(r, 2_000));
    const kept = await call(admin, 'GET', `${cms}/guarded-dependent`);
    ATTACKS.push({ what: "the garbage collector's delete of the protected dependent", allowed: false });
    assert.equal(kept.status, 200, 'the protected dependent is still there');
    assert.equal(kept.body.metadata.deletionTimestamp, undefined);
  });

  await t.test('a terminating protected object nested 6,000 levels deep has its finalizer removed', async () => {
    const group = `vap-${process.pid}.e2e.posture.dev`;
    const plural = 'deepthings';
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural, singular: 'deepthing', kind: 'DeepThing', listKind: 'DeepThingList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
          },
        ],
      },
    };
    assert.equal((await call(admin, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status, 201);
    const base = `/apis/${group}/v1/namespaces/${team}/${plural}`;
    const deep = `${'{"a":'.repeat(6000)}"leaf"${'}'.repeat(6000)}`;
    const head = JSON.stringify({
      apiVersion: `${group}/v1`,
      kind: 'DeepThing',
      metadata: { name: 'deep', labels: { 'posture.dev/protected': 'true' }, finalizers: ['gitops.example/cleanup'] },
    });
    await until('the CRD is served', async () => (await call(admin, 'GET', base)).status === 200);
    assert.equal((await call(admin, 'POST', base, Buffer.from(`${head.slice(0, -1)},"spec":{"deep":${deep}}}`))).status, 201);
    await check('deleting it (not terminating yet)', false, call(mallory, 'DELETE', `${base}/deep`));
    assert.equal((await call(admin, 'DELETE', `${base}/deep`)).status, 200);
    // Beyond CEL: the policy skips it (with engine both or policy, the webhook entry beyond-cel judges it).
    await check('removing its finalizer once terminating', true, call(mallory, 'PATCH', `${base}/deep`, { metadata: { finalizers: null } }));
    await until('the object is gone', async () => (await call(admin, 'GET', `${base}/deep`)).status === 404);
  });
  t.diagnostic(
    `attack requests with only the policies: ${ATTACKS.length}, the same verdict as the webhooks: ${ATTACKS.length} (${ATTACKS.filter((a) => !a.allowed).length} refused)`,
  );
});

async function ensure(name: string): Promise<void> {
  const r = await call(admin, 'POST', '/api/v1/namespaces', { metadata: { name } });
  assert.ok(r.status === 201 || r.status === 409, JSON.stringify(r.body));
}

async function until(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
