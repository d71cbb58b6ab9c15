// scorecard-policy through the full dispatcher path, on a real ScoreCache fed rows with checks
// (the real v5.5.0 --local result: 5.3, Token-Permissions 0, Dangerous-Workflow 10, no Code-Review).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ScoreCache, type ScoreRow, StaticScoreFeed } from '../../../lib/admission/scores.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { object, user, WebhookTester } from '../../../lib/admission/testing.ts';
import { defaultConfig } from '../../../lib/config/index.ts';
import { parsePolicies } from '../../../lib/policy/index.ts';
import { FIXTURES, fixturePath } from '../../../test/fixtures/scorecard.ts';
import { WEBHOOKS_DIR } from '../webhooks-dir.ts';
import { unknownMessage } from './scorecard-gate.ts';
import { INVALID_POLICY_LABEL_MESSAGE, noSuchPolicyMessage, policyFailMessage, policyUnknownMessage } from './scorecard-policy.ts';

const real = JSON.parse(readFileSync(fixturePath(FIXTURES.realLocalV550), 'utf8')) as {
  date: string;
  checks: Array<{ name: string; score: number; reason: string }>;
};
const checks = real.checks.map((c) => ({ name: c.name, score: c.score, internalError: c.reason.startsWith('internal error:') }));
const RESULT_TIME = Date.parse(real.date);
const row = (key: string): ScoreRow => ({ repoKey: key, repo: key, score: 5.3, date: real.date, updatedAt: new Date(RESULT_TIME), checks });

const doc = (name: string, spec: string) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const parsed = (text: string) => {
  const p = parsePolicies(text);
  if (!p.ok) throw new Error(p.error);
  return p.set;
};
const POLICIES = parsed(
  [
    doc('strict', '  repositories: ["github.com/acme/*"]\n  minimumScore: 5\n  checks: {Token-Permissions: {minimum: 5}}\n'),
    doc('lenient', '  repositories: ["github.com/ok/*"]\n  minimumScore: 5\n  checks: {Dangerous-Workflow: {minimum: 10}}\n  maxAge: 30d\n'),
    doc('reviewed', '  repositories: ["github.com/rev/*"]\n  checks: {Code-Review: {minimum: 5}}\n'),
  ].join('---\n'),
);

const A = 'posture.dev/source-repo';
const deploy = (repo: string) =>
  object('Deployment', 'web', { namespace: 'team', annotations: { [A]: repo }, spec: { template: { metadata: {}, spec: { containers: [] } } } });
const jane = user('jane', 'devs');

async function setup(options: { unknown?: 'allow' | 'warn' | 'deny'; now?: number } = {}) {
  const clock = { now: options.now ?? RESULT_TIME + 86_400_000 };
  const feed = new StaticScoreFeed([row('github.com/acme/api'), row('github.com/ok/api'), row('github.com/rev/api'), row('github.com/none/api')]);
  const cache = new ScoreCache({ feed, refreshMs: 1000, staleAfterMs: 1e12, policies: POLICIES, now: () => clock.now });
  await cache.refresh();
  const services: AdmissionServices = { scores: cache };
  const config = defaultConfig({ gatePolicyTiers: ['lenient', 'strict', 'gone'], gateUnknown: options.unknown ?? 'warn' });
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services, config, now: () => clock.now });
  const send = (repo: string, tier?: string) =>
    tester.send('scorecard-policy', { operation: 'CREATE', object: deploy(repo), caller: jane }, tier ? { tier } : {});
  return { send, cache, feed, clock };
}

describe('scorecard-policy', () => {
  it('scores above the minimum but fails a required check: refused, naming the failing rule', async () => {
    const { send } = await setup();
    const r = send('github.com/acme/api');
    assert.equal(r.response?.allowed, false);
    assert.equal(
      r.response?.status?.message?.endsWith(policyFailMessage('github.com/acme/api', 'strict', 'Token-Permissions scores 0, below the required 5', false)),
      true,
      r.response?.status?.message,
    );
  });

  it('the same workload in a namespace whose tier selects a policy it passes: admitted', async () => {
    const { send } = await setup();
    assert.equal(send('github.com/acme/api', 'lenient').response?.allowed, true);
    const strict = send('github.com/ok/api', 'strict');
    assert.equal(strict.response?.allowed, false);
    assert.match(strict.response?.status?.message ?? '', /selected by this namespace's posture\.dev\/policy label: Token-Permissions scores 0/);
  });

  it('the first policy whose repositories match applies without a tier; none matching: admitted', async () => {
    const { send } = await setup();
    assert.equal(send('github.com/ok/api').response?.allowed, true);
    assert.equal(send('github.com/none/api').response?.allowed, true);
  });

  for (const [mode, allowed, warned] of [
    ['allow', true, false],
    ['warn', true, true],
    ['deny', false, false],
  ] as const) {
    it(`unknown (a required check missing) follows gateUnknown=${mode}`, async () => {
      const { send } = await setup({ unknown: mode });
      const r = send('github.com/rev/api');
      const message = policyUnknownMessage('github.com/rev/api', 'reviewed', 'Code-Review is required (>= 5) but the result has no such check');
      assert.equal(r.response?.allowed, allowed);
      if (!allowed) assert.ok(r.response?.status?.message?.endsWith(message));
      assert.deepEqual(r.response?.warnings ?? [], warned ? [message] : []);
    });
  }

  it('no score at all follows gateUnknown', async () => {
    const { send } = await setup({ unknown: 'deny' });
    const r = send('github.com/acme/unscored');
    assert.equal(r.response?.allowed, false);
    assert.ok(r.response?.status?.message?.endsWith(unknownMessage('github.com/acme/unscored')));
  });

  it('maxAge: a pass older than maxAge is unknown at the request, without a new pull', async () => {
    const { send, clock } = await setup({ unknown: 'deny' });
    assert.equal(send('github.com/ok/api').response?.allowed, true);
    clock.now = RESULT_TIME + 31 * 86_400_000;
    const r = send('github.com/ok/api');
    assert.equal(r.response?.allowed, false);
    assert.match(r.response?.status?.message ?? '', /cannot be judged by the Scorecard policy lenient: the newest result is 31 days old, older than 30d$/);
  });

  it('a tier naming a policy not in force follows gateUnknown; a value outside the tiers is refused', async () => {
    const { send } = await setup({ unknown: 'deny' });
    assert.ok(send('github.com/acme/api', 'gone').response?.status?.message?.endsWith(noSuchPolicyMessage('gone')));
    const invalid = send('github.com/acme/api', 'invalid');
    assert.equal(invalid.response?.allowed, false);
    assert.ok(invalid.response?.status?.message?.endsWith(INVALID_POLICY_LABEL_MESSAGE));
  });

  it('new policies are evaluated on the next pull, not per request; the old ones stay in force until then', async () => {
    const { send, cache } = await setup();
    assert.equal(send('github.com/acme/api').response?.allowed, false);
    cache.setPolicies(parsed(doc('strict', '  repositories: ["github.com/acme/*"]\n  minimumScore: 5\n')));
    assert.equal(send('github.com/acme/api').response?.allowed, false, 'still the old policy before the pull');
    await cache.refresh();
    assert.equal(send('github.com/acme/api').response?.allowed, true);
    assert.equal(cache.status().policies?.names.join(), 'strict');
  });

  it('scores not loaded: undecided (the failure policy, Ignore, decides)', async () => {
    const cache = new ScoreCache({ feed: new StaticScoreFeed([]), refreshMs: 1000, staleAfterMs: 1000, policies: POLICIES });
    const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services: { scores: cache }, config: defaultConfig() });
    const r = tester.send('scorecard-policy', { operation: 'CREATE', object: deploy('github.com/acme/api'), caller: jane });
    assert.notEqual(r.response?.allowed, false);
  });

  it("no policy in force: a repository with no score is the threshold gate's to refuse, not this webhook's (one refusal, from one webhook)", async () => {
    const cache = new ScoreCache({ feed: new StaticScoreFeed([]), refreshMs: 1000, staleAfterMs: 1000 });
    await cache.refresh();
    const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services: { scores: cache }, config: defaultConfig({ gateUnknown: 'deny' }) });
    const send = (name: string) => tester.send(name, { operation: 'CREATE', object: deploy('github.com/never/scored'), caller: jane });
    assert.equal(send('scorecard-policy').response?.allowed, true);
    assert.equal(send('scorecard-gate').response?.allowed, false);
    const malformed = (name: string) => tester.send(name, { operation: 'CREATE', object: deploy('not a repo'), caller: jane });
    assert.equal(malformed('scorecard-policy').response?.allowed, true, "a malformed repository is the gate's to refuse");
    assert.equal(malformed('scorecard-gate').response?.allowed, false);
  });
});
