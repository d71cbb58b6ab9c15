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
import { addRepos, type Db, getRepo, getSchedulerState, migrate, openDb } from '../../lib/db/index.ts';
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

/** Answers the fake GitHub holds back on purpose, released before it closes. */
const held: Array<() => void> = [];

after(async () => {
  for (const release of held) release();
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
    // One repository per Job unless a test says otherwise (the shard tests below): each test's
    // Job is then its own repository's, whatever an earlier test left due.
    shardSize: 1,
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
  assert.ok(first.scheduled >= names.length, JSON.stringify(first));
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
    // The pause lasts until a run shows the token works: a probe that started before the Secret
    // was restored fails again, so probe until one succeeds, and leave the next test an unpaused fleet.
    for (let i = 0; i < 4; i++) {
      await waitFor('the probe finished', async () => (await cluster.listJobs(NS, POSTURE_JOB_SELECTOR)).every((j) => jobState(j).finished), 120_000);
      const t = await runTick(nextSlot(), tickDeps(configOf({ breakerProbeRuns: 1 })));
      if (!t.paused) break;
    }
  }
});

test("never started: a missing token Secret and an image that cannot be pulled are infrastructure; the pod's own deadline ends the pod and keeps it", async () => {
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
    jobs.push((await runOf(name)).run.job_name);
  }
  await waitFor('both Jobs failed', async () => (await cluster.listJobs(NS, POSTURE_JOB_SELECTOR)).every((j) => jobState(j).finished), 150_000);
  // The kubelet ended each pod at its own deadline, before the Job's, and kept it.
  for (const job of jobs) {
    const pods = await cluster.listPods(NS, `batch.kubernetes.io/job-name=${job}`);
    assert.equal(pods.length, 1, `${job}: its pod is kept`);
    assert.equal(pods[0].status?.reason, 'DeadlineExceeded', JSON.stringify(pods[0].status));
  }
  await runTick(nextSlot(), tickDeps(secret));
  const s = await runOf(`${OWNER}/no-secret`);
  assert.equal(s.run.failure_class, 'infrastructure', s.run.reason);
  assert.match(s.run.reason, /missing Secret/);
  assert.match(s.run.reason, /posture-absent-secret|CreateContainerConfigError/);
  assert.equal(s.repo.consecutive_failures, 0);
  const i = await runOf(`${OWNER}/no-image`);
  assert.equal(i.run.failure_class, 'infrastructure', i.run.reason);
  assert.match(i.run.reason, /image could not be pulled/);
  assert.equal(i.repo.consecutive_failures, 0);
});

test("never scheduled: the job controller deletes the pod at the Job's deadline, and its Events still say why: infrastructure", async () => {
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  const cordon = (unschedulable: boolean) =>
    core.patchNode({ name: node.name, body: { spec: { unschedulable } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  await cordon(true);
  try {
    const config = configOf({ jobDeadlineSeconds: 60 });
    await addRepos(db, [{ repo: (parseRepo(`${OWNER}/no-node`) as { ok: true; repo: any }).repo }]);
    await db('repos')
      .where({ key: `github.com/${OWNER}/no-node` })
      .update({ next_due_at: new Date(Date.now() - 1000) });
    const t = await runTick(nextSlot(), tickDeps(config));
    assert.ok(t.created >= 1, JSON.stringify(t));
    const job = (await runOf(`${OWNER}/no-node`)).run.job_name;
    await waitFor('the Job failed at its deadline', async () => (await cluster.listJobs(NS, POSTURE_JOB_SELECTOR)).every((j) => jobState(j).finished), 150_000);
    await waitFor('its pod deleted by the job controller', async () => (await cluster.listPods(NS, `batch.kubernetes.io/job-name=${job}`)).length === 0);
    await runTick(nextSlot(), tickDeps(config));
    const { repo, run } = await runOf(`${OWNER}/no-node`);
    assert.equal(run.failure_class, 'infrastructure', run.reason);
    assert.match(run.reason, /^the pod could not be scheduled: FailedScheduling: .*unschedulable.* \(from the pod's Events\)/);
    assert.equal(repo.consecutive_failures, 0);
  } finally {
    await cordon(false);
  }
});

test("GitHub's rate limit spent until long after the deadline: Scorecard waits, the kubelet ends the pod and keeps its log, the run is rate-limited and no Job starts before the reset", async () => {
  gh.addRepo({ owner: OWNER, name: 'limited' });
  const reset = gh.fault({ kind: 'primary-rate-limit', repo: `${OWNER}/limited`, resetInSeconds: 600 });
  try {
    const config = configOf({ jobDeadlineSeconds: 60 });
    const before = Date.now();
    await scoreOnce([`${OWNER}/limited`], config);
    const { repo, run } = await runOf(`${OWNER}/limited`);
    assert.equal(run.failure_class, 'rate-limited', run.reason);
    assert.match(run.reason, /Rate limit exceeded\. Waiting .* to retry/);
    assert.equal(repo.consecutive_failures, 0);
    // The fleet waits for the reset Scorecard logged (10 minutes after its first call); the
    // repository is due no sooner than that, nor than the base delay of a failure not its own.
    const wait = (await getSchedulerState(db)).githubWaitUntil?.getTime() ?? 0;
    assert.ok(wait >= before + 590_000 && wait <= Date.now() + 610_000, `the fleet waits until ${new Date(wait).toISOString()}`);
    assert.ok(repo.next_due_at.getTime() >= wait, `due ${repo.next_due_at.toISOString()}, after the reset`);
    await addRepos(db, [{ repo: (parseRepo(`${OWNER}/after-limit`) as { ok: true; repo: any }).repo }]);
    const held = await runTick(nextSlot(), tickDeps(config));
    assert.equal(held.paused?.reason, 'rate-limit');
    assert.equal(held.created, 0);
  } finally {
    reset.remove();
    // The reset is ten minutes away: end the wait, and the idle backoff the held tick began.
    await db('scheduler_state').update({ github_wait_until: null, not_before: null, backoff_seconds: 0 });
  }
});

test("a repository too big for the Job's own storage: the kubelet evicts the pod, and the failure is the repository's (resource-limit)", async () => {
  // 24 MiB that does not compress: the clone in /tmp outgrows an 8 MiB limit. A slow answer for
  // the releases keeps Scorecard (and its clone) alive until the kubelet's eviction manager looks.
  const big = randomBytes(18 * 1024 * 1024).toString('base64');
  gh.addRepo({ owner: OWNER, name: 'too-big', files: { 'README.md': '# too big\n', 'data/blob.txt': big } });
  const none = { status: 200, body: '[]', headers: { 'content-type': 'application/json' } };
  gh.route('GET', '/repos/:owner/:repo/releases', (ctx) =>
    ctx.params.repo === 'too-big'
      ? new Promise((resolve) => {
          const release = () => resolve(none);
          held.push(release);
          setTimeout(release, 150_000).unref();
        })
      : none,
  );
  await scoreOnce([`${OWNER}/too-big`], configOf({ jobStorageLimit: '8Mi' }));
  const { repo, run } = await runOf(`${OWNER}/too-big`);
  assert.equal(run.failure_class, 'resource-limit', run.reason);
  assert.match(run.reason, /evicted: .*(?:exceeds the limit|exceeds the total limit|exceeded its local ephemeral storage limit)/);
  assert.equal(repo.consecutive_failures, 1);
});

test(`a shard: one Job runs the real Scorecard ${VERSION} with --repos over three repositories; each is stored with its own outcome`, async () => {
  gh.addRepo({ owner: OWNER, name: 'shard-a' });
  gh.addRepo({ owner: OWNER, name: 'shard-c' });
  // shard-b does not exist: GitHub's 404, that repository's own failure only.
  const names = ['shard-a', 'shard-b', 'shard-c'].map((n) => `${OWNER}/${n}`);
  const { first } = await scoreOnce(names, configOf({ shardSize: 3 }));
  assert.equal(first.created, 1, JSON.stringify(first));
  const runs = await Promise.all(names.map((n) => runOf(n)));
  assert.equal(new Set(runs.map((r) => r.run.job_name)).size, 1, 'one Job for the three');
  assert.deepEqual(
    runs.map((r) => [r.run.outcome, r.run.failure_class]),
    [
      ['succeeded', null],
      ['failed', 'no-result'],
      ['succeeded', null],
    ],
    JSON.stringify(runs.map((r) => r.run.reason)),
  );
  assert.match(runs[1].run.reason, /404 Not Found/);
  assert.deepEqual(
    runs.map((r) => r.repo.consecutive_failures),
    [0, 1, 0],
  );
  for (const i of [0, 2]) assert.equal((await db('scores').where({ run_id: runs[i].run.id }).first())?.scorecard_version, VERSION);
});

test("a shard's deadline reached while Scorecard waits on GitHub's rate limit: the first repository is stored, the one waiting is rate-limited, the last is not reached and due again unblamed", async () => {
  gh.addRepo({ owner: OWNER, name: 'deadline-a' });
  gh.addRepo({ owner: OWNER, name: 'deadline-b' });
  gh.addRepo({ owner: OWNER, name: 'deadline-c' });
  const reset = gh.fault({ kind: 'primary-rate-limit', repo: `${OWNER}/deadline-b`, resetInSeconds: 900 });
  try {
    const names = ['deadline-a', 'deadline-b', 'deadline-c'].map((n) => `${OWNER}/${n}`);
    // 60 s per repository: the shard's pod ends at 150 s (its deadline less 30), long before the reset.
    const config = configOf({ shardSize: 3, jobDeadlineSeconds: 60 });
    const { first } = await scoreOnce(names, config, 300_000);
    assert.equal(first.created, 1, JSON.stringify(first));
    // Each repository's run in that Job (the one not reached is due at once: the same tick that
    // harvested the shard may already have claimed it again, in a new Job).
    const latest = await Promise.all(names.map((n) => runOf(n)));
    const job = latest[0].run.job_name;
    const runs = await Promise.all(latest.map((r) => db('runs').where({ job_name: job, repo_id: r.repo.id }).first()));
    assert.deepEqual(
      runs.map((r) => [r?.outcome, r?.failure_class]),
      [
        ['succeeded', null],
        ['failed', 'rate-limited'],
        ['failed', 'not-reached'],
      ],
      JSON.stringify(runs.map((r) => r?.reason)),
    );
    const c = latest[2].repo;
    assert.equal(c.consecutive_failures, 0, 'not reached: nothing held against it');
    assert.equal(c.other_failures, 0);
    assert.equal(c.last_error, null);
  } finally {
    reset.remove();
    await db('scheduler_state').update({ github_wait_until: null, not_before: null, backoff_seconds: 0 });
  }
});
