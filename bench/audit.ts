// The audit of running workloads at scale, on the local control plane (kwok: pods are "running"
// without a kubelet). N workloads (default 10,000) in M namespaces (default 100), mostly
// Deployments with no replicas, plus StatefulSets, CronJobs, bare Pods and Deployment-owned
// ReplicaSets (listed, not judged), each declaring one of the demo repositories `posture demo`
// seeds in PostgreSQL (database posture_bench_audit; about a third of them below the bar). Then:
//   run 1: the audit as the auditor runs it (kubeAuditApi, latestScoresOf, writes the reports);
//   run 2: the same with nothing changed: must write nothing;
//   run 3: one repository's score drops: only the namespaces holding its workloads are written.
// For each: wall time, API calls, report writes, peak RSS and heap of this process during the
// audit (sampled every 20 ms), and the PolicyReports' sizes. Honours POSTURE_CLUSTER_DIR.
//
//   node bench/audit.ts [--workloads 10000] [--namespaces 100] [--repos 1000] [--concurrency 24]
import * as k8s from '@kubernetes/client-node';
import { storeDocument } from '../lib/api/testing.ts';
import { minimumScoreJudge } from '../lib/audit/judge.ts';
import { kubeAuditApi } from '../lib/audit/kube.ts';
import { runAudit } from '../lib/audit/run.ts';
import { latestScoresOf } from '../lib/db/scores.ts';
import { demoRepoName, demoResult, seedDemo } from '../lib/demo/seed.ts';
import { benchDatabase } from './_database.ts';
import { arg } from './_util.ts';

const WORKLOADS = Number(arg('workloads', '10000'));
const NAMESPACES = Number(arg('namespaces', '100'));
const REPOS = Number(arg('repos', '1000'));
const CONCURRENCY = Number(arg('concurrency', '24'));
const ANN = 'posture.dev/source-repo';
const PREFIX = 'bench-audit-';

const mib = (b: number) => (b / 1048576).toFixed(1);

async function main(): Promise<void> {
  const { getSharedControlPlane } = await import('../test/cluster/harness.ts');
  const cp = await getSharedControlPlane();
  const kc = cp.kc;
  const { db, reused } = await benchDatabase('posture_bench_audit', async (c) => Number((await c.query('SELECT count(*) FROM repos')).rows[0].count) >= REPOS);
  if (!reused) {
    const t = Date.now();
    await seedDemo(db, { repos: REPOS, history: 2 });
    console.log(`seeded ${REPOS} demo repositories in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const repos = Array.from({ length: REPOS }, (_, i) => demoRepoName(i));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const ignore409 = (e: unknown) => {
    if ((e as { code?: number }).code !== 409) throw e;
  };

  // The cluster: created once, reused by later runs (409 = already there).
  const t0 = Date.now();
  for (let n = 0; n < NAMESPACES; n++) await core.createNamespace({ body: { metadata: { name: `${PREFIX}${n}` } } }).catch(ignore409);
  const labels = { app: 'w' };
  const template = (repo: string) => ({ metadata: { labels, annotations: { [ANN]: repo } }, spec: { containers: [{ name: 'c', image: 'example/app:1' }] } });
  const create = async (i: number) => {
    const namespace = `${PREFIX}${i % NAMESPACES}`;
    const name = `w-${i}`;
    const repo = repos[i % REPOS];
    const k = i % 20;
    if (k === 0)
      await core
        .createNamespacedPod({ namespace, body: { metadata: { name, annotations: { [ANN]: repo } }, spec: { containers: [{ name: 'c', image: 'x' }] } } })
        .catch(ignore409);
    else if (k === 1)
      await batch
        .createNamespacedCronJob({
          namespace,
          body: {
            metadata: { name },
            spec: {
              schedule: '@yearly',
              suspend: true,
              jobTemplate: { spec: { template: { ...template(repo), spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } },
            },
          },
        })
        .catch(ignore409);
    else if (k === 2)
      await apps
        .createNamespacedStatefulSet({
          namespace,
          body: {
            metadata: { name, annotations: { [ANN]: repo } },
            spec: { replicas: 0, serviceName: name, selector: { matchLabels: labels }, template: template(repo) },
          },
        })
        .catch(ignore409);
    else
      await apps
        .createNamespacedDeployment({
          namespace,
          body: { metadata: { name, annotations: { [ANN]: repo } }, spec: { replicas: 0, selector: { matchLabels: labels }, template: template(repo) } },
        })
        .catch(ignore409);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < WORKLOADS) await create(next++);
    }),
  );
  console.log(`${WORKLOADS} workloads in ${NAMESPACES} namespaces ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (created now or reused)`);

  const scores = (keys: readonly string[]) => latestScoresOf(db, keys);
  const run = async (label: string) => {
    const api = kubeAuditApi(kc, { qps: 200, burst: 400 });
    global.gc?.();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakHeap = base.heapUsed;
    const timer = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 20);
    const t = performance.now();
    const o = await runAudit({ api, scores, judgeFor: (s) => minimumScoreJudge(s, 5), allowedHosts: ['github.com'], write: true });
    const ms = performance.now() - t;
    clearInterval(timer);
    const writes = o.reports.created + o.reports.replaced + o.reports.deleted;
    console.log(
      `${label}: ${(ms / 1000).toFixed(2)} s; listed ${o.listed}, judged ${o.workloads} (fail ${o.summary.fail}, warn ${o.summary.warn}, pass ${o.summary.pass}); ` +
        `API calls ${o.apiCalls} (writes ${writes}: created ${o.reports.created}, replaced ${o.reports.replaced}, deleted ${o.reports.deleted}, unchanged ${o.reports.unchanged}); ` +
        `peak RSS ${mib(peakRss)} MiB (+${mib(peakRss - base.rss)}), peak heap ${mib(peakHeap)} MiB (+${mib(peakHeap - base.heapUsed)}); ` +
        `reports: ${o.reports.namespaces}, largest ${(o.reports.largestBytes / 1024).toFixed(1)} KiB, all ${(o.reports.totalBytes / 1024).toFixed(0)} KiB`,
    );
    return o;
  };
  // Earlier runs of the bench may have left reports: the first run writes what differs.
  await run('run 1 (first audit)');
  const second = await run('run 2 (nothing changed)');
  if (second.reports.created + second.reports.replaced + second.reports.deleted !== 0) throw new Error('run 2 wrote reports although nothing changed');
  // One repository drops below the bar: a new result, stored now.
  const dropped = repos[3];
  const before = await latestScoresOf(db, [dropped]);
  const doc = demoResult(dropped, new Date(), 0, () => 0, `${Date.now().toString(16)}`.padEnd(40, '0'));
  const stored = await storeDocument(db, doc);
  if (stored.status !== 'stored') throw new Error(`storing the drop: ${JSON.stringify(stored)}`);
  console.log(`${dropped}: ${before.get(dropped)?.score} → ${(doc as { score: number }).score}`);
  await run('run 3 (one repository dropped)');
  await db.destroy();
  await cp.stop();
}

await main();
process.exit(0);
