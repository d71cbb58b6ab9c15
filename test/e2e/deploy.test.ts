// knative/ (what `kubectl apply -k knative/base/` installs), validated two ways:
// - statically: the render, its cross-references, the ConfigMap against the real config loader,
//   hardening, Knative's own field rules, and the generated webhook configurations;
// - on the local control plane with the Knative CRDs: server-side dry-run with strict field
//   validation of every object (base and CronJob overlay), pods of every workload admitted under
//   the "restricted" Pod Security Standard, RBAC applied for real and checked per ServiceAccount
//   with SelfSubjectRulesReview (exactly the intended rules), every Kubernetes call of each
//   function made with its ServiceAccount's token, refused calls answered 403, and the
//   pipeline run end to end with those identities.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { SCORE_UPDATED_TYPE } from '../../lib/changes/events.ts';
import { renderWebhookOutputs } from '../../lib/cli/webhooks.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { settings } from '../../lib/config/spec.ts';
import { addRepos, latestScore } from '../../lib/db/index.ts';
import { cronSlot } from '../../lib/events/ping.ts';
import { batchSelector } from '../../lib/harvest/deletions.ts';
import { buildScorecardJob, jobName, POSTURE_JOB_SELECTOR, SCORECARD_CONTAINER } from '../../lib/jobs/spec.ts';
import { clusterApi, KubeError } from '../../lib/kube/cluster.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { goModuleDir, KNATIVE_SERVING_MODULE } from '../cluster/config.ts';
import { type ControlPlane, getSharedControlPlane, waitForJobFinished } from '../cluster/harness.ts';
import { FIXTURES, fixturePath } from '../fixtures/scorecard.ts';
import {
  CLUSTER_SCOPED,
  Discovery,
  dryRunCreate,
  idOf,
  type KubeObject,
  kubeRequest,
  podTemplates,
  relocate,
  renderKustomization,
  ruleKeys,
  schemaProblems,
  selfRules,
  serverSideApply,
} from './deploy-kit.ts';
import { type Pipeline, startPipeline } from './pipeline-kit.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NS = 'posture';
// Rendered by real kustomize (the binary test/cluster/build-tools.sh builds), as
// `kubectl apply -k` would: the base, and every overlay beside it.
const base = renderKustomization(join(ROOT, 'knative', 'base'));
const OVERLAYS = readdirSync(join(ROOT, 'knative', 'overlays')).sort();
const overlays = new Map(OVERLAYS.map((name) => [name, renderKustomization(join(ROOT, 'knative', 'overlays', name))]));
const overlay = overlays.get('cronjob')!;

const find = (objs: KubeObject[], kind: string, name: string): KubeObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is not in the render`);
  return o;
};
const any = (o: unknown) => o as any;

/** The RBAC matrix: every namespaced permission each ServiceAccount has beyond what any identity has. */
const INTENDED: Record<string, string[]> = {
  'posture-scheduler': [
    'batch/jobs:create',
    'batch/jobs:get',
    'batch/jobs:list',
    'batch/jobs:delete',
    'core/pods:list',
    'core/pods/log:get',
    'core/events:list',
  ],
  'posture-harvester': ['batch/jobs:delete', 'batch/jobs:deletecollection', 'core/pods:list', 'core/pods/log:get', 'core/events:list'],
  'posture-job-events': ['batch/jobs:get', 'batch/jobs:list', 'batch/jobs:watch'],
  'posture-admission': [],
  'posture-api': [],
  'posture-alerts': [],
};

/** The one cluster-wide grant: the auditor lists workloads everywhere and writes PolicyReports. */
const AUDITOR_INTENDED = [
  'apps/deployments:list',
  'apps/statefulsets:list',
  'apps/daemonsets:list',
  'apps/replicasets:list',
  'batch/jobs:list',
  'batch/cronjobs:list',
  'core/pods:list',
  'core/replicationcontrollers:list',
  'core/namespaces:list',
  'wgpolicyk8s.io/policyreports:list',
  'wgpolicyk8s.io/policyreports:create',
  'wgpolicyk8s.io/policyreports:update',
  'wgpolicyk8s.io/policyreports:delete',
];

// ---------------------------------------------------------------------------------------------
// Static checks of the render
// ---------------------------------------------------------------------------------------------

test('the base renders the expected objects, all in the posture namespace, with no Secret values', () => {
  const ids = base.map(idOf).sort();
  const expected = [
    'core/Namespace/-/posture',
    'core/ConfigMap/posture/posture-config',
    'core/ConfigMap/posture/posture-policy',
    ...[...Object.keys(INTENDED), 'posture-auditor'].map((sa) => `core/ServiceAccount/posture/${sa}`),
    'rbac.authorization.k8s.io/ClusterRole/-/posture-auditor',
    'rbac.authorization.k8s.io/ClusterRoleBinding/-/posture-auditor',
    'apiextensions.k8s.io/CustomResourceDefinition/-/policyreports.wgpolicyk8s.io',
    'serving.knative.dev/Service/posture/posture-auditor',
    'sources.knative.dev/PingSource/posture/posture-audit',
    ...['posture-scheduler', 'posture-harvester', 'posture-job-events'].flatMap((n) => [
      `rbac.authorization.k8s.io/Role/posture/${n}`,
      `rbac.authorization.k8s.io/RoleBinding/posture/${n}`,
    ]),
    ...['posture-scheduler', 'posture-harvester', 'posture-api', 'posture-alerts'].map((n) => `serving.knative.dev/Service/posture/${n}`),
    'apps/Deployment/posture/posture-admission',
    'core/Service/posture/posture-admission',
    'policy/PodDisruptionBudget/posture/posture-admission',
    'cert-manager.io/Issuer/posture/posture-selfsigned',
    'cert-manager.io/Issuer/posture/posture-admission-ca',
    'cert-manager.io/Certificate/posture/posture-admission-ca',
    'cert-manager.io/Certificate/posture/posture-admission',
    'sources.knative.dev/PingSource/posture/posture-tick',
    'sources.knative.dev/ApiServerSource/posture/posture-job-events',
    'eventing.knative.dev/Broker/posture/posture',
    'eventing.knative.dev/Broker/posture/posture-dead-letter',
    'eventing.knative.dev/Trigger/posture/posture-harvester',
    'eventing.knative.dev/Trigger/posture/posture-score-events',
    'eventing.knative.dev/Trigger/posture/posture-alerts',
    'networking.k8s.io/NetworkPolicy/posture/posture-scorecard-jobs',
    'networking.k8s.io/NetworkPolicy/posture/posture-admission',
    // Whatever `npm run generate:webhooks` wrote: adding a webhook file adds its configuration.
    ...renderKustomization(join(ROOT, 'knative', 'base', 'webhooks')).map(idOf),
  ].sort();
  assert.ok(ids.includes('admissionregistration.k8s.io/ValidatingWebhookConfiguration/-/posture-job-guard'));
  assert.deepEqual(ids, expected);
  for (const o of base) {
    if (CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, undefined, idOf(o));
    else assert.equal(o.metadata.namespace, NS, idOf(o));
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'posture', `${idOf(o)} lacks app.kubernetes.io/part-of`);
    // That label marks Scorecard Jobs: the ApiServerSource forwards, the reconcile deletes and
    // the job guard restricts everything carrying it.
    assert.notEqual(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'posture', idOf(o));
    assert.notEqual(o.kind, 'Secret', 'Secrets are referenced, never shipped');
    if (['ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) assert.equal(o.metadata.name, 'posture-auditor', 'nothing cluster-wide but the auditor');
  }
  // Every image is the one posture image (rewritten by the kustomization's `images`) or pinned.
  for (const o of [...base, ...overlay]) {
    for (const t of podTemplates(o))
      for (const c of t.spec.containers)
        assert.match(c.image!, /^(ghcr\.io\/posture-dev\/posture:0\.1\.0|docker\.io\/curlimages\/curl:\d+\.\d+\.\d+)$/, `${idOf(o)} ${c.name}`);
  }
});

test('secrets.example.yaml is not part of the kustomization and holds the Secrets the manifests reference', () => {
  const k = parse(readFileSync(join(ROOT, 'knative', 'base', 'kustomization.yaml'), 'utf8'));
  assert.ok(!k.resources.includes('secrets.example.yaml'));
  const secrets = parseAllDocuments(readFileSync(join(ROOT, 'knative', 'secrets.example.yaml'), 'utf8')).map((d) => d.toJSON());
  const byName = new Map(secrets.map((s) => [s.metadata.name, s]));
  // Every secretKeyRef in a workload names a Secret and key of the example.
  const refs = new Set<string>();
  for (const o of base)
    for (const t of podTemplates(o))
      for (const c of t.spec.containers)
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) refs.add(`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
  assert.deepEqual(
    [...refs],
    [
      'posture-database/DATABASE_URL',
      'posture-alerts/POSTURE_ALERTS_WEBHOOK_URL',
      'posture-alerts/POSTURE_ALERTS_WEBHOOK_SECRET',
      'posture-alerts/POSTURE_ALERTS_GITHUB_TOKEN',
      // The scheduler's own GitHub calls (discovery, /rate_limit), optional: a GitHub App needs no token.
      'posture-github-tokens/GITHUB_AUTH_TOKEN',
    ],
  );
  // The alerts' Secret is optional: without it they record alerts and send nothing.
  for (const o of base)
    for (const t of podTemplates(o))
      for (const c of t.spec.containers)
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name === 'posture-alerts') assert.equal(e.valueFrom.secretKeyRef.optional, true, e.name);
  for (const r of refs) {
    const [name, key] = r.split('/');
    assert.ok(byName.get(name)?.stringData?.[key], `secrets.example.yaml lacks ${r}`);
  }
  // The GitHub token Secret is the one the scheduler puts into the Scorecard Jobs.
  const cm = find(base, 'ConfigMap', 'posture-config').data as Record<string, string>;
  assert.ok(byName.get(cm.POSTURE_GITHUB_TOKEN_SECRET)?.stringData?.[cm.POSTURE_GITHUB_TOKEN_SECRET_KEY]);
  for (const s of secrets) assert.equal(s.metadata.namespace, NS);
});

test('the ConfigMap is valid configuration for the real loader, and secret-free', () => {
  const data = find(base, 'ConfigMap', 'posture-config').data as Record<string, string>;
  const known = new Map<string, { secret?: boolean }>(settings.map((s) => [s.env as string, { secret: (s as { secret?: boolean }).secret }]));
  for (const key of Object.keys(data)) {
    assert.ok(known.has(key), `${key} is not a posture setting`);
    assert.ok(!known.get(key)!.secret, `${key} is secret: it belongs in a Secret`);
  }
  for (const reserved of ['PORT', 'DATABASE_URL', 'POSTURE_TLS_CERT_FILE', 'POSTURE_TLS_KEY_FILE', 'POSTURE_DATA_DIR'])
    assert.ok(!(reserved in data), `${reserved} must not be in the shared ConfigMap`);
  const config = loadConfig({ ...data, DATABASE_URL: 'postgres://u@db.example:5432/posture' });
  assert.equal(config.namespace, NS);
  assert.equal(config.schedulerServiceAccount, 'posture-scheduler');
  assert.equal(config.githubTokenSecret, 'posture-github-tokens');
});

test('the generated webhook configurations are what the deployed configuration generates, and call the admission Service', async () => {
  const data = find(base, 'ConfigMap', 'posture-config').data as Record<string, string>;
  const generated = await renderWebhookOutputs(WEBHOOKS_DIR, loadConfig({ ...data }));
  for (const [path, text] of generated) {
    if (!path.startsWith('knative/base/webhooks/')) continue;
    assert.equal(
      readFileSync(join(ROOT, path), 'utf8'),
      text,
      `${path} differs from what the ConfigMap's settings generate: run npm run generate:webhooks or align config.yaml`,
    );
  }
  const svc = find(base, 'Service', 'posture-admission');
  const deploy = find(base, 'Deployment', 'posture-admission');
  const container = any(deploy).spec.template.spec.containers[0];
  const cert = find(base, 'Certificate', 'posture-admission');
  for (const vwc of base.filter((o) => o.kind === 'ValidatingWebhookConfiguration')) {
    assert.equal(vwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${cert.metadata.namespace}/${cert.metadata.name}`);
    for (const w of any(vwc).webhooks) {
      const s = w.clientConfig.service;
      assert.deepEqual([s.namespace, s.name], [svc.metadata.namespace, svc.metadata.name], w.name);
      const port = any(svc).spec.ports.find((p: any) => p.port === s.port);
      assert.ok(port, `${w.name}: Service has no port ${s.port}`);
      const cport = container.ports.find((p: any) => p.name === port.targetPort || p.containerPort === port.targetPort);
      assert.ok(cport, `${w.name}: Service port ${s.port} targets no container port`);
      assert.equal(String(cport.containerPort), container.env.find((e: any) => e.name === 'POSTURE_ADMISSION_PORT').value);
      assert.match(s.path, new RegExp(`^/${vwc.metadata.labels!['posture.dev/webhook']}(/|$)`));
      assert.ok(any(cert).spec.dnsNames.includes(`${s.name}.${s.namespace}.svc`), 'the serving certificate names the Service the API server dials');
    }
  }
  // The pods mount the certificate's Secret where the server reads it.
  const tls = any(deploy).spec.template.spec.volumes.find((v: any) => v.secret);
  assert.equal(tls.secret.secretName, any(cert).spec.secretName);
  const mount = container.volumeMounts.find((m: any) => m.name === tls.name);
  for (const v of ['POSTURE_TLS_CERT_FILE', 'POSTURE_TLS_KEY_FILE'])
    assert.ok(container.env.find((e: any) => e.name === v).value.startsWith(`${mount.mountPath}/`));
  // The CA chain: the serving certificate's issuer is a CA Issuer backed by the CA Certificate.
  const caIssuer = find(base, 'Issuer', any(cert).spec.issuerRef.name);
  const caCert = base.find((o) => o.kind === 'Certificate' && any(o).spec.secretName === any(caIssuer).spec.ca.secretName);
  assert.ok(caCert && any(caCert).spec.isCA === true);
  // Availability on the API server's path: replicas, PDB, no token.
  assert.ok(any(deploy).spec.replicas >= 2);
  const pdb = find(base, 'PodDisruptionBudget', 'posture-admission');
  assert.deepEqual(any(pdb).spec.selector.matchLabels, any(deploy).spec.selector.matchLabels);
  assert.ok(any(pdb).spec.minAvailable >= 1 && any(pdb).spec.minAvailable < any(deploy).spec.replicas);
});

// Knative Serving's field masks (knative.dev/serving pkg/apis/serving/fieldmask.go, v0.51) with
// its default feature flags: what its webhook accepts in a Service's pod template.
const KNATIVE_POD_FIELDS = new Set(['serviceAccountName', 'containers', 'volumes', 'imagePullSecrets', 'enableServiceLinks', 'automountServiceAccountToken']);
const KNATIVE_CONTAINER_FIELDS = new Set([
  'name',
  'args',
  'command',
  'env',
  'workingDir',
  'envFrom',
  'image',
  'imagePullPolicy',
  'livenessProbe',
  'ports',
  'readinessProbe',
  'resources',
  'securityContext',
  'startupProbe',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'volumeMounts',
]);
const KNATIVE_SECURITY_FIELDS = new Set([
  'capabilities',
  'readOnlyRootFilesystem',
  'runAsUser',
  'runAsGroup',
  'runAsNonRoot',
  'allowPrivilegeEscalation',
  'seccompProfile',
  'privileged',
]);
const KNATIVE_RESERVED_ENV = new Set(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']);
const KNATIVE_RESERVED_PORTS = new Set([8012, 8013, 8022, 8112, 9090, 9091]);

test('every container is hardened: non-root, read-only root, no capabilities, RuntimeDefault seccomp, resources, probes', () => {
  const healthChecked = new Set(['scheduler', 'harvester', 'api', 'admission', 'alerts', 'auditor']);
  let seen = 0;
  for (const o of [...base, ...overlay.filter((x) => x.kind === 'CronJob')]) {
    for (const t of podTemplates(o)) {
      const podSc = (t.spec.securityContext ?? {}) as k8s.V1PodSecurityContext;
      for (const c of t.spec.containers) {
        seen++;
        const where = `${idOf(o)} ${c.name}`;
        const sc = c.securityContext ?? {};
        assert.equal(sc.runAsNonRoot ?? podSc.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, `${where}: capabilities`);
        assert.equal((sc.seccompProfile ?? podSc.seccompProfile)?.type, 'RuntimeDefault', `${where}: seccomp`);
        for (const k of ['requests', 'limits'] as const) for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[k]?.[r], `${where}: resources.${k}.${r}`);
        if (healthChecked.has(c.name)) {
          assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${where}: readiness`);
          assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${where}: liveness`);
          assert.deepEqual(c.args, [c.name], `${where}: bin/serve.ts <function>`);
        }
      }
      const mounted = new Set(t.spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
      for (const v of t.spec.volumes ?? []) assert.ok(mounted.has(v.name), `${idOf(o)}: volume ${v.name} unused`);
    }
  }
  assert.equal(seen, 7, "scheduler, harvester, api, alerts, auditor, admission, and the CronJob overlay's ticker");
});

test('the Knative Services use only what Knative Serving accepts by default, with the intended scaling', () => {
  const ksvcs = base.filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1');
  const byName = Object.fromEntries(ksvcs.map((k) => [k.metadata.name, any(k)]));
  for (const k of ksvcs) {
    const spec = any(k).spec.template.spec;
    for (const f of Object.keys(spec))
      if (!['containerConcurrency', 'timeoutSeconds', 'responseStartTimeoutSeconds', 'idleTimeoutSeconds'].includes(f))
        assert.ok(KNATIVE_POD_FIELDS.has(f), `${k.metadata.name}: pod field ${f} is off in Knative by default`);
    if ('automountServiceAccountToken' in spec) assert.equal(spec.automountServiceAccountToken, false, 'Knative only allows false');
    assert.equal(spec.containers.length, 1);
    for (const c of spec.containers) {
      for (const f of Object.keys(c)) assert.ok(KNATIVE_CONTAINER_FIELDS.has(f), `${k.metadata.name}: container field ${f}`);
      for (const f of Object.keys(c.securityContext)) assert.ok(KNATIVE_SECURITY_FIELDS.has(f), `${k.metadata.name}: securityContext.${f}`);
      assert.deepEqual(Object.keys(c.securityContext.capabilities), ['drop']);
      for (const e of c.env ?? []) assert.ok(!KNATIVE_RESERVED_ENV.has(e.name), `${e.name} is reserved by Knative`);
      for (const p of c.ports ?? []) {
        assert.ok(!KNATIVE_RESERVED_PORTS.has(p.containerPort), `port ${p.containerPort} is reserved by Knative`);
        assert.ok(['http1', 'h2c'].includes(p.name));
      }
      for (const probe of [c.readinessProbe, c.livenessProbe]) assert.equal(probe.httpGet.port, undefined, 'Knative probes the container port itself');
      assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'posture-config' } }]);
      for (const m of c.volumeMounts ?? []) assert.ok(!['/', '/dev', '/dev/log'].includes(m.mountPath));
    }
    for (const v of spec.volumes ?? [])
      assert.deepEqual(
        Object.keys(v)
          .filter((x) => x !== 'name')
          .sort()
          .filter((x) => !['emptyDir', 'secret', 'configMap', 'projected'].includes(x)),
        [],
      );
    assert.equal(any(k).spec.template.metadata.labels['app.kubernetes.io/part-of'], 'posture');
  }
  assert.equal(byName['posture-scheduler'].spec.template.spec.containerConcurrency, 1);
  for (const n of ['posture-scheduler', 'posture-harvester', 'posture-alerts'])
    assert.equal(byName[n].metadata.labels['networking.knative.dev/visibility'], 'cluster-local', n);
  assert.equal(byName['posture-api'].metadata.labels['networking.knative.dev/visibility'], undefined, 'the score API is public');
  for (const [n, sa] of [
    ['posture-scheduler', 'posture-scheduler'],
    ['posture-harvester', 'posture-harvester'],
    ['posture-api', 'posture-api'],
    ['posture-alerts', 'posture-alerts'],
    ['posture-auditor', 'posture-auditor'],
  ])
    assert.equal(byName[n].spec.template.spec.serviceAccountName, sa);
  assert.equal(any(find(base, 'Deployment', 'posture-admission')).spec.template.spec.serviceAccountName, 'posture-admission');
  // Pods of identities without a Role mount no token.
  for (const n of ['posture-api', 'posture-alerts']) assert.equal(byName[n].spec.template.spec.automountServiceAccountToken, false);
  assert.equal(any(find(base, 'Deployment', 'posture-admission')).spec.template.spec.automountServiceAccountToken, false);
  for (const sa of ['posture-admission', 'posture-api', 'posture-alerts'])
    assert.equal(any(find(base, 'ServiceAccount', sa)).automountServiceAccountToken, false);
});

test('the eventing wiring: ping → scheduler, posture Jobs → Broker → harvester (update AND kind Job, retries, dead letters), score.updated → admission', () => {
  const ping = any(find(base, 'PingSource', 'posture-tick'));
  assert.deepEqual(ping.spec.sink.ref, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'posture-scheduler' });
  const src = any(find(base, 'ApiServerSource', 'posture-job-events'));
  assert.equal(src.spec.mode, 'Resource');
  assert.equal(src.spec.serviceAccountName, 'posture-job-events');
  assert.deepEqual(src.spec.resources, [
    { apiVersion: 'batch/v1', kind: 'Job', selector: { matchLabels: Object.fromEntries([POSTURE_JOB_SELECTOR.split('=')]) } },
  ]);
  assert.equal(src.spec.namespaceSelector, undefined, "only posture's namespace");
  const resolves = (ref: { apiVersion: string; kind: string; name: string }) =>
    find(base, ref.kind, ref.name) && assert.equal(find(base, ref.kind, ref.name).apiVersion, ref.apiVersion);
  resolves(ping.spec.sink.ref);
  resolves(src.spec.sink.ref);
  const harvester = any(find(base, 'Trigger', 'posture-harvester'));
  assert.equal(harvester.spec.broker, src.spec.sink.ref.name);
  assert.deepEqual(harvester.spec.filters, [{ exact: { type: 'dev.knative.apiserver.resource.update', kind: 'Job' } }]);
  assert.equal(harvester.spec.filter, undefined, 'the new filters only');
  resolves(harvester.spec.subscriber.ref);
  assert.equal(harvester.spec.subscriber.ref.name, 'posture-harvester');
  assert.ok(harvester.spec.delivery.retry >= 3);
  assert.equal(harvester.spec.delivery.backoffPolicy, 'exponential');
  assert.match(harvester.spec.delivery.backoffDelay, /^PT\d+(\.\d+)?S$/);
  resolves(harvester.spec.delivery.deadLetterSink.ref);
  const score = any(find(base, 'Trigger', 'posture-score-events'));
  assert.deepEqual(score.spec.filters, [{ exact: { type: SCORE_UPDATED_TYPE } }]);
  const uri = new URL(score.spec.subscriber.uri);
  const svc = find(base, 'Service', 'posture-admission');
  assert.equal(uri.protocol, 'https:');
  assert.equal(uri.hostname, `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`);
  assert.equal(uri.pathname, '/events', 'the admission server takes score events on /events');
  assert.ok(any(find(base, 'Certificate', 'posture-admission')).spec.dnsNames.includes(uri.hostname));
  // posture's change events → the alerts function (the harvester's K_SINK is this Broker's ingress).
  const alerts = any(find(base, 'Trigger', 'posture-alerts'));
  assert.equal(alerts.spec.broker, src.spec.sink.ref.name);
  assert.deepEqual(alerts.spec.filters, [{ any: [{ exact: { type: 'dev.posture.score.changed' } }, { exact: { type: 'dev.posture.policy.changed' } }] }]);
  resolves(alerts.spec.subscriber.ref);
  assert.equal(alerts.spec.subscriber.ref.name, 'posture-alerts');
  resolves(alerts.spec.delivery.deadLetterSink.ref);
  const sink = any(find(base, 'Service', 'posture-harvester')).spec.template.spec.containers[0].env.find((e: any) => e.name === 'K_SINK').value;
  assert.match(sink, new RegExp(`/${NS}/${alerts.spec.broker}$`));
});

test("the NetworkPolicy selects exactly the Scorecard Jobs' pods: no ingress, egress DNS and 443 only", () => {
  const np = any(find(base, 'NetworkPolicy', 'posture-scorecard-jobs'));
  const repo = parseRepo('ossf/scorecard');
  assert.ok(repo.ok);
  const job = buildScorecardJob({ repo: repo.repo, dueWindow: new Date('2030-01-01T00:00:00Z') }, loadConfig({}));
  const podLabels = job.spec!.template.metadata!.labels!;
  for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) assert.equal(podLabels[k], v, `pod label ${k}`);
  assert.equal(np.spec.podSelector.matchLabels['app.kubernetes.io/component'], 'scorecard');
  assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(np.spec.ingress ?? [], []);
  assert.deepEqual(np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort(), ['TCP/443', 'TCP/53', 'UDP/53']);
  for (const r of np.spec.egress) assert.equal(r.to, undefined);
  // No other workload carries the Scorecard pods' labels.
  for (const o of [...base, ...overlay])
    for (const t of podTemplates(o)) assert.notEqual(t.metadata?.labels?.['app.kubernetes.io/component'], 'scorecard', idOf(o));
});

test("the admission NetworkPolicy selects the admission server's pods and admits only its HTTPS port, from the Broker, and from no address until the API server's are added", () => {
  const np = any(find(base, 'NetworkPolicy', 'posture-admission'));
  const deploy = any(find(base, 'Deployment', 'posture-admission'));
  const podLabels = deploy.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) assert.equal(podLabels[k], v, `pod label ${k}`);
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  const port = deploy.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'https').containerPort;
  for (const r of np.spec.ingress) assert.deepEqual(r.ports, [{ protocol: 'TCP', port }]);
  assert.ok(
    np.spec.ingress.some((r: any) => r.from.some((f: any) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'knative-eventing')),
    'the Broker',
  );
  // Issue 40: the ipBlock admitted any address (0.0.0.0/0, ::/0), so any pod could send the server
  // junk. The base admits no address at all; the API server's are the cluster's to add.
  const blocks = (objs: KubeObject[]) =>
    any(find(objs, 'NetworkPolicy', 'posture-admission')).spec.ingress.flatMap((r: any) => r.from.filter((f: any) => f.ipBlock).map((f: any) => f.ipBlock));
  assert.deepEqual(blocks(base), [], 'the base admits no address');
  for (const [name, objects] of overlays) {
    for (const b of blocks(objects)) {
      const prefix = Number(b.cidr.split('/')[1]);
      assert.ok(prefix >= (b.cidr.includes(':') ? 64 : 16), `${name}: ${b.cidr} admits far more than an API server`);
    }
  }
  // The example overlay adds the API server's rule beside the Broker's, on the same port.
  const opened = any(find(overlays.get('api-server-access')!, 'NetworkPolicy', 'posture-admission'));
  assert.deepEqual(opened.spec.ingress.at(-1), { from: [{ ipBlock: { cidr: '192.0.2.10/32' } }], ports: [{ protocol: 'TCP', port }] });
  assert.deepEqual(opened.spec.ingress[0], np.spec.ingress[0]);
});

test("the auditor's ClusterRole is its intended set, bound to its own ServiceAccount only; the existing-CRD overlay leaves the CRD out and nothing else", () => {
  assert.deepEqual([...ruleKeys(any(find(base, 'ClusterRole', 'posture-auditor')).rules)].sort(), [...AUDITOR_INTENDED].sort());
  const b = any(find(base, 'ClusterRoleBinding', 'posture-auditor'));
  assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'posture-auditor', namespace: NS }]);
  assert.deepEqual(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'posture-auditor' });
  const ping = any(find(base, 'PingSource', 'posture-audit'));
  assert.deepEqual(ping.spec.sink.ref, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'posture-auditor' });
  const without = new Set(overlays.get('existing-policyreport-crd')!.map(idOf));
  assert.deepEqual(
    base.map(idOf).filter((x) => !without.has(x)),
    ['apiextensions.k8s.io/CustomResourceDefinition/-/policyreports.wgpolicyk8s.io'],
  );
  // The CRD serves the version the auditor writes.
  const crd = any(find(base, 'CustomResourceDefinition', 'policyreports.wgpolicyk8s.io'));
  assert.ok(crd.spec.versions.some((v: any) => v.name === 'v1alpha2' && v.served));
});

test('the Roles are the RBAC matrix, bound to their own ServiceAccounts only', () => {
  for (const [sa, rules] of Object.entries(INTENDED)) {
    const role = base.find((o) => o.kind === 'Role' && o.metadata.name === sa);
    assert.deepEqual([...ruleKeys(role ? any(role).rules : [])].sort(), [...rules].sort(), sa);
    const bindings = base.filter((o) => o.kind === 'RoleBinding' && any(o).subjects.some((s: any) => s.name === sa));
    assert.equal(bindings.length, rules.length > 0 ? 1 : 0, sa);
    for (const b of bindings) {
      assert.deepEqual(any(b).subjects, [{ kind: 'ServiceAccount', name: sa, namespace: NS }]);
      assert.deepEqual(any(b).roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa });
    }
  }
});

test('knative/ is laid out so kustomize renders each root: the base and every overlay, none inside another', () => {
  assert.deepEqual(OVERLAYS, ['api-server-access', 'cronjob', 'existing-policyreport-crd']);
  assert.ok(base.length > 0);
  for (const [name, objects] of overlays) assert.ok(objects.length > 0, name);
  // An overlay inside its base's folder is what kustomize refuses ("cycle detected"): prove the
  // binary used here is one that does, so a render that passes is one `kubectl apply -k` gives.
  const scratch = mkdtempSync(join(tmpdir(), 'posture-kustomize-'));
  try {
    writeFileSync(join(scratch, 'kustomization.yaml'), 'resources:\n  - cm.yaml\n');
    writeFileSync(join(scratch, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n');
    mkdirSync(join(scratch, 'overlay'));
    writeFileSync(join(scratch, 'overlay', 'kustomization.yaml'), 'resources:\n  - ../\n');
    assert.throws(() => renderKustomization(join(scratch, 'overlay')), /cycle detected/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('YAML numbers are read as kustomize reads them: the admission certificate mode 0440 is octal (288), not decimal 440', () => {
  const volumes = any(find(base, 'Deployment', 'posture-admission')).spec.template.spec.volumes;
  const modes = volumes.filter((v: any) => v.secret).map((v: any) => v.secret.defaultMode);
  assert.deepEqual(modes, [0o440]);
});

test('the CronJob overlay: the PingSource replaced by a CronJob with the same schedule, POSTing a binary-mode ping', () => {
  const b = new Set(base.map(idOf));
  const o = new Set(overlay.map(idOf));
  assert.deepEqual(
    [...b].filter((x) => !o.has(x)),
    ['sources.knative.dev/PingSource/posture/posture-tick'],
  );
  assert.deepEqual(
    [...o].filter((x) => !b.has(x)),
    ['batch/CronJob/posture/posture-tick'],
  );
  const cj = any(find(overlay, 'CronJob', 'posture-tick'));
  const ping = any(find(base, 'PingSource', 'posture-tick'));
  assert.equal(cj.spec.schedule, ping.spec.schedule);
  assert.equal(cj.spec.timeZone, ping.spec.timezone);
  assert.equal(cj.spec.concurrencyPolicy, 'Forbid');
  const pod = cj.spec.jobTemplate.spec.template;
  assert.notEqual(cj.spec.jobTemplate.metadata?.labels?.['app.kubernetes.io/managed-by'], 'posture');
  assert.notEqual(pod.metadata?.labels?.['app.kubernetes.io/managed-by'], 'posture');
  assert.equal(pod.spec.automountServiceAccountToken, false, 'the ticker makes no Kubernetes calls');
  const env = Object.fromEntries(pod.spec.containers[0].env.map((e: any) => [e.name, e.value]));
  const sched = find(base, 'Service', 'posture-scheduler');
  assert.equal(env.SCHEDULER_URL, `http://${sched.metadata.name}.${sched.metadata.namespace}.svc.cluster.local`);
  const script: string = pod.spec.containers[0].args[0];
  for (const h of [
    "'ce-specversion: 1.0'",
    "'ce-type: dev.knative.sources.ping'",
    '"ce-source: $CE_SOURCE"',
    '"ce-id: posture-tick-$minute"',
    '"ce-time: $minute"',
  ])
    assert.ok(script.includes(h), h);
});

// ---------------------------------------------------------------------------------------------
// On the local control plane
// ---------------------------------------------------------------------------------------------

describe('on the local control plane', () => {
  let cp: ControlPlane;
  let disco: Discovery;
  const crdSchemas = new Map<string, { storage: string; schema: any }>();
  const cleanups: Array<() => Promise<unknown>> = [];
  // Knative Serving's feature flags that are on by default (its config-features ConfigMap, from
  // the same module the CRDs come from): a field behind any other flag would be refused.
  let enabledFlags: Set<string>;

  before(async () => {
    cp = await getSharedControlPlane();
    disco = new Discovery(cp.kc);
    await cp.installKnativeCrds();
    const features = parse(readFileSync(join(goModuleDir(KNATIVE_SERVING_MODULE), 'config/core/configmaps/features.yaml'), 'utf8'));
    // Its `_example` block lists every flag with its default value.
    enabledFlags = new Set([...String(features.data._example).matchAll(/^\s*([\w.-]+):\s*"enabled"\s*$/gm)].map((m) => m[1]));
    assert.ok(enabledFlags.has('kubernetes.podspec-volumes-emptydir'));
    // Stand-ins for cert-manager's CRDs (see the fixture's header).
    const ext = cp.kc.makeApiClient(k8s.ApiextensionsV1Api);
    const fixtures = parseAllDocuments(readFileSync(join(import.meta.dirname, 'deploy-cert-manager-crds.yaml'), 'utf8')).map((d) => d.toJSON() as KubeObject);
    for (const crd of fixtures) {
      const r = await serverSideApply(disco, crd, { dryRun: false });
      assert.ok(r.status < 300, `${crd.metadata.name}: ${JSON.stringify(r.body)}`);
    }
    for (const crd of fixtures) {
      const deadline = Date.now() + 30000;
      while (
        !(await ext.readCustomResourceDefinition({ name: crd.metadata.name })).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
      ) {
        if (Date.now() > deadline) throw new Error(`${crd.metadata.name} not Established`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Discovery may lag a freshly established CRD by a moment.
    for (const o of [...base, ...overlay]) {
      const deadline = Date.now() + 30000;
      for (;;) {
        try {
          await disco.resource(o.apiVersion, o.kind);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          disco = new Discovery(cp.kc);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    for (const crd of (await ext.listCustomResourceDefinition()).items) {
      const v = crd.spec.versions.find((x) => x.storage)!;
      crdSchemas.set(`${crd.spec.group}/${crd.spec.names.kind}`, { storage: `${crd.spec.group}/${v.name}`, schema: v.schema?.openAPIV3Schema });
    }
    // `kubectl apply -k` creates the Namespace first; the dry-runs need it to exist, and the pod
    // dry-runs need the ServiceAccounts (objects without permissions: harmless to keep).
    for (const o of base.filter((x) => x.kind === 'Namespace' || x.kind === 'ServiceAccount')) {
      const r = await serverSideApply(disco, o, { dryRun: false });
      assert.ok(r.status < 300, `${idOf(o)}: ${JSON.stringify(r.body)}`);
    }
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await cp?.stop();
  });

  async function dryRunAll(objects: KubeObject[]): Promise<void> {
    assert.deepEqual(await dryRunFailures(objects), []);
  }

  async function dryRunFailures(objects: KubeObject[]): Promise<string[]> {
    const failures: string[] = [];
    for (const o of objects) {
      const crd = crdSchemas.get(`${o.apiVersion.split('/')[0]}/${o.kind}`);
      if (crd) {
        if (crd.storage !== o.apiVersion) failures.push(`${idOf(o)}: ${o.apiVersion} is not the storage version ${crd.storage}`);
        for (const p of schemaProblems(o, crd.schema, enabledFlags)) failures.push(`${idOf(o)}: ${p}`);
      }
      const r = await serverSideApply(disco, o, { dryRun: true });
      if (r.status >= 300) failures.push(`${idOf(o)}: HTTP ${r.status} ${r.body?.message ?? JSON.stringify(r.body)}`);
    }
    return failures;
  }

  test('every object of the base passes a server-side dry-run with strict field validation (and the CRD schemas, stricter)', async () => {
    await dryRunAll(base);
  });

  for (const name of OVERLAYS) {
    test(`every object of the overlay ${name} passes the same dry-run`, async () => {
      await dryRunAll(overlays.get(name)!);
    });
  }

  test('the same checks catch a misspelt field, a field behind an off Knative flag and a non-storage version', async () => {
    const mutate = (kind: string, name: string, f: (o: any) => void): KubeObject => {
      const o = structuredClone(find(base, kind, name));
      f(o);
      return o;
    };
    const cases: Array<[KubeObject, RegExp]> = [
      // Refused by the API server itself (strict field validation).
      [
        mutate('Deployment', 'posture-admission', (o) => (o.spec.template.spec.containers[0].readinessProbe.httpGet.paht = '/readyz')),
        /HTTP \d+ .*readinessProbe\.httpGet\.paht: field not declared in schema/,
      ],
      [
        mutate('Service', 'posture-scheduler', (o) => (o.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true)),
        /HTTP \d+ .*readOnlyRootFileSystem: field not declared in schema/,
      ],
      // Kept by the CRD (x-kubernetes-preserve-unknown-fields), caught by the schema walk.
      [
        mutate('Trigger', 'posture-harvester', (o) => (o.spec.delivery.deadLetterSnk = o.spec.delivery.deadLetterSink)),
        /\.spec\.delivery\.deadLetterSnk: not declared in the CRD schema/,
      ],
      [
        mutate('Service', 'posture-api', (o) => (o.spec.template.spec.nodeSelector = { disk: 'ssd' })),
        /nodeSelector: behind the Knative feature flag kubernetes\.podspec-nodeselector/,
      ],
      [mutate('PingSource', 'posture-tick', (o) => (o.apiVersion = 'sources.knative.dev/v1beta2')), /is not the storage version sources\.knative\.dev\/v1/],
    ];
    for (const [o, expected] of cases) {
      const failures = await dryRunFailures([o]);
      assert.ok(
        failures.some((f) => expected.test(f)),
        `${idOf(o)}: expected ${expected}, got ${JSON.stringify(failures)}`,
      );
    }
  });

  test('the pods of every workload are admitted under the restricted Pod Security Standard of the namespace', async () => {
    const nsLabels = (await cp.kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name: NS })).metadata!.labels!;
    assert.equal(nsLabels['pod-security.kubernetes.io/enforce'], 'restricted');
    const failures: string[] = [];
    for (const o of [...base, ...overlay.filter((x) => x.kind === 'CronJob')]) {
      for (const t of podTemplates(o)) {
        const spec = structuredClone(t.spec) as any;
        // What Knative's revision reconciler adds: the probe port is the container port.
        if (o.apiVersion === 'serving.knative.dev/v1') {
          for (const c of spec.containers) for (const p of [c.readinessProbe, c.livenessProbe]) if (p?.httpGet) p.httpGet.port = c.ports[0].containerPort;
          delete spec.containerConcurrency;
          delete spec.timeoutSeconds;
        }
        if (!spec.restartPolicy) spec.restartPolicy = 'Always';
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `deploy-test-${o.metadata.name}`.slice(0, 63), namespace: NS, labels: t.metadata?.labels },
          spec,
        } as KubeObject;
        const r = await dryRunCreate(disco, pod);
        if (r.status >= 300) failures.push(`${idOf(o)}: HTTP ${r.status} ${r.body?.message}`);
      }
    }
    assert.deepEqual(failures, []);
    // And a pod that breaks the standard is refused there, so the check above means something.
    const bad = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'deploy-test-root', namespace: NS },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    } as KubeObject;
    const r = await dryRunCreate(disco, bad);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(r.body.message, /violates PodSecurity "restricted/);
  });

  describe('RBAC for real, in a namespace of its own', () => {
    let ns: string;
    const kcs: Record<string, k8s.KubeConfig> = {};
    let baseline: { resources: Set<string>; nonResource: Set<string> };

    before(async () => {
      ns = await cp.createNamespace('posture-rbac');
      cleanups.push(() => cp.kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name: ns }));
      const rbac = relocate(base, NS, ns).filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
      for (const o of rbac) {
        const r = await serverSideApply(disco, o, { dryRun: false });
        assert.ok(r.status < 300, `${idOf(o)}: ${JSON.stringify(r.body)}`);
      }
      // What any ServiceAccount may do without a Role of posture's: the cluster's defaults.
      baseline = await selfRules(await cp.asServiceAccount(ns, 'posture-deploy-baseline'), ns);
      for (const sa of Object.keys(INTENDED)) kcs[sa] = await cp.asServiceAccount(ns, sa);
    });

    test("SelfSubjectRulesReview: each ServiceAccount's rules are the intended set exactly, here and nowhere else", async () => {
      // The baseline is the stock self-review permissions and, since Kubernetes v1.37, reading
      // ClusterTrustBundles (public CA certificates, granted to every authenticated identity):
      // nothing that touches posture.
      for (const k of baseline.resources)
        assert.match(
          k,
          /^(?:(?:authorization|authentication)\.k8s\.io\/self\w+reviews:create|certificates\.k8s\.io\/clustertrustbundles:(?:get|list|watch))$/,
          `baseline ${k}`,
        );
      for (const [sa, intended] of Object.entries(INTENDED)) {
        const got = await selfRules(kcs[sa], ns);
        assert.equal(got.incomplete, false, sa);
        assert.deepEqual([...got.resources].sort(), [...new Set([...baseline.resources, ...intended])].sort(), sa);
        assert.deepEqual([...got.nonResource].sort(), [...baseline.nonResource].sort(), `${sa}: non-resource URLs`);
        // Nothing in any other namespace.
        const elsewhere = await selfRules(kcs[sa], 'default');
        assert.deepEqual([...elsewhere.resources].sort(), [...baseline.resources].sort(), `${sa} in default`);
      }
    });

    test("the auditor with its own token: exactly its ClusterRole's rules in every namespace, an audit that lists and writes a PolicyReport, 403 beyond", async () => {
      // Its ClusterRole and binding, under names of this run (cluster-wide objects), for a ServiceAccount in ns.
      const suffix = `-${ns}`;
      for (const o of relocate(base, NS, ns).filter((x) => ['ClusterRole', 'ClusterRoleBinding'].includes(x.kind) || x.kind === 'CustomResourceDefinition')) {
        if (o.kind !== 'CustomResourceDefinition') o.metadata.name += suffix;
        if (o.kind === 'ClusterRoleBinding') any(o).roleRef.name += suffix;
        const r = await serverSideApply(disco, o, { dryRun: false });
        assert.ok(r.status < 300, `${idOf(o)}: ${JSON.stringify(r.body)}`);
        if (o.kind !== 'CustomResourceDefinition')
          cleanups.push(() =>
            kubeRequest(
              cp.kc,
              'DELETE',
              `/apis/rbac.authorization.k8s.io/v1/${o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}/${o.metadata.name}`,
            ),
          );
      }
      const auditor = await cp.asServiceAccount(ns, 'posture-auditor');
      for (const where of [ns, 'default']) {
        const got = await selfRules(auditor, where);
        assert.deepEqual([...got.resources].sort(), [...new Set([...baseline.resources, ...AUDITOR_INTENDED])].sort(), `auditor in ${where}`);
      }
      // The CRD is established before the audit writes (discovery may lag a moment).
      const { kubeAuditApi } = await import('../../lib/audit/kube.ts');
      const { runAudit } = await import('../../lib/audit/run.ts');
      const { minimumScoreJudge } = await import('../../lib/audit/judge.ts');
      const apps = cp.kc.makeApiClient(k8s.AppsV1Api);
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'audited', annotations: { 'posture.dev/source-repo': 'github.com/posture-e2e/low' } },
          spec: {
            replicas: 0,
            selector: { matchLabels: { a: 'b' } },
            template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
          },
        },
      });
      const api = kubeAuditApi(auditor);
      const audit = () =>
        runAudit({
          api,
          scores: async () => new Map([['github.com/posture-e2e/low', { score: 1, date: '2026-12-01T00:00:00Z' }]]),
          judgeFor: (s) => minimumScoreJudge(s, 5),
          allowedHosts: ['github.com'],
          write: true,
        });
      let first: Awaited<ReturnType<typeof audit>> | undefined;
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          first = await audit();
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      assert.ok(first.findings.some((f) => f.workload.namespace === ns && f.result === 'fail'));
      const report = await kubeRequest(cp.kc, 'GET', `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${ns}/policyreports/posture-scorecard`);
      assert.equal(report.status, 200, JSON.stringify(report.body));
      assert.equal(report.body.summary.fail, 1);
      // Refused: reading a Secret, changing a workload, writing outside PolicyReports.
      for (const [what, method, path, body] of [
        ['get a Secret', 'GET', `/api/v1/namespaces/${ns}/secrets/x`, undefined],
        ['scale a Deployment', 'PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/audited`, { spec: { replicas: 1 } }],
        ['create a ConfigMap', 'POST', `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'x' } }],
        ['get a Deployment', 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/audited`, undefined],
      ] as const) {
        const r = await kubeRequest(auditor, method, path, body, method === 'PATCH' ? 'application/merge-patch+json' : undefined);
        assert.equal(r.status, 403, `${what}: ${r.status}`);
      }
    });

    test('every Kubernetes call of the scheduler and the harvester succeeds with its own token; others get 403', async () => {
      const config = loadConfig({ POSTURE_NAMESPACE: ns, POSTURE_GITHUB_TOKEN_COUNT: '0' });
      const repoOf = (s: string): RepoId => {
        const r = parseRepo(s);
        if (!r.ok) throw new Error(r.reason);
        return r.repo;
      };
      const due = new Date('2030-01-01T00:00:00Z');
      const jobA = buildScorecardJob({ repo: repoOf('posture-e2e/rbac-a'), dueWindow: due }, config);
      const jobB = buildScorecardJob({ repo: repoOf('posture-e2e/rbac-b'), dueWindow: due }, config);
      for (const j of [jobA, jobB]) cp.setPodLog({ namespace: ns, jobName: j.metadata!.name!, content: '{"hello":"log"}\n', exitCode: 0 });
      const scheduler = clusterApi(kcs['posture-scheduler']);
      const harvester = clusterApi(kcs['posture-harvester']);

      // The scheduler: create (and create again: 409 → get), get, list, pods, log, delete.
      assert.equal((await scheduler.createJob(ns, jobA)).created, true);
      assert.equal((await scheduler.createJob(ns, jobB)).created, true);
      assert.equal((await scheduler.createJob(ns, jobA)).created, false, 'a retried create reads the existing Job');
      assert.equal((await scheduler.getJob(ns, jobA.metadata!.name!))?.metadata?.uid !== undefined, true);
      assert.equal(await scheduler.getJob(ns, 'sc-does-not-exist'), undefined);
      assert.equal((await scheduler.listJobs(ns, POSTURE_JOB_SELECTOR)).length, 2);
      for (const j of [jobA, jobB]) await waitForJobFinished(cp.kc, ns, j.metadata!.name!, 60000);
      const readLog = async (api: typeof scheduler, job: typeof jobA) => {
        const pods = await api.listPods(ns, `batch.kubernetes.io/job-name=${job.metadata!.name}`);
        assert.equal(pods.length, 1);
        const s = await api.streamPodLog(ns, pods[0].metadata!.name!, SCORECARD_CONTAINER, 1 << 20);
        let text = '';
        for await (const c of s.chunks) text += c.toString();
        return text;
      };
      assert.equal(await readLog(scheduler, jobA), '{"hello":"log"}\n');
      // The harvester: pods, log, delete.
      assert.equal(await readLog(harvester, jobB), '{"hello":"log"}\n');
      const live = async (name: string) =>
        (await cp.kc.makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: ns })).items.some(
          (j) => j.metadata?.name === name && !j.metadata.deletionTimestamp,
        );
      const uidOf = async (name: string) => (await scheduler.getJob(ns, name))!.metadata!.uid!;
      await harvester.deleteJob(ns, jobB.metadata!.name!, await uidOf(jobB.metadata!.name!));
      assert.equal(await live(jobB.metadata!.name!), false);
      // And in batches: one delete collection of the named Jobs, nothing else.
      const jobD = buildScorecardJob({ repo: repoOf('posture-e2e/rbac-d'), dueWindow: due }, config);
      const jobE = buildScorecardJob({ repo: repoOf('posture-e2e/rbac-e'), dueWindow: due }, config);
      for (const j of [jobD, jobE]) {
        cp.setPodLog({ namespace: ns, jobName: j.metadata!.name!, hold: true });
        await scheduler.createJob(ns, j);
      }
      assert.equal(await harvester.deleteJobCollection(ns, batchSelector([jobD.metadata!.name!])), 1);
      assert.equal(await live(jobD.metadata!.name!), false);
      assert.equal(await live(jobE.metadata!.name!), true, 'a Job not named in the batch stays');
      await scheduler.deleteJob(ns, jobE.metadata!.name!, await uidOf(jobE.metadata!.name!));
      await scheduler.deleteJob(ns, jobA.metadata!.name!, await uidOf(jobA.metadata!.name!));
      assert.equal(await live(jobA.metadata!.name!), false);

      // Refused: each identity outside its Role.
      const jobC = buildScorecardJob({ repo: repoOf('posture-e2e/rbac-c'), dueWindow: due }, config);
      const forbidden = async (what: string, f: () => Promise<unknown>) => {
        await assert.rejects(
          f,
          (err: unknown) => {
            assert.ok(err instanceof KubeError, `${what}: ${err}`);
            assert.equal(err.status, 403, `${what}: ${err.message}`);
            return true;
          },
          what,
        );
      };
      await forbidden('harvester creates a Job', () => harvester.createJob(ns, jobC));
      await forbidden('harvester lists Jobs', () => harvester.listJobs(ns, POSTURE_JOB_SELECTOR));
      await forbidden('harvester reads a Job', () => harvester.getJob(ns, 'anything'));
      const events = clusterApi(kcs['posture-job-events']);
      await forbidden('job-events deletes a Job', () => events.deleteJob(ns, 'anything'));
      await forbidden('job-events deletes a collection of Jobs', () => events.deleteJobCollection(ns, batchSelector(['anything'])));
      await forbidden('the scheduler deletes a collection of Jobs', () => scheduler.deleteJobCollection(ns, batchSelector(['anything'])));
      await forbidden('job-events creates a Job', () => events.createJob(ns, jobC));
      await forbidden('job-events lists pods', () => events.listPods(ns, ''));
      for (const sa of ['posture-admission', 'posture-api']) {
        const api = clusterApi(kcs[sa]);
        await forbidden(`${sa} lists Jobs`, () => api.listJobs(ns, POSTURE_JOB_SELECTOR));
        await forbidden(`${sa} lists pods`, () => api.listPods(ns, ''));
      }
      await forbidden('scheduler lists Jobs in another namespace', () => scheduler.listJobs('default', POSTURE_JOB_SELECTOR));
      // No identity reads Secrets (the GitHub token goes to the Jobs' pods through the kubelet).
      for (const sa of Object.keys(INTENDED)) {
        const r = await kubeRequest(kcs[sa], 'GET', `/api/v1/namespaces/${ns}/secrets`);
        assert.equal(r.status, 403, `${sa} lists Secrets`);
      }
      // Nor updates or patches Jobs, nor creates pods.
      const r1 = await kubeRequest(kcs['posture-scheduler'], 'PATCH', `/apis/batch/v1/namespaces/${ns}/jobs/x`, {}, 'application/merge-patch+json');
      assert.equal(r1.status, 403);
      const r2 = await kubeRequest(kcs['posture-scheduler'], 'POST', `/api/v1/namespaces/${ns}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'x' },
        spec: { containers: [{ name: 'c', image: 'x' }] },
      });
      assert.equal(r2.status, 403);
      const r3 = await kubeRequest(kcs['posture-job-events'], 'GET', `/apis/batch/v1/namespaces/${ns}/jobs?watch=true&timeoutSeconds=1`);
      assert.equal(r3.status, 200, 'the ApiServerSource may watch Jobs');
    });

    describe('the pipeline with these identities', () => {
      let p: Pipeline;
      before(async () => {
        p = await startPipeline(
          cp,
          ns,
          {},
          { kubeConfigs: { scheduler: kcs['posture-scheduler'], harvester: kcs['posture-harvester'], relay: kcs['posture-job-events'] } },
        );
        cleanups.push(() => p.close());
        await cp.kc.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({
          namespace: ns,
          body: { metadata: { name: 'posture-github-tokens' }, stringData: { GITHUB_AUTH_TOKEN: 'not-a-real-token' } },
        });
      });

      test('ticks, harvests and the reconcile all run without a single refused call, and every repository is scored', async () => {
        const fixture = (n: string) => readFileSync(fixturePath(n), 'utf8');
        const docs = [FIXTURES.v4DateOnly, FIXTURES.v4Unsupported, FIXTURES.v4Rfc3339Details].map((f) => JSON.parse(fixture(f)));
        const repos = docs.map((d) => {
          const r = parseRepo(d.repo.name);
          if (!r.ok) throw new Error(r.reason);
          return r.repo;
        });
        const DUE = new Date('2026-01-01T00:00:00Z');
        await addRepos(
          p.database.db,
          repos.map((r) => ({ repo: r })),
        );
        await p.database.db('repos').update({ next_due_at: DUE });
        for (const [i, r] of repos.entries()) {
          cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: `stderr noise\n${JSON.stringify(docs[i])}\n`, exitCode: 0 });
        }
        // The last repository's completion event is lost: the scheduler's reconcile must harvest it.
        const lost = jobName(repos[2], DUE);
        p.setRelayFilter((e) => (e.data?.metadata?.name === lost ? [] : [e]));
        // A posture-labelled Job nobody recorded: the reconcile deletes it.
        const stranger = parseRepo('posture-e2e/never-added');
        assert.ok(stranger.ok);
        const intruder = buildScorecardJob({ repo: stranger.repo, dueWindow: DUE }, p.config);
        cp.setPodLog({ namespace: ns, jobName: intruder.metadata!.name!, hold: true });
        await cp.kc.makeApiClient(k8s.BatchV1Api).createNamespacedJob({ namespace: ns, body: intruder });

        const t0 = new Date();
        const tick1 = await p.ping(t0);
        assert.equal(tick1.status, 200, JSON.stringify(tick1.body));
        assert.deepEqual(tick1.body.errors, []);
        assert.equal(tick1.body.created, 3);
        assert.equal(tick1.body.reconciled.removed, 1);

        const db = p.database.db;
        const harvested = async () => Number(((await db('runs').whereNot({ outcome: 'pending' }).count('* as n').first()) as any).n);
        const deadline = Date.now() + 90000;
        while ((await harvested()) < 2) {
          if (Date.now() > deadline) throw new Error(`harvester did not store 2 runs; calls: ${JSON.stringify(p.kubeCalls)}\n${cp.diagnostics(5)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        await waitForJobFinished(cp.kc, ns, lost, 60000);
        const tick2 = await p.ping(new Date(t0.getTime() + 60000));
        assert.equal(tick2.status, 200, JSON.stringify(tick2.body));
        assert.deepEqual(tick2.body.errors, []);
        assert.equal(tick2.body.reconciled.harvested, 1, JSON.stringify(tick2.body));
        assert.equal(await harvested(), 3);
        for (const [i, r] of repos.entries()) assert.equal((await latestScore(db, r.key))?.score, docs[i].score, r.canonical);

        // Not one call refused, and each function exercised the calls its Role exists for.
        const refused = p.kubeCalls.filter((c) => c.outcome !== 'ok');
        assert.deepEqual(refused, []);
        const used = (fn: string) => [...new Set(p.kubeCalls.filter((c) => c.fn === fn).map((c) => c.call))].sort();
        assert.deepEqual(used('scheduler'), ['createJob', 'deleteJob', 'listJobMetadataPage', 'listJobs', 'listPods', 'streamPodLog']);
        // The harvester deletes what it harvested in batches, after answering: wait for the batch.
        for (const until = Date.now() + 10000; !used('harvester').includes('deleteJobCollection') && Date.now() < until; )
          await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(used('harvester'), ['deleteJobCollection', 'listPods', 'streamPodLog']);
        assert.ok(p.relay.stats.sent > 0, 'the relay watched Jobs as posture-job-events');
        assert.equal(p.relay.stats.dropped, 0);
        assert.equal(
          (await cp.kc.makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: ns })).items.filter(
            (j) => j.metadata?.name === intruder.metadata!.name && !j.metadata?.deletionTimestamp,
          ).length,
          0,
        );
      });

      test("the CronJob overlay's exact curl script posts a ping the scheduler accepts for the current minute", async () => {
        const cj = any(find(overlay, 'CronJob', 'posture-tick'));
        const c = cj.spec.jobTemplate.spec.template.spec.containers[0];
        assert.deepEqual(c.command, ['/bin/sh', '-c']);
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
        const before = cronSlot(new Date());
        const { stdout } = await promisify(execFile)('/bin/sh', ['-c', c.args[0]], {
          env: { PATH: process.env.PATH, ...env, SCHEDULER_URL: p.schedulerUrl },
          timeout: 60000,
        });
        const after = cronSlot(new Date());
        const summary = JSON.parse(stdout);
        assert.ok([before, after].includes(summary.slot), `slot ${summary.slot}`);
        assert.ok(['done', 'backed-off', 'duplicate'].includes(summary.status), summary.status);
        // A malformed event is answered 400, and curl fails (not retried).
        const broken = c.args[0].replace('ce-type: dev.knative.sources.ping', 'ce-type: something.else');
        await assert.rejects(
          promisify(execFile)('/bin/sh', ['-c', broken], { env: { PATH: process.env.PATH, ...env, SCHEDULER_URL: p.schedulerUrl }, timeout: 60000 }),
          /400/,
        );
      });
    });
  });
});
