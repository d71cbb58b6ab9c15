// On the local control plane: Jobs created per second by one tick (beside raw client-node
// creates of the same Jobs, the floor), and whole-pipeline throughput with instant Jobs:
// tick → Jobs → pods complete → relay events → harvester → stored scores.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { defaultConfig } from '../lib/config/index.ts';
import { addRepos, migrate } from '../lib/db/index.ts';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { clusterApi } from '../lib/kube/cluster.ts';
import { silentLogger } from '../lib/log/index.ts';
import { buildScorecardJob, jobName } from '../lib/jobs/spec.ts';
import { parseRepo, type RepoId } from '../lib/repo/identity.ts';
import { runTick } from '../lib/scheduler/tick.ts';
import { getSharedControlPlane } from '../test/cluster/harness.ts';
import { startPipeline } from '../test/e2e/pipeline-kit.ts';
import { median } from './_util.ts';
import { FIXTURES, fixturePath } from '../test/fixtures/scorecard.ts';

const N = Number(process.env.BENCH_PIPELINE_REPOS ?? 200);
const ROUNDS = Number(process.env.BENCH_PIPELINE_ROUNDS ?? 3);
const DUE = new Date('2026-01-01T00:00:00Z');
const fixture = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;

const cp = await getSharedControlPlane({ log: () => {} });
const core = cp.kc.makeApiClient(k8s.CoreV1Api);
const batch = cp.kc.makeApiClient(k8s.BatchV1Api);

/** Deletes a namespace and waits until it is gone, so its clean-up does not slow the next measurement. */
async function deleteAndWait(ns: string): Promise<void> {
  await core.deleteNamespace({ name: ns });
  for (const deadline = Date.now() + 120000; Date.now() < deadline; ) {
    try {
      await core.readNamespace({ name: ns });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The scheduler's Jobs, created straight with client-node, 8 in flight: no posture code on the path. */
async function createRaw(ns: string, repos: RepoId[]): Promise<void> {
  const queue = [...repos];
  const config = { namespace: ns, scorecardImage: 'ghcr.io/ossf/scorecard:v5.3.0', scorecardChecks: [], githubTokenSecret: 's', githubTokenSecretKey: 'k', jobDeadlineSeconds: 600, jobTtlSeconds: 600 };
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      await batch.createNamespacedJob({ namespace: ns, body: buildScorecardJob({ repo: r, dueWindow: DUE }, config) });
    }
  }));
}

async function rawCreates(): Promise<number> {
  const ns = await cp.createNamespace('bench-raw');
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/raw-${i}`));
  repos.forEach((r) => cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: '', hold: true }));
  const t = performance.now();
  await createRaw(ns, repos);
  const rate = N / ((performance.now() - t) / 1000);
  await deleteAndWait(ns);
  return rate;
}

/** The floor: the same Jobs created straight with client-node, until all are Complete (no posture code). */
async function rawComplete(): Promise<number> {
  const ns = await cp.createNamespace('bench-floor');
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/floor-${i}`));
  repos.forEach((r) => cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: '{}\n' }));
  const t = performance.now();
  await createRaw(ns, repos);
  for (;;) {
    const jobs = (await batch.listNamespacedJob({ namespace: ns })).items;
    if (jobs.filter((j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')).length >= N) break;
    if (performance.now() - t > 300000) throw new Error('floor: Jobs not complete after 300 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = N / ((performance.now() - t) / 1000);
  await deleteAndWait(ns);
  return rate;
}

async function tickCreates(): Promise<number> {
  // The tick alone (no relay or harvester in this process), like the raw creates above.
  const ns = await cp.createNamespace('bench-tick');
  const database = await createPostgresDatabase();
  await migrate(database.db);
  const config = defaultConfig({ namespace: ns, githubTokenCount: 0, maxConcurrentJobs: N, claimBatch: N });
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/tick-${i}`));
  await addRepos(database.db, repos.map((r) => ({ repo: r })));
  await database.db('repos').update({ next_due_at: DUE });
  repos.forEach((r) => cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: '', hold: true }));
  const t = performance.now();
  const s = await runTick('2026-11-23T10:00Z', { db: database.db, cluster: clusterApi(cp.kc), config, log: silentLogger });
  const rate = s.created / ((performance.now() - t) / 1000);
  if (s.created !== N) throw new Error(`created ${s.created}: ${JSON.stringify(s.errors.slice(0, 3))}`);
  await database.drop();
  await deleteAndWait(ns);
  return rate;
}

async function pipeline(): Promise<{ rate: number; created: number; completed: number; harvested: number; cpuMsPerRepo: number }> {
  const ns = await cp.createNamespace('bench-pipe');
  // The scheduler and the harvester are separate processes in a cluster: each its own
  // connections and rate limit (posture's defaults), as here with a kubeconfig object each.
  const own = () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    return kc;
  };
  const p = await startPipeline(cp, ns, { maxConcurrentJobs: N, claimBatch: N }, { kubeConfigs: { scheduler: own(), harvester: own() } });
  const repos = Array.from({ length: N }, (_, i) => repo(`bench/pipe-${i}`));
  await addRepos(p.database.db, repos.map((r) => ({ repo: r })));
  await p.database.db('repos').update({ next_due_at: DUE });
  repos.forEach((r) => cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: JSON.stringify({ ...fixture, repo: { ...fixture.repo, name: r.canonical } }) + '\n' }));
  // posture's CPU: this process runs the scheduler, the harvester and the event relay, and
  // nothing else while it is measured (the wait below polls the database only, every 50 ms).
  const cpu0 = process.cpuUsage();
  const wall0 = Date.now();
  const t0 = performance.now();
  const tick = await p.ping(new Date());
  const tCreated = performance.now();
  if (tick.body.created !== N) throw new Error(`created ${tick.body.created}`);
  for (;;) {
    const done = Number(((await p.database.db('runs').whereNot({ outcome: 'pending' }).count('* as n').first()) as { n: number }).n);
    if (done >= N) break;
    if (performance.now() - t0 > 300000) throw new Error(`only ${done} harvested after 300 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const tEnd = performance.now();
  const cpu = process.cpuUsage(cpu0);
  // When the last Job completed, from the Jobs' own Complete times (whole seconds) stored with their runs.
  const last = (await p.database.db('runs').max('finished_at as t').first()) as { t: Date };
  await p.close();
  await deleteAndWait(ns);
  return {
    rate: N / ((tEnd - t0) / 1000),
    created: (tCreated - t0) / 1000,
    completed: Math.min((tEnd - t0) / 1000, (new Date(last.t).getTime() - wall0) / 1000),
    harvested: (tEnd - t0) / 1000,
    cpuMsPerRepo: (cpu.user + cpu.system) / 1000 / N,
  };
}

const raw: number[] = [];
const floor: number[] = [];
const tick: number[] = [];
const pipe: Array<Awaited<ReturnType<typeof pipeline>>> = [];
for (let i = 0; i < ROUNDS; i++) {
  raw.push(await rawCreates());
  floor.push(await rawComplete());
  tick.push(await tickCreates());
  pipe.push(await pipeline());
}
console.log(`Jobs created per second, ${N} Jobs, median of ${ROUNDS}: tick ${median(tick).toFixed(0)}/s; raw client-node creates (8 in flight) ${median(raw).toFixed(0)}/s; ratio ${(median(tick) / median(raw)).toFixed(2)}`);
console.log(`pipeline with instant Jobs, ${N} repos, median of ${ROUNDS}: ${median(pipe.map((p) => p.rate)).toFixed(1)} repos/s; the control plane alone (create to Complete, no posture code): ${median(floor).toFixed(1)} Jobs/s; ratio ${(median(pipe.map((p) => p.rate)) / median(floor)).toFixed(2)}`);
console.log(`  where the time goes (median s from the ping): all created ${median(pipe.map((p) => p.created)).toFixed(2)}, all Complete ${median(pipe.map((p) => p.completed)).toFixed(2)} (whole seconds), all harvested ${median(pipe.map((p) => p.harvested)).toFixed(2)}`);
console.log(`posture's CPU per scored repository (scheduler, harvester and relay in this process), median of ${ROUNDS}: ${median(pipe.map((p) => p.cpuMsPerRepo)).toFixed(2)} ms`);
await cp.stop();
