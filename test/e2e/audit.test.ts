// The audit on the real API server: workloads of every audited kind in two namespaces, each
// declaring a repository with a known latest score; `posture audit` lists the ones below the bar,
// `--write` writes one PolicyReport per namespace (accepted by the Policy WG's CRD, installed from
// knative/base), and a second audit with nothing changed writes nothing (counted on the API
// server's side too: the reports' resourceVersions stay). A score that drops rewrites only its
// namespace's report.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { storeDocument } from '../../lib/api/testing.ts';
import { auditCluster } from '../../lib/audit/index.ts';
import { withSharedDatabase } from '../../lib/cli/context.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { type Db, migrate } from '../../lib/db/index.ts';
import { createPgliteDatabase } from '../../lib/db/testing.ts';
import { demoResult } from '../../lib/demo/seed.ts';
import { type ControlPlane, getSharedControlPlane } from '../cluster/harness.ts';
import { call } from './api-call.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ANN = 'posture.dev/source-repo';
let cp: ControlPlane;
let admin: k8s.KubeConfig;
let db: Db;
let drop: () => Promise<void>;
const namespaces: string[] = [];
const config = defaultConfig({ gateThreshold: 5 });

/** A stored result for `repo` with score about `level` (a demo document: real Scorecard shape). */
async function score(repo: string, level: number, commit: string): Promise<number> {
  const doc = demoResult(repo, new Date(), level, () => 0.5, commit.padEnd(40, '0')) as { score: number };
  const r = await storeDocument(db, doc);
  assert.equal(r.status, 'stored');
  return doc.score;
}

before(async () => {
  cp = await getSharedControlPlane();
  admin = cp.kc;
  ({ db, drop } = await createPgliteDatabase());
  await migrate(db);
  // The CRD as knative/base ships it (idempotent: another test may have installed it).
  const crd = parseAllDocuments(readFileSync(join(ROOT, 'knative/base/policyreport-crd.yaml'), 'utf8'))
    .map((d) => d.toJS())
    .find((d) => d?.kind === 'CustomResourceDefinition');
  const r = await call(
    admin,
    'PATCH',
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=posture-e2e&force=true`,
    crd,
    'application/apply-patch+yaml',
  );
  assert.ok(r.status < 300, JSON.stringify(r.body));
  for (let i = 0; ; i++) {
    const got = await call(admin, 'GET', '/apis/wgpolicyk8s.io/v1alpha2/policyreports?limit=1');
    if (got.status === 200) break;
    if (i > 100) throw new Error(`the PolicyReport API is not served: ${got.status}`);
    await new Promise((res) => setTimeout(res, 200));
  }
});

after(async () => {
  for (const ns of namespaces) await call(admin, 'DELETE', `/api/v1/namespaces/${ns}`);
  await drop?.();
  await cp?.stop();
});

test('posture audit: what runs below the bar, one PolicyReport per namespace, nothing written when nothing changed', async () => {
  const low = `github.com/audit-e2e-${process.pid}/low`;
  const good = `github.com/audit-e2e-${process.pid}/good`;
  assert.ok((await score(low, 1, 'a1')) < 5);
  assert.ok((await score(good, 9, 'b1')) >= 5);
  const a = await cp.createNamespace('audit-a');
  const b = await cp.createNamespace('audit-b');
  namespaces.push(a, b);
  const labels = { app: 'x' };
  const tpl = (repo?: string) => ({
    metadata: { labels, ...(repo ? { annotations: { [ANN]: repo } } : {}) },
    spec: { containers: [{ name: 'c', image: 'x' }] },
  });
  const post = async (path: string, body: unknown) => {
    const r = await call(admin, 'POST', path, body);
    assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.body)}`);
  };
  // a: a Deployment declaring low (its ReplicaSet, owned, is listed and not judged), a bare Pod
  // declaring low on itself, a CronJob declaring good on its Job template, a Deployment declaring nothing.
  await post(`/apis/apps/v1/namespaces/${a}/deployments`, {
    metadata: { name: 'web', annotations: { [ANN]: low } },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: tpl(low) },
  });
  await post(`/api/v1/namespaces/${a}/pods`, { metadata: { name: 'bare', annotations: { [ANN]: low } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
  await post(`/apis/batch/v1/namespaces/${a}/cronjobs`, {
    metadata: { name: 'nightly' },
    spec: {
      schedule: '@yearly',
      suspend: true,
      jobTemplate: {
        metadata: { annotations: { [ANN]: good } },
        spec: { template: { ...tpl(), spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } },
      },
    },
  });
  await post(`/apis/apps/v1/namespaces/${a}/deployments`, {
    metadata: { name: 'plain' },
    spec: { replicas: 0, selector: { matchLabels: labels }, template: tpl() },
  });
  // b: a StatefulSet declaring good on its pod template.
  await post(`/apis/apps/v1/namespaces/${b}/statefulsets`, {
    metadata: { name: 'db' },
    spec: { replicas: 0, serviceName: 'db', selector: { matchLabels: labels }, template: tpl(good) },
  });
  // A ReplicaSet the Deployment owns (this plane runs no deployment controller: made here), and a
  // Job a CronJob owns: listed, never judged themselves.
  const web = (await call(admin, 'GET', `/apis/apps/v1/namespaces/${a}/deployments/web`)).body;
  await post(`/apis/apps/v1/namespaces/${a}/replicasets`, {
    metadata: {
      name: 'web-1',
      annotations: { [ANN]: low },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: web.metadata.uid }],
    },
    spec: { replicas: 0, selector: { matchLabels: labels }, template: tpl(low) },
  });
  const nightly = (await call(admin, 'GET', `/apis/batch/v1/namespaces/${a}/cronjobs/nightly`)).body;
  await post(`/apis/batch/v1/namespaces/${a}/jobs`, {
    metadata: {
      name: 'nightly-1',
      annotations: { [ANN]: low },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: nightly.metadata.uid }],
    },
    spec: { suspend: true, template: { ...tpl(low), spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } },
  });

  const env = { KUBECONFIG: cp.kubeconfigPath };
  const shared = { config, db };
  const printed = await withSharedDatabase(shared, () => runCliCaptured(['audit', '-o', 'json'], env));
  assert.equal(printed.code, 2, printed.stderr);
  const out = JSON.parse(printed.stdout);
  const mine = out.findings.filter((f: any) => namespaces.includes(f.namespace));
  assert.deepEqual(mine.map((f: any) => `${f.namespace === a ? 'a' : 'b'}/${f.kind}/${f.name}/${f.result}`).sort(), [
    'a/Deployment/web/fail',
    'a/Pod/bare/fail',
  ]);
  assert.equal(out.written, false);
  const table = await withSharedDatabase(shared, () => runCliCaptured(['audit', '--all'], env));
  assert.match(table.stdout, /NAMESPACE\s+KIND\s+NAME\s+REPOSITORY\s+SCORE\s+RESULT/);
  assert.match(table.stdout, new RegExp(`${b}\\s+StatefulSet\\s+db\\s+${good.replace(/\//g, '\\/')}`));

  // --write: the reports.
  const written = await withSharedDatabase(shared, () => runCliCaptured(['audit', '--write', '-o', 'json'], env));
  assert.equal(written.code, 2, written.stderr);
  const reportOf = async (ns: string) => (await call(admin, 'GET', `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${ns}/policyreports/posture-scorecard`)).body;
  const ra = await reportOf(a);
  const rb = await reportOf(b);
  assert.deepEqual(ra.summary, { pass: 1, fail: 2, warn: 0, error: 0, skip: 0 });
  assert.deepEqual(ra.results.map((r: any) => `${r.resources[0].kind}/${r.resources[0].name}`).sort(), ['Deployment/web', 'Pod/bare']);
  assert.deepEqual(rb.summary, { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 });
  assert.deepEqual(rb.results, []);

  // Nothing changed: nothing written (the stored reports keep their resourceVersions).
  const again = await auditCluster({ config, db, kc: admin, write: true });
  // This test's namespaces only: on the shared control plane other files' workloads come and go.
  const nsOf = (x: (typeof again.actions)[number]) => (x.action === 'delete' ? x.namespace : x.report.metadata.namespace);
  assert.deepEqual(
    again.actions.filter((x) => namespaces.includes(nsOf(x))),
    [],
  );
  assert.equal((await reportOf(a)).metadata.resourceVersion, ra.metadata.resourceVersion);
  assert.equal((await reportOf(b)).metadata.resourceVersion, rb.metadata.resourceVersion);

  // good drops below the bar: only the namespaces holding its workloads change.
  await score(good, 0, 'b2');
  const third = await auditCluster({ config, db, kc: admin, write: true });
  const touched = third.actions.map(nsOf).filter((ns) => namespaces.includes(ns));
  assert.deepEqual(touched.sort(), [a, b].sort());
  assert.equal((await reportOf(b)).summary.fail, 1);
  // The namespace's workloads go: its report goes too.
  await call(admin, 'DELETE', `/apis/apps/v1/namespaces/${b}/statefulsets/db`);
  const fourth = await auditCluster({ config, db, kc: admin, write: true });
  assert.ok(fourth.actions.some((x) => x.action === 'delete' && x.namespace === b));
  assert.equal((await call(admin, 'GET', `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${b}/policyreports/posture-scorecard`)).status, 404);
});
