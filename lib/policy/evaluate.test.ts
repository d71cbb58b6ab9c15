import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, fixtureFiles, fixturePath, SHARED_FIXTURES } from '../../test/fixtures/scorecard.ts';
import { aggregate, evaluate, failingRules, type Policy, type PolicyInput, policyFor, roundLikeScorecard } from './index.ts';

type Doc = PolicyInput & { score: number };
const load = (file: string): Doc => JSON.parse(readFileSync(fixturePath(file), 'utf8')) as Doc;

const policy = (p: Partial<Policy> & { name?: string }): Policy => ({ name: 'p', repositories: [], weights: {}, checks: [], ...p });
const at = (iso: string) => Date.parse(iso);

describe('aggregate with Scorecard default weights', () => {
  // Real outputs only: the p* fixtures were written for posture with invented values, so their
  // `score` is not Scorecard's arithmetic. real-* come from the Scorecard binaries (v5.3.0-v5.5.0);
  // the shared corpus (when beside the checkout) holds published v4 and v5 results.
  const real = fixtureFiles().filter((f) => basename(f).startsWith('real-') || (SHARED_FIXTURES !== undefined && f.startsWith(SHARED_FIXTURES)));
  assert.ok(real.length >= 3);
  for (const f of real) {
    it(`reproduces the result's own score: ${basename(f)}`, () => {
      const d = JSON.parse(readFileSync(f, 'utf8')) as Doc;
      assert.equal(aggregate(d.checks), d.score);
      assert.equal(evaluate(d, policy({}), at(String(d.date))).score, d.score);
    });
  }

  it('rounds as Go prints %.1f: a tie goes to the even digit', () => {
    for (const [x, want] of [
      [6.25, 6.2],
      [6.75, 6.8],
      [0.25, 0.2],
      [9.95, 9.9], // 9.9499999999999992895 in binary
      [5.349999, 5.3],
      [5.35, 5.3], // 5.35 is 5.3499999999999996447 in binary: below the tie
      [7.45, 7.5], // 7.45 is 7.4500000000000001776
      [10, 10],
      [0, 0],
    ] as const)
      assert.equal(roundLikeScorecard(x), want, String(x));
  });

  it('a check at -1 is left out, whatever its weight', () => {
    assert.equal(
      aggregate(
        [
          { name: 'Code-Review', score: -1 },
          { name: 'SAST', score: 4 },
        ],
        { 'Code-Review': 10 },
      ),
      4,
    );
  });

  it('no conclusive weighted check: null (inconclusive)', () => {
    assert.equal(aggregate([{ name: 'Code-Review', score: -1 }]), null);
    assert.equal(aggregate([{ name: 'Fuzzing', score: 10 }], { Fuzzing: 0 }), null);
    assert.equal(aggregate([]), null);
  });

  it('a check Scorecard does not define weighs nothing by default, its policy weight when given', () => {
    assert.equal(
      aggregate([
        { name: 'Future-Check', score: 0 },
        { name: 'SAST', score: 8 },
      ]),
      8,
    );
    assert.equal(
      aggregate(
        [
          { name: 'Future-Check', score: 0 },
          { name: 'SAST', score: 8 },
        ],
        { 'Future-Check': 5 },
      ),
      4,
    );
  });
});

describe('evaluate', () => {
  const v550 = load(FIXTURES.realLocalV550); // 5.3; Dangerous-Workflow 10, Token-Permissions 0, Fuzzing -1 internal error, Packaging -1
  const v4 = load(FIXTURES.v4Unsupported); // v4 names; Webhooks -1 "not supported"; Branch-Protection 0
  const restApi = load(FIXTURES.restApi); // v5.3.0; Signed-Releases -1 "internal error: …"
  const now = at('2026-12-08T00:00:00Z');

  const cases: Array<{
    name: string;
    result: PolicyInput | undefined;
    policy: Policy;
    verdict: string;
    score?: number | null;
    rules?: string[];
    got?: string[];
  }> = [
    { name: "no rules: pass with the result's own score", result: v550, policy: policy({}), verdict: 'pass', score: 5.3, rules: [] },
    { name: 'minimum met (5.3 >= 5)', result: v550, policy: policy({ minimumScore: 5 }), verdict: 'pass', rules: [] },
    { name: 'minimum broken (5.3 < 6)', result: v550, policy: policy({ minimumScore: 6 }), verdict: 'fail', rules: ['minimumScore'], got: ['5.3'] },
    {
      name: 'scores above the minimum but fails a required check',
      result: v550,
      policy: policy({ minimumScore: 5, checks: [{ check: 'Token-Permissions', minimum: 5 }] }),
      verdict: 'fail',
      rules: ['checks.Token-Permissions'],
      got: ['0'],
    },
    { name: 'required check met', result: v550, policy: policy({ checks: [{ check: 'Dangerous-Workflow', minimum: 10 }] }), verdict: 'pass', rules: [] },
    {
      name: 'weights of 0 leave checks out: the aggregate of what is left',
      result: v550,
      // Left: Binary-Artifacts 10 (7.5), Dangerous-Workflow 10 (10), Vulnerabilities 10 (7.5), License 9 (2.5): 9.9
      policy: policy({
        minimumScore: 9,
        weights: { 'Dependency-Update-Tool': 0, 'Pinned-Dependencies': 0, SAST: 0, 'Security-Policy': 0, 'Token-Permissions': 0 },
      }),
      verdict: 'pass',
      score: 9.9,
      rules: [],
    },
    {
      name: 'own weights change the aggregate',
      result: v550,
      policy: policy({ minimumScore: 5, weights: { 'Token-Permissions': 100 } }),
      verdict: 'fail',
      score: 2, // 302.5 / 150: Token-Permissions (0) now weighs 100 of 150
      rules: ['minimumScore'],
    },
    {
      name: 'a required check that is inconclusive: unknown',
      result: v550,
      policy: policy({ checks: [{ check: 'Packaging', minimum: 5 }] }),
      verdict: 'unknown',
      rules: [],
      got: ['inconclusive'],
    },
    {
      name: 'a required check missing from the result (v5.5.0 --local runs no Code-Review): unknown',
      result: v550,
      policy: policy({ checks: [{ check: 'Code-Review', minimum: 5 }] }),
      verdict: 'unknown',
      rules: [],
      got: ['missing'],
    },
    {
      name: 'a required check with an internal error (real v5.5.0 Fuzzing): unknown',
      result: v550,
      policy: policy({ checks: [{ check: 'Fuzzing', minimum: 1 }] }),
      verdict: 'unknown',
      rules: [],
      got: ['internal error'],
    },
    {
      name: 'internal error in the REST API shape (Signed-Releases)',
      result: restApi,
      policy: policy({ checks: [{ check: 'Signed-Releases', minimum: 8 }] }),
      verdict: 'unknown',
      got: ['internal error'],
    },
    {
      name: 'a broken rule wins over one that cannot be judged',
      result: v550,
      policy: policy({
        checks: [
          { check: 'Packaging', minimum: 5 },
          { check: 'SAST', minimum: 5 },
        ],
      }),
      verdict: 'fail',
      rules: ['checks.SAST'],
      got: ['inconclusive', '0'],
    },
    {
      name: 'v4 names: Branch-Protection required',
      result: v4,
      policy: policy({ checks: [{ check: 'Branch-Protection', minimum: 5 }] }),
      verdict: 'fail',
      rules: ['checks.Branch-Protection'],
    },
    {
      name: 'v4: the experimental Webhooks at -1 "not supported" is inconclusive, not an internal error',
      result: v4,
      policy: policy({ checks: [{ check: 'Webhooks', minimum: 5 }] }),
      verdict: 'unknown',
      got: ['inconclusive'],
    },
    {
      name: 'v4: Webhooks at -1 is out of the aggregate even when weighted',
      result: v4,
      policy: policy({ weights: { Webhooks: 100 }, minimumScore: 0 }),
      verdict: 'pass',
      score: aggregate(v4.checks),
    },
    { name: 'no result: unknown', result: undefined, policy: policy({ minimumScore: 0 }), verdict: 'unknown', score: null, got: ['none'] },
    {
      name: 'everything weighted 0: the minimum cannot be judged',
      result: { date: '2026-12-01', checks: [{ name: 'SAST', score: 10 }] },
      policy: policy({ minimumScore: 5, weights: { SAST: 0 } }),
      verdict: 'unknown',
      score: null,
      got: ['inconclusive'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = evaluate(c.result, c.policy, now);
      assert.equal(e.verdict, c.verdict, JSON.stringify(e.reasons));
      if (c.score !== undefined) assert.equal(e.score, c.score);
      if (c.rules) assert.deepEqual(failingRules(e), c.rules);
      if (c.got)
        assert.deepEqual(
          e.reasons.map((r) => r.got),
          c.got,
        );
      for (const r of e.reasons) assert.ok(r.message.length > 0 && !r.message.includes('\n'));
    });
  }

  describe('maxAge', () => {
    const p = policy({ maxAge: '30d', maxAgeMs: 30 * 86_400_000 });
    it('younger than maxAge: pass', () => assert.equal(evaluate(v550, p, at('2027-01-05T00:00:00Z')).verdict, 'pass'));
    it('older than maxAge: unknown, saying how old', () => {
      const e = evaluate(v550, p, at('2027-01-08T00:00:00Z'));
      assert.equal(e.verdict, 'unknown');
      assert.deepEqual(
        e.reasons.map((r) => [r.rule, r.got]),
        [['maxAge', '31 days old']],
      );
    });
    it('a date-only v4 result is judged from midnight UTC', () => {
      const d = load(FIXTURES.v4DateOnly);
      const t = Date.parse(String(d.date));
      assert.equal(evaluate(d, p, t + 30 * 86_400_000).verdict, 'pass');
      assert.equal(evaluate(d, p, t + 30 * 86_400_000 + 1).verdict, 'unknown');
    });
    it('old and failing: fail (a broken rule wins)', () => {
      const e = evaluate(v550, { ...p, minimumScore: 9 }, at('2028-01-01T00:00:00Z'));
      assert.equal(e.verdict, 'fail');
      assert.deepEqual(failingRules(e), ['minimumScore']);
    });
  });

  it('each reason names the rule, the check, what it wanted and what it got', () => {
    const e = evaluate(v550, policy({ checks: [{ check: 'Token-Permissions', minimum: 5 }] }), now);
    assert.deepEqual(e.reasons, [
      {
        rule: 'checks.Token-Permissions',
        check: 'Token-Permissions',
        verdict: 'fail',
        wanted: '>= 5',
        got: '0',
        message: 'Token-Permissions scores 0, below the required 5',
      },
    ]);
  });

  it('internal errors are told by the stored flag too', () => {
    const e = evaluate(
      { date: '2026-12-01', checks: [{ name: 'SAST', score: -1, reason: 'x', internalError: true }] },
      policy({ checks: [{ check: 'SAST', minimum: 1 }] }),
      now,
    );
    assert.equal(e.reasons[0].got, 'internal error');
  });
});

describe('policyFor', () => {
  const a = policy({ name: 'acme', repositories: ['github.com/acme/*'] });
  const b = policy({ name: 'everything' });
  it('the first document whose globs match', () => {
    assert.equal(policyFor('github.com/acme/api', [a, b])?.name, 'acme');
    assert.equal(policyFor('github.com/other/api', [a, b])?.name, 'everything');
    assert.equal(policyFor('github.com/acme/api', [b, a])?.name, 'everything');
  });
  it('* stays within one path segment; ** crosses them; case does not matter', () => {
    assert.equal(policyFor('github.com/acme/api/extra', [a]), undefined);
    assert.equal(policyFor('GitHub.com/ACME/Api', [a])?.name, 'acme');
    assert.equal(policyFor('gitlab.example.com/acme/api', [policy({ repositories: ['**/acme/*'] })])?.name, 'p');
  });
  it('no match: none applies', () => assert.equal(policyFor('github.com/x/y', [a]), undefined));
});
