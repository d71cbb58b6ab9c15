// Policies over stored results, on both databases: the harvester judges each new newest result and
// sends dev.posture.policy.changed when the verdict changes (with the rules that changed); the
// verdicts feed the list's `policy` field and verdict filter, the exports, and the fleet's
// compliance; a changed policy file is applied by the API's sweep.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { CloudEvent } from 'cloudevents';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { createApiHandle } from '../api/handler.ts';
import { listRepos } from '../api/list.ts';
import { replyText, requestContext } from '../api/testing.ts';
import { POLICY_CHANGED_TYPE } from '../changes/events.ts';
import { defaultConfig } from '../config/index.ts';
import { addRepos, type Db, mostFailingRules, policyCompliance, storedVerdict } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import type { StructuredReturn } from '../function/handle.ts';
import { createHarvesterHandle } from '../harvest/handler.ts';
import type { HarvestDeps } from '../harvest/harvest.ts';
import { harvestThroughHandler } from '../harvest/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { parsePolicies, staticPolicies } from './index.ts';
import { judgeStale } from './judge.ts';

const FX08 = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const REPO = FX08.repo.name as string; // github.com/ossf/scorecard
const OTHER = 'github.com/ossf/never-scored';
const T0 = Date.parse('2030-01-01T00:00:00Z');

function variant(day: number, checkScores: Record<string, number>) {
  const d = structuredClone(FX08);
  d.date = new Date(T0 + day * 86400_000).toISOString().replace('.000Z', 'Z');
  d.repo.commit = day.toString(16).padStart(40, 'a');
  for (const c of d.checks) if (c.name in checkScores) c.score = checkScores[c.name];
  return d;
}

const doc = (name: string, spec: string) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const set = (text: string) => {
  const p = parsePolicies(text);
  if (!p.ok) throw new Error(p.error);
  return p.set;
};
const STRICT = set(
  doc(
    'ossf',
    '  repositories: ["github.com/ossf/*"]\n  minimumScore: 7\n  checks: {Code-Review: {minimum: 8}, Branch-Protection: {minimum: 8}}\n  maxAge: 30d\n',
  ),
);

describeEachDatabase('policies over stored results', (ctx) => {
  const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0 });
  const cluster = new FakeCluster();
  const sent: CloudEvent<any>[] = [];
  const policies = staticPolicies(STRICT);
  let harvestAt = T0;
  const deps = (): HarvestDeps => ({ db: ctx.db, cluster, config, log: silentLogger, random: () => 0, retryBaseMs: 0, now: () => new Date(harvestAt) });
  const handle = createHarvesterHandle(async () => deps(), { sendEvent: async (e) => void sent.push(e), policies });
  const api = createApiHandle(async () => ({ db: ctx.db, config: { allowedHosts: ['github.com'] }, log: silentLogger }), { policies, sweep: false });
  const get = async (path: string, query: Record<string, string> = {}) => (await api(requestContext('GET', path, query))) as StructuredReturn;
  let day = 0;
  const repoId = async (db: Db, repo: string) => Number((await db('repos').where({ key: repo.toLowerCase() }).first()).id);

  async function harvest(d: unknown) {
    day++;
    return harvestThroughHandler(ctx.db, {
      cluster,
      config,
      handle,
      at: T0 + day * 86400_000,
      log: `${JSON.stringify(d)}\n`,
      finished: (t) => {
        harvestAt = t;
      },
    });
  }

  test('a first result: its verdict stored, no policy.changed', async () => {
    await addRepos(ctx.db, [{ repo: (parseRepo(REPO) as any).repo }]);
    await harvest(variant(0, { 'Branch-Protection': 8 }));
    const v = await storedVerdict(ctx.db, await repoId(ctx.db, REPO));
    assert.equal(v?.verdict, 'pass');
    assert.equal(v?.policy, 'ossf');
    assert.equal(v?.digest, STRICT.digest);
    assert.equal(sent.filter((e) => e.type === POLICY_CHANGED_TYPE).length, 0);
  });

  test('a result that breaks a required check: policy.changed with the rule that started failing', async () => {
    const out = await harvest(variant(1, { 'Branch-Protection': 8, 'Code-Review': 3 }));
    const events = sent.filter((e) => e.type === POLICY_CHANGED_TYPE);
    assert.equal(events.length, 1);
    const e = events[0];
    assert.equal(e.subject, REPO);
    assert.equal(e.id, `policy-run-${(out.data as { runId: number }).runId}`);
    assert.equal(e.data.policy, 'ossf');
    assert.equal(e.data.previousVerdict, 'pass');
    assert.equal(e.data.verdict, 'fail');
    assert.deepEqual(e.data.nowFailing, ['checks.Code-Review']);
    assert.deepEqual(e.data.noLongerFailing, []);
    assert.deepEqual(e.data.failing, ['checks.Code-Review']);
    assert.equal(e.data.reasons[0].message, 'Code-Review scores 3, below the required 8');
  });

  test('another failing result, the verdict unchanged: no event (even when other rules fail now)', async () => {
    sent.length = 0;
    await harvest(variant(2, { 'Branch-Protection': 2, 'Code-Review': 10 }));
    assert.equal(sent.filter((e) => e.type === POLICY_CHANGED_TYPE).length, 0);
    const v = await storedVerdict(ctx.db, await repoId(ctx.db, REPO));
    assert.deepEqual(v?.failing, ['checks.Branch-Protection']);
  });

  test('fleet compliance and the rules failing most', async () => {
    const c = await policyCompliance(ctx.db, STRICT.digest, new Date(T0 + 5 * 86400_000));
    assert.deepEqual(c, { pass: 0, fail: 1, unknown: 0, none: 0, pending: 0 });
    assert.deepEqual(await mostFailingRules(ctx.db, STRICT.digest, 10), [{ policy: 'ossf', rule: 'checks.Branch-Protection', repos: 1 }]);
    const page = await replyText((await get('/ui')) as StructuredReturn);
    assert.match(page, /<h2 id="compliance">Policy compliance<\/h2>/);
    assert.match(page, /<td>ossf<\/td><td>Branch-Protection<\/td><td class="num">1<\/td>/);
  });

  test('back to pass: policy.changed with the rule that stopped failing', async () => {
    await harvest(variant(3, { 'Branch-Protection': 9 }));
    const [e] = sent.filter((x) => x.type === POLICY_CHANGED_TYPE);
    assert.equal(e.data.previousVerdict, 'fail');
    assert.equal(e.data.verdict, 'pass');
    assert.deepEqual(e.data.noLongerFailing, ['checks.Branch-Protection']);
  });

  test('the sweep judges what the harvester did not: a repository never scored is unknown', async () => {
    await addRepos(ctx.db, [{ repo: (parseRepo(OTHER) as any).repo }]);
    assert.equal(await storedVerdict(ctx.db, await repoId(ctx.db, OTHER)), undefined);
    assert.equal(await judgeStale(ctx.db, STRICT), 1);
    const v = await storedVerdict(ctx.db, await repoId(ctx.db, OTHER));
    assert.equal(v?.verdict, 'unknown');
    assert.equal((v!.reasons[0] as { rule: string }).rule, 'result');
    assert.equal(await judgeStale(ctx.db, STRICT), 0, 'nothing stale left');
  });

  test("the list carries each repository's policy and filters by verdict", async () => {
    const all = JSON.parse(String((await get('/projects')).body));
    const byRepo = new Map(all.items.map((i: any) => [i.repo, i.policy]));
    assert.deepEqual(byRepo.get(REPO), { name: 'ossf', verdict: 'pass', score: 9.9, failing: [] });
    assert.deepEqual(byRepo.get(OTHER), { name: 'ossf', verdict: 'unknown', score: null, failing: [] });
    const unknown = JSON.parse(String((await get('/projects', { verdict: 'unknown' })).body));
    assert.deepEqual(
      unknown.items.map((i: any) => i.repo),
      [OTHER],
    );
    const bad = await get('/projects', { verdict: 'maybe' });
    assert.equal(bad.statusCode, 400);
    assert.equal(JSON.parse(String(bad.body)).error, 'verdict must be one of pass, fail, unknown, got "maybe"');
  });

  test('a pass older than maxAge reads unknown, in the list and the filter', async () => {
    // Read 40 days after the newest result (maxAge 30d): the list reads verdicts at its own clock.
    const q = { sort: 'name' as const, limit: 100, verdict: 'unknown' as const };
    const fresh = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, policyDigest: STRICT.digest };
    const now = await listRepos(ctx.db, q, fresh, new Date(T0 + 6 * 86400_000));
    assert.deepEqual(
      now.items.map((i) => i.repo),
      [OTHER],
    );
    const later = await listRepos(ctx.db, q, fresh, new Date(T0 + 43 * 86400_000));
    assert.deepEqual(later.items.map((i) => i.repo).sort(), [OTHER, REPO]);
    assert.equal(later.items.find((i) => i.repo === REPO)?.policy?.verdict, 'unknown');
  });

  test('the CSV export carries policy, verdict, policy score and failing rules', async () => {
    const csv = await replyText((await get('/export/latest.csv')) as StructuredReturn);
    const [head, ...rows] = csv.trimEnd().split('\r\n');
    assert.ok(head.endsWith(',policy,verdict,policy_score,failing_rules'));
    assert.ok(rows.find((r) => r.startsWith(`${REPO},`))?.endsWith(',ossf,pass,9.9,'));
  });

  test('new policies: verdicts of the old set are pending until the sweep judges them again', async () => {
    const relaxed = set(doc('ossf', '  repositories: ["github.com/ossf/*"]\n  minimumScore: 1\n'));
    policies.set(relaxed);
    assert.deepEqual(await policyCompliance(ctx.db, relaxed.digest, new Date()), { pass: 0, fail: 0, unknown: 0, none: 0, pending: 2 });
    const listed = JSON.parse(String((await get('/projects')).body));
    assert.ok(
      listed.items.every((i: any) => i.policy === null),
      "no verdict of another policy set is shown as this one's",
    );
    await api.policies()?.sweep();
    assert.deepEqual(await policyCompliance(ctx.db, relaxed.digest, new Date(T0 + 5 * 86400_000)), { pass: 1, fail: 0, unknown: 1, none: 0, pending: 0 });
    assert.equal(JSON.parse(String((await get('/projects', { verdict: 'pass' })).body)).items[0].policy.score, 9.9);
    policies.set(STRICT);
  });
});
