// Attacks on the admission webhooks and the outages they used to cause, on the real local control
// plane: every attack is made by a real non-admin identity (a client-certificate user with broad
// namespace-editor rights, a ServiceAccount in kube-system, an unauthenticated network client, the
// kubelet's node identity) and must fail; every liveness case must complete. The API server itself
// calls posture's HTTPS server through the configurations `posture webhooks manifest` generates.
//
// As in admission.test.ts the plane is shared, so each configuration gets a unique name and one
// extra match condition scoping it to this file's identities and namespaces.
//
// Figures this file prints (t.diagnostic): the admission process's heap after a flood of oversize
// annotations, and whether an API server restarted with the namespace webhook down comes up.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { forgedMessage, forgedPodMessage } from '../../functions/admission/webhooks/job-guard.ts';
import { policyLabelMessage } from '../../functions/admission/webhooks/protected-namespaces.ts';
import { subresourceMessage, unlabelMessage } from '../../functions/admission/webhooks/protected-objects.ts';
import { invalidRepoMessage, lowScoreMessage, MAX_SOURCE_REPO_CHARS, unknownMessage } from '../../functions/admission/webhooks/scorecard-gate.ts';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { type AdmissionApp, createAdmissionApp } from '../../lib/admission/app.ts';
import { type ScoreRow, StaticScoreFeed } from '../../lib/admission/scores.ts';
import type { AdmissionServer } from '../../lib/admission/server.ts';
import { SCORE_UPDATED_TYPE } from '../../lib/changes/events.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { binDir, freePort } from '../cluster/config.ts';
import { type ControlPlane, getSharedControlPlane } from '../cluster/harness.ts';
import { call, DRY, denial, eventually as eventuallyHolds } from './api-call.ts';

const PID = process.pid;
const RUN = `atk-${PID}`;
const MALLORY = `atk-mallory-${PID}`;
/** A node kwok does not manage (no kwok annotation): only this test acts as its kubelet. */
const NODE = `atk-node-${PID}`;
const ADDON = `atk-addon-${PID}`;
const GITOPS = `atk-gitops-${PID}`;
/** More repositories than the gate's configured size (gateCacheSize below). */
const REPOS = 200_000;
const GATE_CACHE_SIZE = 1_000;
/** Every tenth of the 200,000 scores below the threshold. */
const lowIndex = (i: number) => i % 10 === 0;
const HEAP_BOUND_MIB = 32;
/** A custom resource of this run's own (CRDs are cluster-wide) that keeps whatever JSON it is given. */
const DEEP_GROUP = `atk-${PID}.e2e.posture.dev`;
/** Deeper than the recursive comparison's stack allowed (about 5,000), within the API server's 10,000. */
const DEEP_LEVELS = 6_000;

let cp: ControlPlane;
let admin: k8s.KubeConfig;
let mallory: k8s.KubeConfig;
let addon: k8s.KubeConfig;
let gitops: k8s.KubeConfig;
let kubelet: k8s.KubeConfig;
let postureNs: string;
let teamNs: string;
let doomedNs: string;
let overrideNs: string;
let dir: string;
let feed: StaticScoreFeed;
let app: AdmissionApp;
let server: AdmissionServer;
let caPem: string;
const vwcNames: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

// The control plane's log tails go with a timeout: `cp` is set in the before hook.
const eventually = (what: string, check: () => Promise<boolean>, ms = 30_000) => eventuallyHolds(what, check, { ms, diagnostics: () => cp.diagnostics(5) });

const repoOf = (i: number) => `github.com/atk-${i}/repo`;
// Changed long ago: a pull re-reads only what changed since (like the database feed).
const row = (repo: string, score: number, ageMs = 86_400_000): ScoreRow => ({
  repoKey: repo.toLowerCase(),
  repo,
  score,
  date: '2026-11-01T00:00:00Z',
  updatedAt: new Date(Date.now() - ageMs),
});

const deployment = (name: string, repo: string, image = 'example/app:1', replicas = 1) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, annotations: { 'posture.dev/source-repo': repo } },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } } },
});

const job = (name: string) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'posture' } },
  spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scorecard', image: 'ghcr.io/ossf/scorecard:v5.3.0' }] } } },
});

const protectedPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { 'posture.dev/protected': 'true' } },
  spec: { nodeName: NODE, terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'example/app:1' }] },
});

/** The generated configurations for a server, named and scoped for this file. */
async function generated(url: string, caFile: string, scope: string, env: Record<string, string> = {}, suffix = ''): Promise<Array<Record<string, any>>> {
  const r = await runCliCaptured(['webhooks', 'manifest', '--engine', 'webhook', '--url', url, '--ca-bundle', caFile], {
    POSTURE_NAMESPACE: postureNs,
    ...env,
  });
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => {
    const vwc = d.toJS() as Record<string, any>;
    vwc.metadata.name = `${vwc.metadata.name}-${RUN}${suffix}`;
    for (const w of vwc.webhooks) w.matchConditions = [...(w.matchConditions ?? []), { name: 'e2e-scope', expression: scope }];
    return vwc;
  });
}

async function install(vwcs: Array<Record<string, any>>): Promise<void> {
  const adm = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  for (const vwc of vwcs) {
    await adm.createValidatingWebhookConfiguration({ body: vwc as k8s.V1ValidatingWebhookConfiguration });
    vwcNames.push(vwc.metadata.name);
  }
}

const eventAgent = new Agent({ keepAlive: true, maxSockets: 16 });

/** A CloudEvent POSTed to the admission server's /events by an unauthenticated network client. */
function postEvent(data: unknown, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent: eventAgent,
        method: 'POST',
        hostname: '127.0.0.1',
        port: server.port,
        path: '/events',
        ca: caPem,
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': SCORE_UPDATED_TYPE, 'ce-source': '/forged', 'ce-id': id },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(data));
  });
}

before(async () => {
  cp = await getSharedControlPlane();
  admin = cp.kc;
  postureNs = await cp.createNamespace(`${RUN}-posture`);
  teamNs = await cp.createNamespace(`${RUN}-team`);
  doomedNs = await cp.createNamespace(`${RUN}-doomed`);
  overrideNs = await cp.createNamespace(`${RUN}-override`);
  for (const ns of [postureNs, teamNs, doomedNs, overrideNs]) cleanups.push(() => call(admin, 'DELETE', `/api/v1/namespaces/${ns}`));
  // Mallory: a namespace editor everywhere, subresources included. RBAC lets her do all of the below;
  // only posture's webhooks stand in the way.
  mallory = await cp.asUser(MALLORY, ['devs'], {
    rules: [
      { apiGroups: [''], resources: ['namespaces', 'namespaces/status', 'namespaces/finalize'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
      {
        apiGroups: [''],
        resources: ['pods', 'pods/status', 'pods/ephemeralcontainers', 'pods/eviction', 'configmaps'],
        verbs: ['get', 'create', 'update', 'patch', 'delete'],
      },
      { apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'], verbs: ['get', 'create', 'update', 'patch'] },
      { apiGroups: ['batch'], resources: ['jobs', 'jobs/status', 'cronjobs'], verbs: ['get', 'create', 'update', 'patch'] },
      { apiGroups: [''], resources: ['replicationcontrollers'], verbs: ['get', 'create', 'update', 'patch'] },
      { apiGroups: [DEEP_GROUP], resources: ['deepthings'], verbs: ['get', 'create', 'update', 'patch', 'delete'] },
    ],
  });
  cleanups.push(async () => {
    const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    const name = `posture-test-user-${MALLORY}`;
    await rbac.deleteClusterRoleBinding({ name }).catch(() => {});
    await rbac.deleteClusterRole({ name }).catch(() => {});
  });
  // An add-on's ServiceAccount in kube-system (a CSI driver, a chart installed there).
  addon = await cp.asServiceAccount('kube-system', ADDON, { namespace: postureNs, rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create'] }] });
  cleanups.push(() => call(admin, 'DELETE', `/api/v1/namespaces/kube-system/serviceaccounts/${ADDON}`));
  // A GitOps controller that put a finalizer on what it manages, anywhere.
  // (Named per run: the harness names its ClusterRole and binding after the subject's name.)
  gitops = await cp.asServiceAccount(teamNs, GITOPS, { rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch', 'update'] }] });
  cleanups.push(async () => {
    const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    const name = `posture-test-serviceaccount-${GITOPS}`;
    await rbac.deleteClusterRoleBinding({ name }).catch(() => {});
    await rbac.deleteClusterRole({ name }).catch(() => {});
  });
  // The kubelet of NODE: the node authorizer and NodeRestriction decide what it may do.
  assert.equal((await call(admin, 'POST', '/api/v1/nodes', { metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } })).status, 201);
  cleanups.push(() => call(admin, 'DELETE', `/api/v1/nodes/${NODE}`));
  kubelet = await cp.asUser(`system:node:${NODE}`, ['system:nodes']);

  dir = mkdtempSync(join(tmpdir(), 'posture-e2e-attacks-'));
  const cert = cp.servingCert(['127.0.0.1', 'localhost']);
  writeFileSync(join(dir, 'tls.crt'), cert.cert);
  writeFileSync(join(dir, 'tls.key'), cert.key);
  writeFileSync(join(dir, 'ca.pem'), cert.ca);
  caPem = cert.ca;

  const rows: ScoreRow[] = Array.from({ length: REPOS }, (_, i) => row(repoOf(i), lowIndex(i) ? 2.1 : 7.5, 86_400_000 + i * 10));
  // Loaded last, so even the old size-bounded cache held them: the forged-event test is about events alone.
  // atk/low changed longer ago than the pulls' overlap, so no later pull re-reads it (as in the database).
  rows.push(row('github.com/atk/low', 2.1, 2 * 86_400_000), row('github.com/atk/good', 8), row('github.com/atk/fading', 8));
  feed = new StaticScoreFeed(rows);
  const config = defaultConfig({ namespace: postureNs, gateCacheSize: GATE_CACHE_SIZE, gateUnknown: 'deny', tlsReloadSeconds: 60 });
  app = await createAdmissionApp({ config, scoreFeed: feed, webhooksDir: WEBHOOKS_DIR });
  await app.scores.refresh();
  server = await app.serve({ port: 0, host: '127.0.0.1', certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });

  const users = JSON.stringify([MALLORY, `system:serviceaccount:kube-system:${ADDON}`, `system:serviceaccount:${teamNs}:${GITOPS}`, `system:node:${NODE}`]);
  const mine = JSON.stringify([postureNs, teamNs, doomedNs]);
  const scope = `!(request.namespace in ["${overrideNs}"]) && (request.userInfo.username in ${users} || request.namespace in ${mine} || request.name in ${mine})`;
  await install(await generated(`https://127.0.0.1:${server.port}`, join(dir, 'ca.pem'), scope));
  await eventually(
    'scorecard-gate in force',
    async () => (await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('probe', repoOf(0)))).status === 403,
  );
  await eventually(
    'job-guard in force',
    async () => (await call(mallory, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs${DRY}`, job('probe'))).status === 403,
  );
  await eventually(
    'protected-namespaces in force',
    async () => (await call(mallory, 'PATCH', `/api/v1/namespaces/${teamNs}${DRY}`, { metadata: { labels: { 'posture.dev/min-score': '0' } } })).status === 403,
  );
  assert.equal(
    (await call(admin, 'POST', `/api/v1/namespaces/${teamNs}/configmaps`, { metadata: { name: 'probe', labels: { 'posture.dev/protected': 'true' } } })).status,
    201,
  );
  await eventually(
    'protected-objects in force',
    async () => (await call(mallory, 'PATCH', `/api/v1/namespaces/${teamNs}/configmaps/probe${DRY}`, { data: { a: 'b' } })).status === 403,
  );
});

after(async () => {
  const adm = admin?.makeApiClient(k8s.AdmissionregistrationV1Api);
  for (const name of vwcNames) await adm?.deleteValidatingWebhookConfiguration({ name }).catch(() => {});
  await server?.stop(100).catch(() => {});
  eventAgent.destroy();
  app?.close();
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
  await cp?.stop();
});

test('forged score events change nothing: a low repository stays denied, a good one admitted, a flood costs a pull per 250 ms', async (t) => {
  const low = 'github.com/atk/low';
  const denied = lowScoreMessage(low, 2.1, '2026-11-01', 5, false);
  assert.equal(
    (await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('forged', low))).body.message,
    denial('scorecard-gate', denied),
  );
  const pulls = feed.calls.length;
  assert.equal(await postEvent({ repo: low, score: 10, date: '2026-11-02' }, 'f-1'), 202, 'accepted as a hint');
  assert.equal(await postEvent({ repo: 'github.com/atk/good', score: 0, date: '2026-11-02' }, 'f-2'), 202);
  const atOnce = await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('forged', low));
  assert.equal(atOnce.status, 403, `right after the forged event: ${JSON.stringify(atOnce.body).slice(0, 300)}`);
  const entries = app.scores.status().entries;
  const started = Date.now();
  await Promise.all(Array.from({ length: 500 }, (_, i) => postEvent({ repo: `github.com/forged/r${i}`, score: 10 }, `f-flood-${i}`)));
  await new Promise((r) => setTimeout(r, 1500));
  const elapsed = Date.now() - started;
  const r = await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('forged', low));
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.message, denial('scorecard-gate', denied));
  assert.equal((await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('good', 'github.com/atk/good'))).status, 201);
  assert.equal(app.scores.status().entries, entries, 'no forged repository entered the cache');
  // Events only bring the next pull forward: at most one per 250 ms whatever their number (plus
  // the regular pull every gateRefreshSeconds).
  const newPulls = feed.calls.length - pulls;
  assert.ok(newPulls >= 1 && newPulls <= Math.ceil(elapsed / 250) + 2, `${newPulls} pulls from the database for 502 events in ${elapsed} ms`);
  t.diagnostic(`502 forged events in ${elapsed} ms: ${newPulls} pulls from the database, no score changed`);
});

test(`${REPOS.toLocaleString('en')} repositories, gateCacheSize ${GATE_CACHE_SIZE}: every low one is denied, never-scored ones follow gateUnknown=deny`, async (t) => {
  assert.equal(app.config.gateCacheSize, GATE_CACHE_SIZE);
  // Spread over the whole range, the first and last loaded included.
  for (const i of [0, 10, 99_990, 150_000, REPOS - 10]) {
    const r = await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment(`low-${i}`, repoOf(i)));
    assert.equal(r.status, 403, `${repoOf(i)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.message, denial('scorecard-gate', lowScoreMessage(repoOf(i), 2.1, '2026-11-01', 5, false)));
  }
  for (const i of [1, 123_457, REPOS - 1])
    assert.equal(
      (await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment(`high-${i}`, repoOf(i)))).status,
      201,
      repoOf(i),
    );
  const never = await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('never', 'github.com/never/scored'));
  assert.equal(never.status, 403);
  assert.equal(never.body.message, denial('scorecard-gate', unknownMessage('github.com/never/scored')));
  const s = app.scores.status();
  assert.ok(s.entries > REPOS);
  t.diagnostic(`gate index: ${s.entries} repositories in ${(s.bytes / 2 ** 20).toFixed(1)} MiB (${(s.bytes / s.entries).toFixed(0)} B each)`);
});

test('a flood of unique oversize annotations is refused unread, and the server keeps answering with its heap bounded', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const flood = (i: number) => deployment(`flood-${i}`, `github.com/a/${String(i).padStart(8, '0')}${'b'.repeat(250 * 1024)}`);
  // Warm up (TLS, JIT), then measure.
  for (let i = 0; i < 5; i++) assert.equal((await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, flood(i))).status, 403);
  gc();
  const before = process.memoryUsage().heapUsed;
  const N = 300;
  let next = 5;
  let refused = 0;
  const worker = async () => {
    while (next < N + 5) {
      const i = next++;
      const r = await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, flood(i));
      assert.equal(r.status, 403, JSON.stringify(r.body).slice(0, 300));
      assert.ok(r.body.message.includes(`longer than ${MAX_SOURCE_REPO_CHARS} characters`), r.body.message.slice(0, 300));
      refused++;
    }
  };
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  await Promise.all(Array.from({ length: 6 }, worker)).finally(() => clearInterval(sampler));
  gc();
  const grew = process.memoryUsage().heapUsed - before;
  t.diagnostic(
    `${refused} reviews of 250 KiB (${((refused * 250) / 1024).toFixed(0)} MiB of annotations): heap ${(before / 2 ** 20).toFixed(1)} MiB before, ${((before + grew) / 2 ** 20).toFixed(1)} MiB after, grew ${(grew / 2 ** 20).toFixed(1)} MiB (bound ${HEAP_BOUND_MIB} MiB); peak during the flood ${(peak / 2 ** 20).toFixed(1)} MiB (garbage not yet collected included)`,
  );
  assert.equal(refused, N);
  assert.ok(grew < HEAP_BOUND_MIB * 2 ** 20, `heap grew ${(grew / 2 ** 20).toFixed(1)} MiB`);
  // Still answering: a good workload is admitted, a low one denied.
  assert.equal(
    (await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('after-flood', 'github.com/atk/good'))).status,
    201,
  );
  const invalid = await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments${DRY}`, deployment('bad', 'not a repo'));
  assert.equal(invalid.body.message, denial('scorecard-gate', invalidRepoMessage('not a repo', 'contains whitespace or control characters')));
});

test('a low-score Deployment can still be scaled to 0; changing what it runs is judged', async () => {
  assert.equal((await call(mallory, 'POST', `/apis/apps/v1/namespaces/${teamNs}/deployments`, deployment('fading', 'github.com/atk/fading'))).status, 201);
  // Its score falls after it was admitted.
  const fading = feed.rows.find((r) => r.repoKey === 'github.com/atk/fading')!;
  fading.score = 2;
  fading.updatedAt = new Date();
  await app.scores.refresh();
  const path = `/apis/apps/v1/namespaces/${teamNs}/deployments/fading`;
  const scale = await call(mallory, 'PATCH', path, { spec: { replicas: 0 } });
  assert.equal(scale.status, 200, JSON.stringify(scale.body));
  assert.equal(scale.body.spec.replicas, 0);
  assert.equal((await call(mallory, 'PATCH', path, { metadata: { labels: { team: 'b' } } })).status, 200, 'labels');
  const image = await call(mallory, 'PATCH', path, { spec: { template: { spec: { containers: [{ name: 'c', image: 'example/app:2' }] } } } });
  assert.equal(image.status, 403);
  assert.equal(image.body.message, denial('scorecard-gate', lowScoreMessage('github.com/atk/fading', 2, '2026-11-01', 5, false)));
});

test('subresources no longer bypass protected-objects and protected-namespaces', async () => {
  assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${teamNs}/pods`, protectedPod('guarded'))).status, 201);
  const pod = `/api/v1/namespaces/${teamNs}/pods/guarded`;
  const what = `Pod "${teamNs}/guarded"`;
  // pods/status keeps the request's labels: removing the protection label through it.
  const unlabel = await call(mallory, 'PATCH', `${pod}/status`, { metadata: { labels: { 'posture.dev/protected': null } } });
  assert.equal(unlabel.status, 403, JSON.stringify(unlabel.body));
  assert.equal(unlabel.body.message, denial('protected-objects', unlabelMessage(what)));
  const relabel = await call(mallory, 'PATCH', `${pod}/status`, { metadata: { labels: { app: 'mine' } } });
  assert.equal(relabel.body.message, denial('protected-objects', subresourceMessage(what, 'status')));
  // Injecting a container.
  const debug = await call(
    mallory,
    'PATCH',
    `${pod}/ephemeralcontainers`,
    { spec: { ephemeralContainers: [{ name: 'debug', image: 'busybox', targetContainerName: 'app' }] } },
    'application/strategic-merge-patch+json',
  );
  assert.equal(debug.status, 403, JSON.stringify(debug.body));
  assert.equal(debug.body.message, denial('protected-objects', subresourceMessage(what, 'ephemeralcontainers')));
  // The label is still there.
  assert.equal((await call(admin, 'GET', pod)).body.metadata.labels['posture.dev/protected'], 'true');
  // Namespaces: posture.dev/min-score through namespaces/status and namespaces/finalize.
  const viaStatus = await call(mallory, 'PATCH', `/api/v1/namespaces/${teamNs}/status`, { metadata: { labels: { 'posture.dev/min-score': '0' } } });
  assert.equal(viaStatus.status, 403, JSON.stringify(viaStatus.body));
  assert.equal(viaStatus.body.message, denial('protected-namespaces', policyLabelMessage('posture.dev/min-score')));
  const nsObject = (await call(admin, 'GET', `/api/v1/namespaces/${teamNs}`)).body;
  nsObject.metadata.labels = { ...nsObject.metadata.labels, 'posture.dev/min-score': '0' };
  const viaFinalize = await call(mallory, 'PUT', `/api/v1/namespaces/${teamNs}/finalize`, nsObject);
  assert.equal(viaFinalize.status, 403, JSON.stringify(viaFinalize.body));
  assert.equal(viaFinalize.body.message, denial('protected-namespaces', policyLabelMessage('posture.dev/min-score')));
  assert.equal((await call(admin, 'GET', `/api/v1/namespaces/${teamNs}`)).body.metadata.labels['posture.dev/min-score'], undefined);
  // pods/eviction is deliberately not judged (docs/operate/webhooks.md: drains; a PodDisruptionBudget bounds it).
  const evict = await call(mallory, 'POST', `${pod}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'guarded', namespace: teamNs } });
  assert.equal(evict.status, 201, JSON.stringify(evict.body));
  assert.ok((await call(admin, 'GET', pod)).body.metadata.deletionTimestamp, 'evicted: terminating');
});

test("job-guard: a bare Pod dressed as a posture Job's pod and an add-on ServiceAccount in kube-system are refused", async () => {
  const bare = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'scorecard-fake', labels: { 'batch.kubernetes.io/job-name': 'scorecard-abc', 'job-name': 'scorecard-abc' } },
    spec: { containers: [{ name: 'scorecard', image: 'evil/forger:1' }] },
  };
  const r = await call(mallory, 'POST', `/api/v1/namespaces/${postureNs}/pods${DRY}`, bare);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.message, denial('job-guard', forgedPodMessage(postureNs)));
  const labelled = { ...bare, metadata: { ...bare.metadata, labels: { ...bare.metadata.labels, 'app.kubernetes.io/managed-by': 'posture' } } };
  assert.equal((await call(mallory, 'POST', `/api/v1/namespaces/${teamNs}/pods${DRY}`, labelled)).status, 403, "posture's label anywhere");
  // The kube-system exemption is by controller name now: an add-on's ServiceAccount there is judged.
  const forged = await call(addon, 'POST', `/apis/batch/v1/namespaces/${postureNs}/jobs${DRY}`, job('by-addon'));
  assert.equal(forged.status, 403, JSON.stringify(forged.body));
  assert.equal(forged.body.message, denial('job-guard', forgedMessage('Job', `system:serviceaccount:${postureNs}:posture-scheduler`)));
});

test('a namespace holding a protected object with a finalizer deletes to the end', async () => {
  const cm = { metadata: { name: 'keep', labels: { 'posture.dev/protected': 'true' }, finalizers: ['gitops.example/cleanup'] }, data: { v: 'a' } };
  assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${doomedNs}/configmaps`, cm)).status, 201);
  const path = `/api/v1/namespaces/${doomedNs}/configmaps/keep`;
  assert.equal((await call(mallory, 'DELETE', path)).status, 403, 'not terminating yet: protected');
  assert.equal((await call(mallory, 'DELETE', `/api/v1/namespaces/${doomedNs}`)).status, 200);
  // The namespace controller deletes the object; its finalizer keeps it, terminating.
  await eventually('the protected object is terminating', async () => !!(await call(admin, 'GET', path)).body?.metadata?.deletionTimestamp);
  // The GitOps controller finishes its cleanup and removes its finalizer.
  const done = await call(gitops, 'PATCH', path, { metadata: { finalizers: null } });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  await eventually('the namespace is gone', async () => (await call(admin, 'GET', `/api/v1/namespaces/${doomedNs}`)).status === 404, 90_000);
});

test("a protected pod finishes the kubelet's delete flow (system:node identity)", async () => {
  assert.equal((await call(admin, 'POST', `/api/v1/namespaces/${teamNs}/pods`, protectedPod('kubelet-flow'))).status, 201);
  const path = `/api/v1/namespaces/${teamNs}/pods/kubelet-flow`;
  const uid = (await call(admin, 'GET', path)).body.metadata.uid;
  // The kubelet reports it running (pods/status, now judged: status only, allowed).
  const running = await call(kubelet, 'PATCH', `${path}/status`, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
  assert.equal(running.status, 200, JSON.stringify(running.body));
  assert.equal((await call(mallory, 'DELETE', path)).status, 403, 'protected');
  // An administrator deletes it: it becomes Terminating and the kubelet takes over.
  assert.equal((await call(admin, 'DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 30 })).status, 200);
  assert.ok((await call(admin, 'GET', path)).body.metadata.deletionTimestamp);
  const stopped = await call(kubelet, 'PATCH', `${path}/status`, { status: { phase: 'Succeeded', conditions: [{ type: 'Ready', status: 'False' }] } });
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  // The kubelet's final delete: grace period 0, with the pod's uid as precondition.
  const last = await call(kubelet, 'DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid } });
  assert.equal(last.status, 200, JSON.stringify(last.body));
  const gone = await call(admin, 'GET', path);
  assert.equal(gone.status, 404, JSON.stringify({ last: last.body?.metadata, status: last.body?.status?.phase, now: gone.body?.metadata }));
});

// Issue 40, finding 5: the replication-controller was exempt from the gate (it stamps pods out of
// a template "already judged"), yet ReplicationControllers were not sent to the gate at all.
test('scorecard-gate: a ReplicationController declaring a low-score repository is denied like a Deployment', async () => {
  const rc = (name: string, repo: string) => ({
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { app: name },
      template: {
        metadata: { labels: { app: name }, annotations: { 'posture.dev/source-repo': repo } },
        spec: { containers: [{ name: 'c', image: 'example/app:1' }] },
      },
    },
  });
  const low = await call(mallory, 'POST', `/api/v1/namespaces/${teamNs}/replicationcontrollers${DRY}`, rc('rc-low', repoOf(0)));
  assert.equal(low.status, 403, JSON.stringify(low.body));
  assert.equal(low.body.message, denial('scorecard-gate', lowScoreMessage(repoOf(0), 2.1, '2026-11-01', 5, false)));
  assert.equal((await call(mallory, 'POST', `/api/v1/namespaces/${teamNs}/replicationcontrollers${DRY}`, rc('rc-good', repoOf(1)))).status, 201);
});

// Issue 40, finding 8: a CronJob declaring its repository only on its Job template's metadata was
// admitted, and the (exempt) cronjob-controller then created Jobs carrying the low-score annotation.
test("scorecard-gate: a CronJob declaring a low-score repository only on its Job template's metadata is denied", async () => {
  const cron = (name: string, repo: string) => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: {
        metadata: { annotations: { 'posture.dev/source-repo': repo } },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'example/app:1' }] } } },
      },
    },
  });
  const low = await call(mallory, 'POST', `/apis/batch/v1/namespaces/${teamNs}/cronjobs${DRY}`, cron('cron-low', repoOf(10)));
  assert.equal(low.status, 403, JSON.stringify(low.body));
  assert.equal(low.body.message, denial('scorecard-gate', lowScoreMessage(repoOf(10), 2.1, '2026-11-01', 5, false)));
  assert.equal((await call(mallory, 'POST', `/apis/batch/v1/namespaces/${teamNs}/cronjobs${DRY}`, cron('cron-good', repoOf(11)))).status, 201);
});

// Issue 40, finding 6: a non-admin could not delete a protected ConfigMap, but could delete its
// unlabelled owner, and the (exempt) garbage collector then deleted the protected one.
test("protected-objects: deleting a protected object's unlabelled owner leaves the protected object in place", async () => {
  const cms = `/api/v1/namespaces/${teamNs}/configmaps`;
  const owner = await call(admin, 'POST', cms, { metadata: { name: 'owner' }, data: { v: 'a' } });
  assert.equal(owner.status, 201);
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.body.metadata.uid };
  const dependent = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels, ownerReferences: [ref] }, data: { v: 'a' } });
  assert.equal((await call(admin, 'POST', cms, dependent('guarded-dependent', { 'posture.dev/protected': 'true' }))).status, 201);
  assert.equal((await call(admin, 'POST', cms, dependent('plain-dependent', {}))).status, 201);
  cleanups.push(() => call(admin, 'DELETE', `${cms}/guarded-dependent`));
  assert.equal((await call(mallory, 'DELETE', `${cms}/guarded-dependent`)).status, 403, 'directly: protected');
  assert.equal((await call(mallory, 'DELETE', `${cms}/owner`)).status, 200, 'the owner is not protected');
  // The garbage collector has acted once the unprotected dependent is gone.
  await eventually('the garbage collector deleted the unprotected dependent', async () => (await call(admin, 'GET', `${cms}/plain-dependent`)).status === 404);
  await new Promise((r) => setTimeout(r, 2_000));
  const kept = await call(admin, 'GET', `${cms}/guarded-dependent`);
  assert.equal(kept.status, 200, 'the protected dependent is still there');
  assert.equal(kept.body.metadata.deletionTimestamp, undefined, 'and not being deleted');
  // An administrator may still delete it.
  assert.equal((await call(admin, 'DELETE', `${cms}/guarded-dependent`)).status, 200);
});

// Issue 40, finding 10: the comparison behind "this update only removes finalizers" recursed, and
// threw at about 5,000 levels, which the API server accepts: protected-objects (failurePolicy Fail)
// then refused the finalizer removal that finishes a delete.
test(`protected-objects: a terminating protected object nested ${DEEP_LEVELS.toLocaleString('en')} levels deep has its finalizer removed`, async () => {
  const plural = 'deepthings';
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${DEEP_GROUP}` },
    spec: {
      group: DEEP_GROUP,
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
  cleanups.push(() => call(admin, 'DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${DEEP_GROUP}`));
  const base = `/apis/${DEEP_GROUP}/v1/namespaces/${teamNs}/${plural}`;
  // As text: JSON.stringify recurses too.
  const deep = `${'{"a":'.repeat(DEEP_LEVELS)}"leaf"${'}'.repeat(DEEP_LEVELS)}`;
  const head = JSON.stringify({
    apiVersion: `${DEEP_GROUP}/v1`,
    kind: 'DeepThing',
    metadata: { name: 'deep', labels: { 'posture.dev/protected': 'true' }, finalizers: ['gitops.example/cleanup'] },
  });
  const thing = Buffer.from(`${head.slice(0, -1)},"spec":{"deep":${deep}}}`);
  await eventually('the CRD is served', async () => (await call(admin, 'GET', base)).status === 200);
  const created = await call(admin, 'POST', base, thing);
  assert.equal(created.status, 201, created.body?.message);
  assert.equal((await call(mallory, 'DELETE', `${base}/deep`)).status, 403, 'not terminating yet: protected');
  assert.equal((await call(admin, 'DELETE', `${base}/deep`)).status, 200);
  // The finalizer's owner (a non-admin) finishes its cleanup and removes it.
  const done = await call(mallory, 'PATCH', `${base}/deep`, { metadata: { finalizers: null } });
  assert.equal(done.status, 200, done.body?.message);
  await eventually('the object is gone', async () => (await call(admin, 'GET', `${base}/deep`)).status === 404);
});

test('an enforcement override to dry-run generates failurePolicy Ignore: a down server refuses nothing', async () => {
  const dead = await freePort();
  const scope = `request.namespace in ["${overrideNs}"]`;
  const vwcs = (
    await generated(`https://127.0.0.1:${dead}`, join(dir, 'ca.pem'), scope, { POSTURE_WEBHOOK_ENFORCEMENT: 'job-guard=dry-run' }, '-override')
  ).filter((v) => v.metadata.name.startsWith('posture-job-guard'));
  assert.deepEqual(
    vwcs[0].webhooks.map((w: { failurePolicy: string }) => w.failurePolicy),
    ['Ignore'],
  );
  // What the old generator wrote (the declared Fail): once it is in force, the dead server refuses.
  const old = structuredClone(vwcs[0]);
  for (const w of old.webhooks) w.failurePolicy = 'Fail';
  await install([old]);
  await eventually('the Fail configuration refuses', async () => {
    const r = await call(mallory, 'POST', `/apis/batch/v1/namespaces/${overrideNs}/jobs${DRY}`, job('dry'));
    return r.status === 500 && /failed calling webhook "job-guard\.posture\.dev"/.test(r.body?.message ?? '');
  });
  // The generated one, same in all but failurePolicy: nothing is refused.
  const adm = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
  const current = await adm.readValidatingWebhookConfiguration({ name: old.metadata.name });
  await adm.replaceValidatingWebhookConfiguration({
    name: old.metadata.name,
    body: { ...vwcs[0], metadata: { ...vwcs[0].metadata, resourceVersion: current.metadata!.resourceVersion } } as k8s.V1ValidatingWebhookConfiguration,
  });
  await eventually(
    'the generated configuration is in force',
    async () => (await call(mallory, 'POST', `/apis/batch/v1/namespaces/${overrideNs}/jobs${DRY}`, job('dry'))).status === 201,
  );
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await call(mallory, 'POST', `/apis/batch/v1/namespaces/${overrideNs}/jobs${DRY}`, job('dry'))).status, 201);
});

/**
 * An API server of its own (own etcd prefix on the plane's etcd, the plane's PKI), so that a
 * Fail namespace webhook can apply to everything, the API server's own start-up included.
 */
async function startApiServer(prefix: string, port: number): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const pki = join(cp.stateDir, 'pki');
  const url = `https://127.0.0.1:${port}`;
  const logFile = join(dir, `apiserver-${port}-${Date.now()}.log`);
  let out = '';
  const child = spawn(
    join(binDir(), 'kube-apiserver'),
    [
      `--etcd-servers=http://127.0.0.1:${cp.state.ports!.etcd}`,
      `--etcd-prefix=${prefix}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${cp.state.caFile}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--service-cluster-ip-range=10.0.1.0/24',
      `--service-account-issuer=${url}`,
      `--service-account-key-file=${join(pki, 'sa.key')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--profiling=false',
      '--v=1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (c) => (out = (out + c).slice(-20_000)));
  child.stderr!.on('data', (c) => (out = (out + c).slice(-20_000)));
  cleanups.push(async () => {
    child.kill('SIGKILL');
  });
  return {
    child,
    url,
    log: () => {
      writeFileSync(logFile, out);
      return out.split('\n').slice(-15).join('\n');
    },
  };
}

function adminAt(url: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(readFileSync(cp.kubeconfigPath, 'utf8'));
  const cluster = kc.getCurrentCluster()!;
  kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: url } : c));
  return kc;
}

async function readyWithin(kc: k8s.KubeConfig, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await call(kc, 'GET', '/readyz').catch(() => undefined);
    if (r?.status === 200) return true;
    await new Promise((res) => setTimeout(res, 500));
  }
  return false;
}

async function stopApiServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

test('protected-namespaces under Fail: an API server restarted with the webhook down comes up, and refuses a non-admin policy label meanwhile', async (t) => {
  const prefix = `/posture-${RUN}`;
  const port = await freePort();
  const first = await startApiServer(prefix, port);
  const kc = adminAt(first.url);
  assert.ok(await readyWithin(kc, 90_000), `first start:\n${first.log()}`);
  // The generated protected-namespaces configuration, unscoped: it applies to every request the
  // API server makes, its own start-up included. Nothing listens at its URL.
  const dead = await freePort();
  const r = await runCliCaptured(['webhooks', 'manifest', '--engine', 'webhook', '--url', `https://127.0.0.1:${dead}`, '--ca-bundle', join(dir, 'ca.pem')], {
    POSTURE_NAMESPACE: postureNs,
  });
  const vwc = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Record<string, any>)
    .find((v) => v.metadata.name === 'posture-protected-namespaces')!;
  assert.equal(vwc.webhooks[0].failurePolicy, 'Fail');
  assert.equal((await call(kc, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', vwc)).status, 201);
  // A non-admin (impersonated by the admin) may edit namespaces by RBAC; the webhook being down refuses it.
  const grant = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'ns-editor' },
    rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch', 'create'] }],
  };
  assert.equal((await call(kc, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', grant)).status, 201);
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'ns-editor' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ns-editor' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'ns-editor' }],
  };
  assert.equal((await call(kc, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding)).status, 201);
  assert.equal((await call(kc, 'POST', '/api/v1/namespaces', { metadata: { name: 'team' } })).status, 201);
  const asEditor = (body: unknown) => call(kc, 'PATCH', '/api/v1/namespaces/team', body, undefined, { 'impersonate-user': 'ns-editor' });
  await eventually('the webhook refuses while down (Fail)', async () => {
    const x = await asEditor({ metadata: { labels: { 'posture.dev/min-score': '0' } } });
    return x.status === 500 && /failed calling webhook "protected-namespaces\.posture\.dev"/.test(x.body?.message ?? '');
  });
  // Restart: the new API server finds the Fail webhook in etcd and its URL dead.
  await stopApiServer(first.child);
  const started = Date.now();
  const second = await startApiServer(prefix, port);
  const up = await readyWithin(kc, 90_000);
  t.diagnostic(
    `API server restarted with the Fail namespace webhook down: ${up ? `ready in ${((Date.now() - started) / 1000).toFixed(1)} s` : 'NOT ready within 90 s'}`,
  );
  assert.ok(up, `restart under Fail:\n${second.log()}`);
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'default'])
    assert.equal((await call(kc, 'GET', `/api/v1/namespaces/${ns}`)).status, 200, ns);
  const still = await asEditor({ metadata: { labels: { 'posture.dev/min-score': '0' } } });
  assert.equal(still.status, 500, 'still refused after the restart');
  assert.equal(
    (await call(kc, 'PATCH', '/api/v1/namespaces/team', { metadata: { labels: { 'posture.dev/min-score': '0' } } })).status,
    200,
    'an administrator is skipped by the match condition',
  );
  await stopApiServer(second.child);
});
