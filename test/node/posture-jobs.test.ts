// The scheduler's own Scorecard Jobs on a real node: a real kubelet with containerd runs the real
// Scorecard CLI (v5.5.0, built from its module, in an image laid out like upstream's), which talks
// to a fake GitHub through GH_HOST (POSTURE_GITHUB_HOST) and trusts its CA from a ConfigMap
// (POSTURE_GITHUB_CA_CONFIGMAP). Each test runs the scheduler's tick, waits for the Jobs to finish
// for real, and lets the next tick's reconcile harvest them, then reads what was stored. Together
// they prove "never blamed on the repository" on what a real kubelet and job controller leave.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type Config, defaultConfig } from '../../lib/config/index.ts';
import { addRepos, type Db, getRepo, migrate, openDb } from '../../lib/db/index.ts';
import { harvestJob } from '../../lib/harvest/harvest.ts';
import { POSTURE_JOB_SELECTOR } from '../../lib/jobs/spec.ts';
import { jobState } from '../../lib/jobs/status.ts';
import { type ClusterApi, clusterApi } from '../../lib/kube/cluster.ts';
import { silentLogger } from '../../lib/log/index.ts';
import { parseRepo } from '../../lib/repo/identity.ts';
import type { TickSummary } from '../../lib/scheduler/summary.ts';
import { runTick } from '../../lib/scheduler/tick.ts';
import { type ControlPlane, startControlPlane } from '../cluster/harness.ts';
import { scorecardImage } from '../cluster/images.ts';
import { type RealNode, startRealNode } from '../cluster/node.ts';
import { FakeGitHub } from '../github/fake.ts';

const VERSION = 'v5.5.0';
const NS = 'posture';
const TOKEN = 'posture-real-node-token';
const OWNER = 'posture-e2e';

let cp: ControlPlane;
let node: RealNode;
let gh: FakeGitHub;
let db: Db;
let cluster: ClusterApi;
let slot = 0;

before(async () => {
  cp = await startControlPlane();
  node = await startRealNode(cp, { images: [scorecardImage(VERSION)] });
  const { host, ipSans } = node.podReachableAddress();
  gh = await FakeGitHub.start({ host, altNames: ipSans });
  gh.addOrg(OWNER);
  gh.addToken(TOKEN, { identity: 'posture' });
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({
    body: { metadata: { name: NS, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  });
  await waitFor('the default ServiceAccount', async () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: NS }).then(
      () => true,
      () => false,
    ),
  );
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'github-ca' }, data: { 'ca.crt': readFileSync(gh.caFile, 'utf8') } } });
  await setToken(TOKEN);
  cluster = clusterApi(cp.kc);
  db = openDb({ dataDir: 'memory' });
  await migrate(db);
});

after(async () => {
  await db?.destroy();
  await gh?.close();
  await node?.stop();
  await cp?.stop();
});

async function waitFor(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${node?.diagnostics(20) ?? ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function setToken(value: string, name = 'posture-github-tokens'): Promise<void> {
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  await core.deleteNamespacedSecret({ name, namespace: NS }).catch(() => undefined);
  await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name }, stringData: { GITHUB_AUTH_TOKEN: value } } });
}

/** posture's settings for these tests: the fake GitHub as Scorecard's host, its CA from the ConfigMap. */
function configOf(overrides: Partial<Config> = {}): Config {
  return defaultConfig({
    namespace: NS,
    scorecardImage: `ghcr.io/ossf/scorecard:${VERSION}`,
    githubHost: gh.ghHost,
    githubCaConfigMap: 'github-ca',
    githubTokenCount: 0,
    maxConcurrentJobs: 10,
    jobDeadlineSeconds: 300,
    ...overrides,
  });
}

function tickDeps(config: Config) {
  return {
    db,
    cluster,
    config,
    log: silentLogger,
    now: () => new Date(),
    harvest: (job: k8s.V1Job) => harvestJob(job, { db, cluster, config, log: silentLogger }),
  };
}

const nextSlot = () => `2030-01-01T00:${String(++slot).padStart(2, '0')}Z`;

/** Adds the repositories due now, ticks, waits for their Jobs to finish on the node, and lets the next tick harvest them. */
async function scoreOnce(names: string[], config: Config, ms = 240_000): Promise<{ first: TickSummary; second: TickSummary }> {
  await addRepos(
    db,
    names.map((n) => ({ repo: (parseRepo(n) as { ok: true; repo: import('../../lib/repo/identity.ts').RepoId }).repo })),
  );
  await db('repos')
    .whereIn(
      'key',
      names.map((n) => `github.com/${n}`.toLowerCase()),
    )
    .update({ next_due_at: new Date(Date.now() - 1000) });
  const first = await runTick(nextSlot(), tickDeps(config));
  // At least these (a repository an earlier test left due may join them).
  assert.ok(first.created >= names.length, JSON.stringify(first));
  await waitFor(`${names.join(', ')} finished`, async () => (await cluster.listJobs(NS, POSTURE_JOB_SELECTOR)).every((j) => jobState(j).finished), ms);
  const second = await runTick(nextSlot(), tickDeps(config));
  return { first, second };
}

async function runOf(name: string) {
  const repo = await getRepo(db, `github.com/${name}`.toLowerCase());
  const run = await db('runs').where({ repo_id: repo!.id }).orderBy('id', 'desc').first();
  return { repo: repo!, run };
}

test(`the scheduler's own Job runs the real Scorecard ${VERSION} on the node; its result is stored`, async () => {
  gh.addRepo({ owner: OWNER, name: 'healthy' });
  await scoreOnce([`${OWNER}/healthy`], configOf());
  const { repo, run } = await runOf(`${OWNER}/healthy`);
  assert.equal(run.outcome, 'succeeded', run.reason);
  const score = await db('scores').where({ run_id: run.id }).first();
  assert.ok(score, 'a score row');
  assert.equal(score.scorecard_version, VERSION);
  assert.equal(repo.consecutive_failures, 0);
  assert.ok(
    gh.requests.some((r) => r.path.includes(`/repos/${OWNER}/healthy`) && r.token === 'posture'),
    'Scorecard in the pod called the fake GitHub with the token from the Secret',
  );
});

test('no route to GitHub (no GH_HOST, no DNS for api.github.com): infrastructure, not the repository', async () => {
  await scoreOnce([`${OWNER}/unreachable`], configOf({ githubHost: '', githubCaConfigMap: '' }));
  const { repo, run } = await runOf(`${OWNER}/unreachable`);
  assert.equal(run.failure_class, 'infrastructure', run.reason);
  assert.match(run.reason, /repo unreachable/);
  assert.equal(repo.consecutive_failures, 0);
});

test("GitHub's 404 (the repository is gone or private): the repository's own failure", async () => {
  await scoreOnce([`${OWNER}/gone`], configOf());
  const { repo, run } = await runOf(`${OWNER}/gone`);
  assert.equal(run.failure_class, 'no-result', run.reason);
  assert.match(run.reason, /404 Not Found/);
  assert.equal(repo.consecutive_failures, 1);
});

test('a refused token (401 Bad credentials): credentials, no repository blamed, and the next tick starts only a probe', async () => {
  gh.addRepo({ owner: OWNER, name: 'token-a' });
  gh.addRepo({ owner: OWNER, name: 'token-b' });
  gh.addRepo({ owner: OWNER, name: 'token-c' });
  await setToken('revoked-token');
  try {
    const config = configOf({ breakerProbeRuns: 1 });
    await scoreOnce([`${OWNER}/token-a`], config);
    const { repo, run } = await runOf(`${OWNER}/token-a`);
    assert.equal(run.failure_class, 'credentials', run.reason);
    assert.match(run.reason, /401 Bad credentials/);
    assert.equal(repo.consecutive_failures, 0);
    assert.equal(repo.other_failures, 0);
    await addRepos(
      db,
      ['token-b', 'token-c'].map((n) => ({ repo: (parseRepo(`${OWNER}/${n}`) as { ok: true; repo: any }).repo })),
    );
    const paused = await runTick(nextSlot(), tickDeps(config));
    assert.equal(paused.paused?.reason, 'credentials');
    assert.equal(paused.created, 1, 'one probe, not both due repositories');
  } finally {
    await setToken(TOKEN);
  }
});

test("never started, the pod deleted at the deadline: a missing token Secret and an image that cannot be pulled are infrastructure, read from the pod's Events", async () => {
  const secret = configOf({ githubTokenSecret: 'posture-absent-secret', jobDeadlineSeconds: 60 });
  const image = configOf({ scorecardImage: 'posture.invalid/scorecard:v0.0.0', jobDeadlineSeconds: 60 });
  const jobs: string[] = [];
  for (const [name, config] of [
    [`${OWNER}/no-secret`, secret],
    [`${OWNER}/no-image`, image],
  ] as const) {
    await addRepos(db, [{ repo: (parseRepo(name) as { ok: true; repo: any }).repo }]);
    await db('repos')
      .where({ key: `github.com/${name}` })
      .update({ next_due_at: new Date(Date.now() - 1000) });
    const t = await runTick(nextSlot(), tickDeps(config));
    assert.ok(t.created >= 1, JSON.stringify(t));
    const { run } = await runOf(name);
    jobs.push(run.job_name);
  }
  await waitFor(
    'both Jobs failed at their deadline',
    async () => (await cluster.listJobs(NS, POSTURE_JOB_SELECTOR)).every((j) => jobState(j).finished),
    150_000,
  );
  // The real job controller deleted the waiting pods before it marked the Jobs Failed.
  for (const job of jobs) assert.deepEqual(await cluster.listPods(NS, `batch.kubernetes.io/job-name=${job}`), [], `${job}: its pod is gone`);
  await runTick(nextSlot(), tickDeps(secret));
  const s = await runOf(`${OWNER}/no-secret`);
  assert.equal(s.run.failure_class, 'infrastructure', s.run.reason);
  assert.match(s.run.reason, /missing Secret.*posture-absent-secret.*from the pod's Events/);
  assert.equal(s.repo.consecutive_failures, 0);
  const i = await runOf(`${OWNER}/no-image`);
  assert.equal(i.run.failure_class, 'infrastructure', i.run.reason);
  assert.match(i.run.reason, /image could not be pulled.*posture\.invalid\/scorecard/);
  assert.equal(i.repo.consecutive_failures, 0);
});

test("a repository too big for the Job's own storage: the kubelet evicts the pod, and the failure is the repository's (resource-limit)", async () => {
  // 24 MiB that does not compress: the clone in /tmp outgrows an 8 MiB limit. A slow answer for
  // the releases keeps Scorecard (and its clone) alive until the kubelet's eviction manager looks.
  const big = randomBytes(18 * 1024 * 1024).toString('base64');
  gh.addRepo({ owner: OWNER, name: 'too-big', files: { 'README.md': '# too big\n', 'data/blob.txt': big } });
  gh.route('GET', '/repos/:owner/:repo/releases', (ctx) =>
    ctx.params.repo === 'too-big'
      ? new Promise((r) => setTimeout(() => r({ status: 200, body: '[]', headers: { 'content-type': 'application/json' } }), 150_000))
      : { status: 200, body: '[]', headers: { 'content-type': 'application/json' } },
  );
  await scoreOnce([`${OWNER}/too-big`], configOf({ jobStorageLimit: '8Mi' }));
  const { repo, run } = await runOf(`${OWNER}/too-big`);
  assert.equal(run.failure_class, 'resource-limit', run.reason);
  assert.match(run.reason, /evicted: .*(?:exceeds the limit|exceeds the total limit|exceeded its local ephemeral storage limit)/);
  assert.equal(repo.consecutive_failures, 1);
});
