import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { runCliCaptured } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-policy-cli-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const policy = (name: string, spec: string) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;

// real v5.5.0 --local: 5.3, Token-Permissions 0, Dangerous-Workflow 10, Fuzzing -1 (internal error), no Code-Review.
const RESULT = fixturePath(FIXTURES.realLocalV550);
const POLICIES = file(
  'policies.yaml',
  [
    policy('strict', '  minimumScore: 5\n  checks: {Token-Permissions: {minimum: 5}}\n'),
    policy('reviewed', '  checks: {Code-Review: {minimum: 5}}\n'),
    policy('lenient', '  minimumScore: 5\n  checks: {Dangerous-Workflow: {minimum: 10}}\n'),
  ].join('---\n'),
);

describe('posture policy check', () => {
  for (const [name, code, verdict] of [
    ['lenient', 0, 'pass'],
    ['strict', 4, 'fail'],
    ['reviewed', 5, 'unknown'],
  ] as const) {
    it(`${verdict}: exit ${code}`, async () => {
      const run = await runCliCaptured(['policy', 'check', '--policy', POLICIES, '--name', name, RESULT], {});
      assert.equal(run.code, code, run.stderr);
      assert.match(run.stdout, new RegExp(`^file://\\.: ${verdict} under policy ${name} \\(policy score 5\\.3 / 10\\)\\n`));
    });
  }

  it('-o json prints {repo, policy, verdict, score, reasons}', async () => {
    const run = await runCliCaptured(['policy', 'check', '--policy', POLICIES, '--name', 'strict', '-o', 'json', RESULT], {});
    assert.equal(run.code, 4);
    assert.deepEqual(JSON.parse(run.stdout), {
      repo: 'file://.',
      policy: 'strict',
      verdict: 'fail',
      score: 5.3,
      reasons: [
        {
          rule: 'checks.Token-Permissions',
          check: 'Token-Permissions',
          verdict: 'fail',
          wanted: '>= 5',
          got: '0',
          message: 'Token-Permissions scores 0, below the required 5',
        },
      ],
    });
  });

  it('the policy file from POSTURE_POLICY_FILE; the first document that matches', async () => {
    const f = file('match.yaml', [policy('other', '  repositories: ["github.com/x/*"]\n'), policy('all', '  minimumScore: 6\n')].join('---\n'));
    const run = await runCliCaptured(['policy', 'check', RESULT], { POSTURE_POLICY_FILE: f });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stdout, /under policy all /);
  });

  it('a result on standard input', async () => {
    const { readFileSync } = await import('node:fs');
    const run = await runCliCaptured(['policy', 'check', '--policy', POLICIES, '--name', 'lenient', '-'], {}, readFileSync(RESULT, 'utf8'));
    assert.equal(run.code, 0, run.stderr);
  });

  for (const [what, argv, code, err] of [
    [
      'an invalid policy',
      ['--policy', file('bad.yaml', policy('a', '  minimumScore: 12\n')), RESULT],
      2,
      /^posture: invalid policy file ".*bad\.yaml": document 1: \/spec\/minimumScore must be <= 10\n$/,
    ],
    ['an invalid result', ['--policy', POLICIES, '--name', 'strict', file('r.json', '{"score": 3}')], 2, /^posture: ".*r\.json" is not a Scorecard result: /],
    ['a result that is not JSON', ['--policy', POLICIES, '--name', 'strict', file('x.json', 'nope')], 2, /is not JSON: /],
    ['no such policy name', ['--policy', POLICIES, '--name', 'nope', RESULT], 2, /has no policy named "nope" \(it has strict, reviewed, lenient\)\n$/],
    [
      'no policy matches',
      ['--policy', file('none.yaml', policy('a', '  repositories: ["github.com/x/*"]\n')), RESULT],
      2,
      /no policy in .* applies to file:\/\/\./,
    ],
    ['no policy file at all', [RESULT], 1, /no policy: give --policy FILE or set POSTURE_POLICY_FILE/],
    ['a missing policy file', ['--policy', join(dir, 'missing.yaml'), RESULT], 1, /cannot read ".*missing\.yaml": no such file/],
  ] as const) {
    it(`${what}: exit ${code}, one line`, async () => {
      const run = await runCliCaptured(['policy', 'check', ...argv], {});
      assert.equal(run.code, code, run.stderr);
      assert.match(run.stderr, err);
    });
  }
});

describe('posture policy lint', () => {
  it('a valid file: its policies, exit 0', async () => {
    const run = await runCliCaptured(['policy', 'lint', POLICIES], {});
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      `strict: every repository; score >= 5, Token-Permissions >= 5\nreviewed: every repository; Code-Review >= 5\nlenient: every repository; score >= 5, Dangerous-Workflow >= 10\n${POLICIES}: 3 policies, valid\n`,
    );
  });
  it('an invalid one: exit 2, one line naming the document and field', async () => {
    const run = await runCliCaptured(['policy', 'lint', file('bad2.yaml', `${policy('a', '  {}\n')}---\n${policy('b', '  maxAge: 1 month\n')}`)], {});
    assert.equal(run.code, 2);
    assert.match(run.stderr, /: document 2: \/spec\/maxAge must be a duration such as 30d, 12h or 2w\n$/);
    assert.equal(run.stderr.split('\n').length, 2);
  });
});
