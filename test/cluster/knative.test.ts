// Knative Serving and Eventing CRDs, read from the Go module cache, install and become
// Established; objects in their storage versions validate against the CRD schemas (server-side
// dry run, strict field validation). No Knative webhooks run: only the OpenAPI schema is checked.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type ControlPlane, getSharedControlPlane } from './harness.ts';

let cp: ControlPlane;
let ns: string;
let objects: k8s.KubernetesObjectApi;

before(async () => {
  cp = await getSharedControlPlane();
  objects = k8s.KubernetesObjectApi.makeApiClient(cp.kc);
  ns = await cp.createNamespace('knative');
});

after(async () => {
  await cp?.kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: ns })
    .catch(() => {});
  await cp?.stop();
});

const dryRun = (obj: k8s.KubernetesObject) => objects.create(obj, undefined, 'All', 'posture-test');

test('Knative Serving and Eventing CRDs install and are Established', async () => {
  const t0 = Date.now();
  const names = await cp.installKnativeCrds();
  console.log(`# ${names.length} Knative CRDs Established in ${Date.now() - t0} ms`);
  for (const n of [
    'services.serving.knative.dev',
    'configurations.serving.knative.dev',
    'revisions.serving.knative.dev',
    'routes.serving.knative.dev',
    'brokers.eventing.knative.dev',
    'triggers.eventing.knative.dev',
    'pingsources.sources.knative.dev',
    'apiserversources.sources.knative.dev',
  ])
    assert.ok(names.includes(n), `${n} installed`);
  const ext = cp.kc.makeApiClient(k8s.ApiextensionsV1Api);
  const ping = await ext.readCustomResourceDefinition({ name: 'pingsources.sources.knative.dev' });
  assert.ok(ping.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
  assert.equal(ping.spec.versions.find((v) => v.storage)?.name, 'v1');
  // installing again is a no-op (server-side apply)
  assert.deepEqual((await cp.installKnativeCrds()).sort(), [...names].sort());
});

test('Knative objects validate against the CRD schemas (server-side dry run)', async () => {
  await cp.installKnativeCrds();
  const svc = {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'harvester', namespace: ns },
    spec: { template: { spec: { containers: [{ image: 'ghcr.io/posture/harvester:dev', env: [{ name: 'A', value: 'b' }] }] } } },
  };
  const created = await dryRun(svc);
  assert.equal(created.metadata?.name, 'harvester');
  const ping = {
    apiVersion: 'sources.knative.dev/v1',
    kind: 'PingSource',
    metadata: { name: 'tick', namespace: ns },
    spec: { schedule: '*/1 * * * *', data: '{}', sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'scheduler' } } },
  };
  assert.equal((await dryRun(ping)).kind, 'PingSource');
  const trigger = {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name: 'jobs', namespace: ns },
    spec: {
      broker: 'default',
      filter: { attributes: { type: 'dev.knative.apiserver.resource.update' } },
      subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'harvester' } },
    },
  };
  assert.equal((await dryRun(trigger)).kind, 'Trigger');
  // schema violations are rejected by the apiserver
  await assert.rejects(
    dryRun({ ...ping, metadata: { name: 'bad', namespace: ns }, spec: { ...ping.spec, schedule: 5 } } as k8s.KubernetesObject),
    (e: unknown) => (e as { code?: number }).code === 422,
  );
});

test('strict field validation rejects unknown fields', async () => {
  await cp.installKnativeCrds();
  const api = cp.kc.makeApiClient(k8s.CustomObjectsApi);
  await assert.rejects(
    api.createNamespacedCustomObject({
      group: 'sources.knative.dev',
      version: 'v1',
      plural: 'pingsources',
      namespace: ns,
      dryRun: 'All',
      fieldValidation: 'Strict',
      body: { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'x' }, spec: { schedule: '* * * * *', shedule: 'typo' } },
    }),
    (e: unknown) => {
      const err = e as { code?: number; body?: string };
      assert.equal(err.code, 400);
      const status = JSON.parse(err.body ?? '{}') as { message?: string };
      assert.match(status.message ?? '', /strict decoding error: unknown field "spec\.shedule"/);
      return true;
    },
  );
});
