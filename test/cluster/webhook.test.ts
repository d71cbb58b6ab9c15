// The API server itself calls an HTTPS admission webhook served by the test (url + caBundle),
// the denial message reaches the client, and the webhook sees who is asking: client-certificate
// users with groups, ServiceAccount tokens, and the job controller's own ServiceAccount.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { sleep } from './config.ts';
import { type ControlPlane, getSharedControlPlane, type HttpsServer, waitForJobFinished } from './harness.ts';

interface AdmissionRequest {
  uid: string;
  operation: string;
  kind: { kind: string };
  namespace?: string;
  userInfo: { username: string; groups?: string[] };
  object?: { metadata?: { name?: string; labels?: Record<string, string> } };
}

let cp: ControlPlane;
let ns: string;
let server: HttpsServer;
let core: k8s.CoreV1Api;
const seen: AdmissionRequest[] = [];
const whName = `posture-test-${process.pid}`;

function handler(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const review = JSON.parse(body) as { apiVersion: string; request: AdmissionRequest };
    const r = review.request;
    seen.push(r);
    const deny = r.object?.metadata?.labels?.['posture.dev/deny'] === 'true';
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: r.uid,
          allowed: !deny,
          ...(deny ? { status: { code: 403, message: `posture says no to ${r.object?.metadata?.name} for ${r.userInfo.username}` } } : {}),
          warnings: deny ? undefined : [`seen by posture test webhook`],
        },
      }),
    );
  });
}

before(async () => {
  cp = await getSharedControlPlane();
  core = cp.kc.makeApiClient(k8s.CoreV1Api);
  ns = await cp.createNamespace('webhook');
  server = await cp.startHttpsServer(handler);
  const adm = cp.kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  await adm.createValidatingWebhookConfiguration({
    body: {
      metadata: { name: whName },
      webhooks: [
        {
          name: 'configmaps.test.posture.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 5,
          clientConfig: { url: `${server.url}/validate`, caBundle: server.caBundle },
          // only this test's namespace, so that other tests sharing the plane are unaffected
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          rules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps', 'pods'] },
            { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['jobs'] },
          ],
        },
      ],
    },
  });
  // The apiserver picks up webhook configurations asynchronously: wait until ours is called.
  const deadline = Date.now() + 15000;
  for (let i = 0; ; i++) {
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `probe-${i}` } } });
    if (seen.some((r) => r.object?.metadata?.name === `probe-${i}`)) break;
    if (Date.now() > deadline) throw new Error('webhook never called by the apiserver');
    await sleep(100);
  }
});

after(async () => {
  const adm = cp?.kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  await adm?.deleteValidatingWebhookConfiguration({ name: whName }).catch(() => {});
  await core?.deleteNamespace({ name: ns }).catch(() => {});
  await server?.close();
  await cp?.stop();
});

test('a denial and its message reach the client', async () => {
  await assert.rejects(
    core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'forbidden', labels: { 'posture.dev/deny': 'true' } } } }),
    (e: unknown) => {
      const err = e as { code?: number; body?: string };
      assert.equal(err.code, 403);
      const status = JSON.parse(err.body ?? '{}') as { message?: string; reason?: string };
      assert.match(
        status.message ?? '',
        /admission webhook "configmaps\.test\.posture\.dev" denied the request: posture says no to forbidden for posture-admin/,
      );
      return true;
    },
  );
  await assert.rejects(core.readNamespacedConfigMap({ name: 'forbidden', namespace: ns }), (e: unknown) => (e as { code?: number }).code === 404);
  // allowed objects are created
  const ok = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'allowed' } } });
  assert.equal(ok.metadata?.name, 'allowed');
});

test('the webhook sees a client-certificate user and their groups; RBAC applies to them', async () => {
  const aliceKc = await cp.asUser('alice@example.com', ['team-sre', 'posture-admins'], {
    namespace: ns,
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get'] }],
  });
  const alice = aliceKc.makeApiClient(k8s.CoreV1Api);
  await alice.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'by-alice' } } });
  const r = seen.find((x) => x.object?.metadata?.name === 'by-alice');
  assert.ok(r, 'webhook called for by-alice');
  assert.equal(r.userInfo.username, 'alice@example.com');
  assert.deepEqual([...(r.userInfo.groups ?? [])].sort(), ['posture-admins', 'system:authenticated', 'team-sre']);
  // not granted: RBAC denies before admission
  await assert.rejects(
    alice.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's' } } }),
    (e: unknown) => (e as { code?: number }).code === 403,
  );
  // an unprivileged user gets nothing at all
  const bob = (await cp.asUser('bob')).makeApiClient(k8s.CoreV1Api);
  await assert.rejects(bob.listNamespacedConfigMap({ namespace: ns }), (e: unknown) => (e as { code?: number }).code === 403);
  // denial message names the impersonated user
  await assert.rejects(
    alice.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'alice-denied', labels: { 'posture.dev/deny': 'true' } } } }),
    (e: unknown) => /posture says no to alice-denied for alice@example\.com/.test((e as { body?: string }).body ?? ''),
  );
});

test('a ServiceAccount token (TokenRequest) is seen as the ServiceAccount', async () => {
  const saKc = await cp.asServiceAccount(ns, 'posture-scheduler', {
    namespace: ns,
    rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list'] }],
  });
  const batch = saKc.makeApiClient(k8s.BatchV1Api);
  await batch.createNamespacedJob({
    namespace: ns,
    body: {
      metadata: { name: 'by-sa' },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'scorecard' }] } },
      },
    },
  });
  const r = seen.find((x) => x.kind.kind === 'Job' && x.object?.metadata?.name === 'by-sa');
  assert.ok(r, 'webhook called for the Job');
  assert.equal(r.userInfo.username, `system:serviceaccount:${ns}:posture-scheduler`);
  assert.ok(r.userInfo.groups?.includes(`system:serviceaccounts:${ns}`), JSON.stringify(r.userInfo.groups));
  // the Job's pod is created by the job controller under its own ServiceAccount
  // (kube-controller-manager runs with --use-service-account-credentials)
  assert.equal((await waitForJobFinished(cp.kc, ns, 'by-sa')).condition, 'Complete');
  const pod = seen.find((x) => x.kind.kind === 'Pod' && x.namespace === ns);
  assert.ok(pod, 'webhook called for the pod');
  assert.equal(pod.userInfo.username, 'system:serviceaccount:kube-system:job-controller');
  // the SA may not read secrets
  await assert.rejects(saKc.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace: ns }), (e: unknown) => (e as { code?: number }).code === 403);
});

test('impersonation (Impersonate-User header from the admin) is seen as the impersonated user', async () => {
  await cp.asServiceAccount(ns, 'impersonated', { namespace: ns, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create'] }] });
  const user = cp.kc.getCurrentUser()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cp.kc.getCurrentCluster()!],
    users: [{ ...user, name: 'admin-as-sa', impersonateUser: `system:serviceaccount:${ns}:impersonated` }],
    contexts: [{ name: 'imp', cluster: cp.kc.getCurrentCluster()!.name, user: 'admin-as-sa' }],
    currentContext: 'imp',
  });
  const api = kc.makeApiClient(k8s.CoreV1Api);
  await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'by-impersonation' } } });
  const r = seen.find((x) => x.object?.metadata?.name === 'by-impersonation');
  assert.equal(r?.userInfo.username, `system:serviceaccount:${ns}:impersonated`);
  // RBAC applies to the impersonated identity, not to the admin behind it
  await assert.rejects(api.listNamespacedSecret({ namespace: ns }), (e: unknown) => (e as { code?: number }).code === 403);
});
