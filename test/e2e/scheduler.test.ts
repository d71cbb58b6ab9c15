// The scheduler against the real local control plane: the exact Job spec as stored by the API
// server, the concurrency cap with Jobs still running, concurrent and repeated ticks, a crash
// between claim and create, and an API server that refuses (403, real RBAC) or fails (500).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type Config, defaultConfig } from '../../lib/config/index.ts';
import { addRepos, type Db, getRepo, migrate } from '../../lib/db/index.ts';
import { createPostgresDatabase, type TestDatabase } from '../../lib/db/testing.ts';
import { buildScorecardJob, jobName, POSTURE_JOB_SELECTOR } from '../../lib/jobs/spec.ts';
import { clusterApi } from '../../lib/kube/cluster.ts';
import { silentLogger } from '../../lib/log/index.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { databaseClock } from '../../lib/scheduler/clock.ts';
import { runTick, type TickDeps } from '../../lib/scheduler/tick.ts';
import { useControlPlane } from './plane.ts';

const plane = useControlPlane();
const pushCleanups = (...fs: Array<() => Promise<unknown>>) => {
  for (const f of fs) plane.cleanup(f);
};

const DUE = new Date('2026-01-01T00:00:00Z');
/** client-node returns model class instances; compare their plain JSON. */
const plain = (x: unknown) => JSON.parse(JSON.stringify(x ?? null));
const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;

async function env(prefix: string, overrides: Partial<Config> = {}, kc = plane.cp.kc) {
  const namespace = await plane.cp.createNamespace(prefix);
  const database: TestDatabase = await createPostgresDatabase();
  await migrate(database.db);
  const core = plane.cp.kc.makeApiClient(k8s.CoreV1Api);
  pushCleanups(
    () => database.drop(),
    () => core.deleteNamespace({ name: namespace }),
  );
  // One repository per Job: these tests count Jobs per repository (shards: lib/harvest/shard.db.test.ts, the fault e2e).
  const config = defaultConfig({ namespace, githubTokenCount: 0, maxConcurrentJobs: 10, retryBaseMs: 0, shardSize: 1, ...overrides } as Partial<Config>);
  const deps: TickDeps = { db: database.db, cluster: clusterApi(kc), config, log: silentLogger, now: await databaseClock(database.db), retryBaseMs: 1 };
  return { namespace, db: database.db, url: database.url!, config, deps };
}

async function seed(db: Db, names: string[]) {
  await addRepos(
    db,
    names.map((n) => ({ repo: repo(n) })),
  );
  await db('repos').update({ next_due_at: DUE });
}

async function postureJobs(namespace: string) {
  const batch = plane.cp.kc.makeApiClient(k8s.BatchV1Api);
  return (await batch.listNamespacedJob({ namespace, labelSelector: POSTURE_JOB_SELECTOR })).items;
}

test('a tick creates exactly the expected Jobs, field by field as the API server stored them', async () => {
  const e = await env('sched-spec', { scorecardChecks: ['Binary-Artifacts'] });
  const names = ['ossf/scorecard', 'kubernetes/kubernetes', 'Posture-E2E/Mixed.Case_repo'];
  await seed(e.db, names);
  for (const n of names) plane.cp.setPodLog({ namespace: e.namespace, jobName: jobName(repo(n), DUE), content: '', hold: true });
  const s = await runTick('2026-11-23T10:00Z', e.deps);
  assert.equal(s.created, 3, JSON.stringify(s));
  const jobs = await postureJobs(e.namespace);
  assert.deepEqual(jobs.map((j) => j.metadata!.name).sort(), names.map((n) => jobName(repo(n), DUE)).sort());
  for (const n of names) {
    const want = buildScorecardJob({ repo: repo(n), dueWindow: DUE, tickSlot: '2026-11-23T10:00Z' }, e.config);
    const got = jobs.find((j) => j.metadata!.name === want.metadata!.name)!;
    assert.deepEqual(plain(got.metadata!.labels), plain(want.metadata!.labels));
    assert.deepEqual(plain(got.metadata!.annotations), plain(want.metadata!.annotations));
    const [gs, ws] = [got.spec!, want.spec!];
    assert.equal(gs.backoffLimit, 0);
    assert.equal(gs.activeDeadlineSeconds, ws.activeDeadlineSeconds);
    assert.equal(gs.ttlSecondsAfterFinished, ws.ttlSecondsAfterFinished);
    const [gp, wp] = [gs.template.spec!, ws.template.spec!];
    assert.equal(gp.activeDeadlineSeconds, wp.activeDeadlineSeconds);
    assert.equal(gp.restartPolicy, 'Never');
    assert.equal(gp.automountServiceAccountToken, false);
    assert.equal(gp.enableServiceLinks, false);
    assert.deepEqual(plain(gp.securityContext), plain(wp.securityContext));
    assert.deepEqual(
      gp.volumes?.map((v) => [v.name, v.emptyDir?.sizeLimit]),
      [['tmp', '4Gi']],
    );
    const [gc, wc] = [gp.containers[0], wp.containers[0]];
    assert.equal(gc.name, 'scorecard');
    assert.equal(gc.image, 'ghcr.io/ossf/scorecard:v5.5.0');
    assert.deepEqual(gc.args, [`--repo=${repo(n).canonical}`, '--format=json', '--show-details', '--checks=Binary-Artifacts']);
    assert.deepEqual(plain(gc.env), plain(wc.env));
    assert.deepEqual(plain(gc.securityContext), plain(wc.securityContext));
    assert.deepEqual(plain(gc.resources), plain(wc.resources));
    assert.deepEqual(plain(gc.volumeMounts), plain([{ name: 'tmp', mountPath: '/tmp' }]));
    assert.deepEqual(gs.template.metadata?.labels?.['app.kubernetes.io/managed-by'], 'posture');
  }
  // Pods really were created from it (the API server and job controller accepted the spec).
  const core = plane.cp.kc.makeApiClient(k8s.CoreV1Api);
  const deadline = Date.now() + 30000;
  while ((await core.listNamespacedPod({ namespace: e.namespace })).items.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await core.listNamespacedPod({ namespace: e.namespace })).items.length, 3);
});

test('the cap holds with Jobs still running; a repeated slot creates nothing; concurrent ticks create no duplicate', async () => {
  const e = await env('sched-cap', { maxConcurrentJobs: 4 });
  const names = Array.from({ length: 12 }, (_, i) => `posture-e2e/cap-${i}`);
  await seed(e.db, names);
  for (const n of names) plane.cp.setPodLog({ namespace: e.namespace, jobName: jobName(repo(n), DUE), content: '', hold: true });
  const [a, b] = await Promise.all([runTick('2026-11-23T10:00Z', e.deps), runTick('2026-11-23T10:01Z', e.deps)]);
  assert.equal(a.created + b.created, 4, `${JSON.stringify(a)} ${JSON.stringify(b)}`);
  assert.equal((await postureJobs(e.namespace)).length, 4);
  const again = await runTick('2026-11-23T10:00Z', e.deps);
  assert.equal(again.status, 'duplicate');
  const same = await Promise.all([runTick('2026-11-23T10:02Z', e.deps), runTick('2026-11-23T10:02Z', e.deps)]);
  assert.equal(
    same.reduce((n, s) => n + s.created, 0),
    0,
    'cap reached: nothing more',
  );
  const jobs = await postureJobs(e.namespace);
  assert.equal(jobs.length, 4, 'never more than maxConcurrentJobs active');
  assert.equal(new Set(jobs.map((j) => j.metadata!.annotations!['posture.dev/repo'])).size, 4, 'no repository has two Jobs');
  const leased = await e.db('repos').whereNotNull('lease_owner');
  assert.equal(leased.length, 4);
});

test('a process killed between claim and create strands nothing once its lease ends', async () => {
  const e = await env('sched-crash', { leaseSeconds: 5, jobDeadlineSeconds: 3 });
  await seed(e.db, ['posture-e2e/crash']);
  plane.cp.setPodLog({ namespace: e.namespace, jobName: jobName(repo('posture-e2e/crash'), new Date(0)), content: '' });
  // A "Kubernetes API" that accepts connections and never answers: the create hangs.
  const sockets: import('node:net').Socket[] = [];
  const blackhole = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  pushCleanups(async () => {
    for (const s of sockets) s.destroy();
    blackhole.close();
  });
  const server = `https://127.0.0.1:${(blackhole.address() as { port: number }).port}`;
  const child = spawn(process.execPath, [new URL('./crash-tick.ts', import.meta.url).pathname, e.url, server, e.namespace, '2026-11-23T10:00Z'], {
    stdio: 'inherit',
  });
  // A child on a busy 2-core machine can take a while to load and claim; 60 s is about start-up only.
  const deadline = Date.now() + 60000;
  while (!(await getRepo(e.db, 'github.com/posture-e2e/crash'))?.lease_owner) {
    if (Date.now() > deadline) throw new Error('the child never claimed');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const claimed = (await getRepo(e.db, 'github.com/posture-e2e/crash'))!;
  assert.equal(claimed.lease_owner, '2026-11-23T10:00Z');
  assert.equal((await postureJobs(e.namespace)).length, 0, 'the crash happened before the create');

  // Before the lease ends, another tick leaves it alone; after, it is claimed and its Job created.
  const early = await runTick('2026-11-23T10:01Z', e.deps);
  assert.equal(early.claimed, 0);
  await new Promise((r) => setTimeout(r, Math.max(0, claimed.lease_expires_at!.getTime() - Date.now()) + 200));
  await e.db('scheduler_state').update({ not_before: null });
  const late = await runTick('2026-11-23T10:02Z', e.deps);
  assert.equal(late.created, 1, JSON.stringify(late));
  const [job] = await postureJobs(e.namespace);
  assert.equal(job.metadata!.annotations!['posture.dev/repo'], 'github.com/posture-e2e/crash');
  assert.equal((await getRepo(e.db, 'github.com/posture-e2e/crash'))!.lease_owner, '2026-11-23T10:02Z');
});

test('403 from real RBAC: the reason is reported, the lease released, no retry storm', async () => {
  const namespace = await plane.cp.createNamespace('sched-403');
  const kc = await plane.cp.asServiceAccount(namespace, 'list-only', {
    namespace,
    rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list'] }],
  });
  const e = await env('sched-403b', { namespace } as Partial<Config>, kc);
  await seed(e.db, ['posture-e2e/forbidden-1', 'posture-e2e/forbidden-2', 'posture-e2e/forbidden-3']);
  const s = await runTick('2026-11-23T10:00Z', e.deps);
  assert.equal(s.created, 0);
  assert.match(s.errors[0], /HTTP 403: .*cannot create resource "jobs"/);
  assert.equal(s.errors.length, 1, 'stops after the first refusal');
  assert.ok(s.skipped.some((x) => /configuration error/.test(x.why)));
  assert.equal((await e.db('repos').whereNotNull('lease_owner')).length, 0, 'every lease released');
  assert.equal((await e.db('runs')).length, 0, 'no run for a Job never created');
  assert.ok(s.notBefore, 'ticks back off');
});

test('500 from the API server: bounded retries, then the lease is released and the tick says why', async () => {
  const e = await env('sched-500', { kubeRetries: 2 });
  let creates = 0;
  const fake = await plane.cp.startHttpsServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'JobList', apiVersion: 'batch/v1', metadata: {}, items: [] }));
      return;
    }
    creates++;
    res
      .writeHead(500, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500 }),
      );
  });
  pushCleanups(() => fake.close());
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: fake.url, caData: fake.caBundle }],
    users: [{ name: 'u', token: 'x' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  await seed(e.db, ['posture-e2e/five-hundred']);
  const s = await runTick('2026-11-23T10:00Z', { ...e.deps, cluster: clusterApi(kc) });
  assert.equal(creates, 3, 'one try and two retries');
  assert.equal(s.created, 0);
  assert.match(s.errors[0], /HTTP 500: etcdserver: request timed out/);
  const row = (await getRepo(e.db, 'github.com/posture-e2e/five-hundred'))!;
  assert.equal(row.lease_owner, null);
  assert.ok(row.next_due_at <= new Date(), 'due again for the next tick');
});
