import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_POLICIES, parsePolicies } from './index.ts';

const doc = (name: string, spec: string) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;

const ISSUE_EXAMPLE = `apiVersion: posture.dev/v1alpha1
kind: ScorecardPolicy
metadata: {name: production}
spec:
  repositories: ["github.com/acme/*"]   # globs; default every repository
  minimumScore: 6                       # on the policy's own aggregate
  weights: {Code-Review: 10, Fuzzing: 0} # per check; 0 leaves it out; default: Scorecard's own
  checks:                                # required checks
    Dangerous-Workflow: {minimum: 10}
    Branch-Protection: {minimum: 5}
  maxAge: 30d                            # newest result older than this: unknown
`;

describe('parsePolicies', () => {
  it('reads the example of the issue', () => {
    const r = parsePolicies(ISSUE_EXAMPLE);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.set.policies, [
      {
        name: 'production',
        repositories: ['github.com/acme/*'],
        minimumScore: 6,
        weights: { 'Code-Review': 10, Fuzzing: 0 },
        checks: [
          { check: 'Dangerous-Workflow', minimum: 10 },
          { check: 'Branch-Protection', minimum: 5 },
        ],
        maxAge: '30d',
        maxAgeMs: 30 * 86_400_000,
      },
    ]);
  });

  it('several documents, in order; empty documents and comments hold none', () => {
    const r = parsePolicies(`# policies\n---\n${doc('a', '  minimumScore: 1\n')}---\n# nothing\n---\n${doc('b', '  {}\n')}`);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(
      r.set.policies.map((p) => p.name),
      ['a', 'b'],
    );
    const empty = parsePolicies('# no policy yet\n');
    assert.ok(empty.ok);
    assert.equal(empty.set.policies.length, 0);
  });

  it('the digest follows what is evaluated, not comments or key order', () => {
    const a = parsePolicies(doc('a', '  minimumScore: 6\n  maxAge: 30d\n'));
    const b = parsePolicies(`# a comment\n${doc('a', '  maxAge: 30d\n  minimumScore: 6\n')}`);
    const c = parsePolicies(doc('a', '  minimumScore: 7\n  maxAge: 30d\n'));
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(a.set.digest, b.set.digest);
    assert.notEqual(a.set.digest, c.set.digest);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['minimum above 10', doc('a', '  checks: {SAST: {minimum: 11}}\n'), /^document 1: \/spec\/checks\/SAST\/minimum must be <= 10$/],
    ['minimumScore below 0', doc('a', '  minimumScore: -1\n'), /^document 1: \/spec\/minimumScore must be >= 0$/],
    ['negative weight', doc('a', '  weights: {SAST: -2}\n'), /^document 1: \/spec\/weights\/SAST must be >= 0$/],
    ['maxAge not a duration', doc('a', '  maxAge: 30 days\n'), /^document 1: \/spec\/maxAge must be a duration such as 30d, 12h or 2w$/],
    ['unknown field', doc('a', '  minScore: 6\n'), /^document 1: \/spec has an unknown field "minScore"$/],
    ['wrong kind', 'apiVersion: posture.dev/v1alpha1\nkind: Policy\nmetadata: {name: a}\nspec: {}\n', /^document 1: \/kind must be "ScorecardPolicy"$/],
    ['a misspelt check', doc('a', '  checks: {Code-Reveiw: {minimum: 5}}\n'), /^document 1 \(a\): unknown check "Code-Reveiw": Scorecard's checks are /],
    ['a check in the wrong case', doc('a', '  weights: {code-review: 5}\n'), /did you mean Code-Review\?$/],
    ['a name that is no DNS label', doc('Prod_1', '  {}\n'), /^document 1: \/metadata\/name must be a DNS label/],
    ['two policies of one name', `${doc('a', '  {}\n')}---\n${doc('a', '  {}\n')}`, /^document 2: a policy named a is already defined in this file$/],
    ['not YAML', 'spec: [\n', /^document 1: not YAML/],
    ['a YAML alias (no billion laughs)', 'a: &x [1]\nb: *x\n', /^document 1: /],
    ['a list, not a document', '- 1\n', /^document 1: \(document\) must be object$/],
    ['the second document bad: the file is refused whole', `${doc('a', '  {}\n')}---\n${doc('b', '  minimumScore: 12\n')}`, /^document 2: /],
  ];
  for (const [name, text, want] of bad) {
    it(`refuses ${name} in one line`, () => {
      const r = parsePolicies(text);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.match(r.error, want);
      assert.ok(!r.error.includes('\n'));
    });
  }

  it(`at most ${MAX_POLICIES} policies`, () => {
    const text = Array.from({ length: MAX_POLICIES + 1 }, (_, i) => doc(`p${i}`, '  {}\n')).join('---\n');
    const r = parsePolicies(text);
    assert.equal(r.ok, false);
  });
});
