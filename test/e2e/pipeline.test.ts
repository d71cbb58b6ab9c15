// The whole pipeline on the real local control plane: scheduler tick → Jobs → kwok pods whose
// logs are real Scorecard results → the CloudEvents an ApiServerSource would send → harvester
// → database. Also: duplicated, shuffled and dropped events; failed Jobs and hostile logs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import type { CloudEvent } from 'cloudevents';
import { addRepos, type Db, latestScore, runByJobName } from '../../lib/db/index.ts';
import { jobName } from '../../lib/jobs/spec.ts';
import { jobState } from '../../lib/jobs/status.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { FIXTURES, fixturePath } from '../fixtures/scorecard.ts';
import { type Pipeline, startPipeline } from './pipeline-kit.ts';
import { useControlPlane } from './plane.ts';

const fixture = (n: string) => readFileSync(fixturePath(n), 'utf8');
const RESULTS = [FIXTURES.v4DateOnly, FIXTURES.v4Unsupported, FIXTURES.v4Rfc3339Details, FIXTURES.cliShowDetails];
const STDERR = '2026/11/23 10:00:00 Starting [Binary-Artifacts]\n{"level":"info","ts":1,"msg":"fetching tarball"}\n';
const DUE = new Date('2026-01-01T00:00:00Z');

const plane = useControlPlane();
const pushCleanups = (...fs: Array<() => Promise<unknown>>) => {
  for (const f of fs) plane.cleanup(f);
};

const repo = (s: string): RepoId => {
  const r = parseRepo(s);
  if (!r.ok) throw new Error(r.reason);
  return r.repo;
};

async function freshPipeline(prefix: string, overrides = {}): Promise<Pipeline> {
  const ns = await plane.cp.createNamespace(prefix);
  const p = await startPipeline(plane.cp, ns, overrides);
  const core = plane.cp.kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'posture-github-tokens' }, stringData: { GITHUB_AUTH_TOKEN: 'not-a-real-token' } },
  });
  pushCleanups(
    () => p.close(),
    () => core.deleteNamespace({ name: ns }),
  );
  return p;
}

/** Adds repos due at DUE, so their Job names are known before the tick. */
async function seed(db: Db, repos: RepoId[]): Promise<void> {
  await addRepos(
    db,
    repos.map((r) => ({ repo: r })),
  );
  await db('repos').update({ next_due_at: DUE });
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 90000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${plane.cp.diagnostics(5)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function harvestedCount(db: Db): Promise<number> {
  const r = await db('runs').whereNot({ outcome: 'pending' }).count('* as n').first();
  return Number((r as { n: number }).n);
}

test('a tick scores real fixture results end to end: the database holds exactly each score and every check', async () => {
  const p = await freshPipeline('pipe');
  const docs = RESULTS.map((f) => ({ text: fixture(f), doc: JSON.parse(fixture(f)) }));
  const repos = docs.map((d) => repo(d.doc.repo.name));
  await seed(p.database.db, repos);
  for (const [i, d] of docs.entries()) {
    plane.cp.setPodLog({
      namespace: p.config.namespace,
      jobName: jobName(repos[i], DUE),
      content: STDERR + d.text + (d.text.endsWith('\n') ? '' : '\n'),
      exitCode: 0,
    });
  }

  const tick = await p.ping(new Date());
  assert.equal(tick.status, 200, JSON.stringify(tick.body));
  assert.equal(tick.body.created, repos.length);

  await waitFor('all harvested', async () => (await harvestedCount(p.database.db)) === repos.length);
  for (const [i, { doc }] of docs.entries()) {
    const s = await latestScore(p.database.db, repos[i].key);
    assert.ok(s, `no score for ${repos[i].canonical}`);
    assert.equal(s.score, doc.score, repos[i].canonical);
    assert.equal(s.repoCommit, doc.repo.commit);
    assert.equal(s.scorecardVersion, doc.scorecard.version);
    assert.deepEqual(
      s.checks.map((c) => [c.name, c.score, c.reason, c.details, c.documentation]),
      doc.checks.map((c: any) => [c.name, c.score, c.reason, c.details ?? null, c.documentation ?? null]),
    );
    assert.deepEqual(s.raw, doc);
  }
  // Harvested Jobs are deleted (background propagation).
  const batch = plane.cp.kc.makeApiClient(k8s.BatchV1Api);
  await waitFor('Jobs deleted', async () => (await batch.listNamespacedJob({ namespace: p.config.namespace })).items.length === 0, 30000);
});

test('completion events delivered three times in shuffled order, and 20% dropped: same database as once, all harvested after the next reconcile', async () => {
  const p = await freshPipeline('dup');
  const base = JSON.parse(fixture(RESULTS[3]));
  const repos = Array.from({ length: 20 }, (_, i) => repo(`github.com/posture-e2e/dup-${i}`));
  await seed(p.database.db, repos);
  repos.forEach((r, i) => {
    const doc = { ...base, repo: { ...base.repo, name: r.canonical }, score: i % 10 };
    plane.cp.setPodLog({ namespace: p.config.namespace, jobName: jobName(r, DUE), content: `${STDERR + JSON.stringify(doc)}\n`, exitCode: 0 });
  });
  // Hold back every completion event; deliver them ourselves below.
  const held = new Map<string, CloudEvent<V1Job>>();
  p.setRelayFilter((e) => {
    if (e.data && jobState(e.data).finished) {
      held.set(e.data.metadata!.name!, e);
      return [];
    }
    return [e];
  });
  assert.equal((await p.ping(new Date())).body.created, 20);
  await waitFor('20 completion events', async () => held.size === 20);

  const names = [...held.keys()].sort();
  const dropped = new Set(names.filter((_, i) => i % 5 === 0)); // 20%
  const deliveries = names.filter((n) => !dropped.has(n)).flatMap((n) => [held.get(n)!, held.get(n)!, held.get(n)!]);
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
  }
  const { postEvent } = await import('./pipeline-kit.ts');
  const statuses = await Promise.all(deliveries.map((e) => postEvent(p.harvesterUrl, e).then((r) => r.status)));
  assert.ok(
    statuses.every((s) => s === 200),
    `statuses ${[...new Set(statuses)]}`,
  );

  const db = p.database.db;
  assert.equal(await harvestedCount(db), 16);
  assert.equal(Number(((await db('scores').count('* as n').first()) as any).n), 16, 'one score per Job, however often its event came');
  assert.equal(Number(((await db('checks').count('* as n').first()) as any).n), 16 * base.checks.length);
  for (const n of dropped) assert.equal((await runByJobName(db, n))?.outcome, 'pending');

  // The next tick's reconcile harvests the Jobs whose events were lost.
  const next = await p.ping(new Date(Date.now() + 60000));
  assert.equal(next.status, 200);
  assert.equal(next.body.reconciled.harvested, 4, JSON.stringify(next.body));
  assert.equal(await harvestedCount(db), 20);
  for (const [i, r] of repos.entries()) assert.equal((await latestScore(db, r.key))?.score, i % 10, r.canonical);
  assert.equal(Number(((await db('scores').count('* as n').first()) as any).n), 20);
});

test('a failed Job and a garbage log are stored as failed runs with their class; a 50 MB log is scored from its tail, where Scorecard prints the result; memory stays bounded', async () => {
  const p = await freshPipeline('bad');
  const failed = repo('github.com/posture-e2e/failed');
  const garbage = repo('github.com/posture-e2e/garbage');
  const huge = repo('github.com/posture-e2e/huge');
  await seed(p.database.db, [failed, garbage, huge]);
  const ns = p.config.namespace;
  plane.cp.setPodLog({ namespace: ns, jobName: jobName(failed, DUE), content: 'Error: fetching repo: 502 Bad Gateway\n', exitCode: 1 });
  plane.cp.setPodLog({
    namespace: ns,
    jobName: jobName(garbage, DUE),
    content:
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1') +
      '\n{"score": 11, "checks": "x"}\n' +
      JSON.stringify({
        date: '2026-01-01',
        repo: { name: garbage.canonical, commit: 'x' },
        scorecard: { version: 'v5.3.0', commit: 'y' },
        score: 11,
        checks: [],
      }) +
      '\n',
    exitCode: 0,
  });
  const line = `${'2026/11/23 10:00:00 noisy stderr line '.padEnd(199, 'x')}\n`;
  const doc = { ...JSON.parse(fixture(RESULTS[3])), repo: { name: huge.canonical, commit: 'abc' } };
  plane.cp.setPodLog({
    namespace: ns,
    jobName: jobName(huge, DUE),
    content: `${line.repeat(Math.ceil((50 * 1024 * 1024) / line.length)) + JSON.stringify(doc)}\n`,
    exitCode: 0,
  });

  const rssBefore = process.memoryUsage().rss;
  assert.equal((await p.ping(new Date())).body.created, 3);
  await waitFor('3 harvested', async () => (await harvestedCount(p.database.db)) === 3, 180000);
  const rssGrowth = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  const db = p.database.db;
  const run = async (r: RepoId) => runByJobName(db, jobName(r, DUE));
  assert.deepEqual(
    [(await run(failed))?.failure_class, (await run(garbage))?.failure_class, (await run(huge))?.failure_class],
    ['pod-failed', 'invalid-result', null],
  );
  assert.equal((await run(huge))?.outcome, 'succeeded', 'the result after 50 MB of stderr is read from the tail');
  assert.equal((await latestScore(db, huge.key))?.score, doc.score);
  assert.match((await run(failed))?.reason ?? '', /exit code 1|exit 1|exited 1/);
  assert.ok(rssGrowth < 200, `harvesting a 50 MB log grew memory by ${rssGrowth.toFixed(0)} MB (cap is 10 MiB)`);
  const rows = await db('repos').whereIn('key', [failed.key, garbage.key]).select('consecutive_failures', 'next_due_at');
  assert.ok(
    rows.every((r) => r.consecutive_failures === 1 && new Date(r.next_due_at) > new Date()),
    'each failure backs its repository off',
  );
});

test('the scheduler answers 400 to anything but a ping, in either CloudEvents mode', async () => {
  const p = await freshPipeline('bad-events');
  const { postEvent } = await import('./pipeline-kit.ts');
  const { CloudEvent: CE } = await import('cloudevents');
  const wrong = new CE({ type: 'dev.knative.apiserver.resource.update', source: '/x', data: {} });
  for (const mode of ['binary', 'structured'] as const) {
    const r = await postEvent(p.schedulerUrl, wrong, mode);
    assert.equal(r.status, 400);
    assert.match(r.body.error, /unexpected event type "dev.knative.apiserver.resource.update"/);
  }
  const malformed = await fetch(p.schedulerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: '{"specversion":"1.0","type":"dev.knative.sources.ping"}',
  });
  assert.equal(malformed.status, 400);
  assert.match((await malformed.json()).error, /malformed CloudEvent/);
  const plain = await fetch(p.schedulerUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(plain.status, 400);
  const ok = await p.ping(new Date(), 'structured');
  assert.equal(ok.status, 200);
});
