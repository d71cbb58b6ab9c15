// Scorecard policies on the gate's path, in process:
//   1. evaluate(): one real result (v5.5.0, 11 checks) against a policy with weights, three
//      required checks and maxAge, per call;
//   2. judging a pull: PolicyVerdicts.judge for 200,000 repositories under three policies (what a
//      pull after a policy change costs the admission server), and its bytes per repository;
//   3. the hot path: scorecard-policy's authorize through the dispatcher on a cache hit, beside
//      scorecard-gate's (the threshold alone) on the same review, medians of several runs.
// Goal: the policy webhook within 10% of the gate per review (verdicts are read, never evaluated,
// per request).
//
//   node bench/policy.ts [--runs 5]
import { readFileSync } from 'node:fs';
import { WEBHOOKS_DIR } from '../functions/admission/webhooks-dir.ts';
import { Dispatcher } from '../lib/admission/dispatcher.ts';
import { PolicyVerdicts } from '../lib/admission/policy-verdicts.ts';
import { loadRegistry } from '../lib/admission/registry.ts';
import { ScoreCache, type ScoreRow, StaticScoreFeed } from '../lib/admission/scores.ts';
import type { AdmissionServices } from '../lib/admission/services.ts';
import { admissionReview, object, user } from '../lib/admission/testing.ts';
import { defaultConfig } from '../lib/config/index.ts';
import { evaluate, parsePolicies } from '../lib/policy/index.ts';
import { FIXTURES, fixturePath } from '../test/fixtures/scorecard.ts';
import { arg, median } from './_util.ts';

const RUNS = Number(arg('runs', '5'));
const real = JSON.parse(readFileSync(fixturePath(FIXTURES.realLocalV550), 'utf8')) as {
  date: string;
  checks: Array<{ name: string; score: number; reason: string }>;
};
const checks = real.checks.map((c) => ({ name: c.name, score: c.score, internalError: c.reason.startsWith('internal error:') }));
const doc = (name: string, spec: string) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const parsed = parsePolicies(
  [
    doc(
      'production',
      '  repositories: ["github.com/acme/*"]\n  minimumScore: 5\n  weights: {Fuzzing: 0}\n  checks: {Dangerous-Workflow: {minimum: 10}, Binary-Artifacts: {minimum: 8}, Vulnerabilities: {minimum: 8}}\n  maxAge: 30d\n',
    ),
    doc('staging', '  minimumScore: 4\n  checks: {Dangerous-Workflow: {minimum: 10}}\n'),
    doc('sandbox', '  minimumScore: 2\n'),
  ].join('---\n'),
);
if (!parsed.ok) throw new Error(parsed.error);
const set = parsed.set;

// 1. evaluate()
{
  const input = { date: real.date, checks };
  const now = Date.parse(real.date) + 86_400_000;
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const n = 200_000;
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) evaluate(input, set.policies[0], now);
    times.push(Number(process.hrtime.bigint() - t) / n);
  }
  console.log(`evaluate(): ${(median(times) / 1000).toFixed(2)} µs a call (median of ${RUNS})`);
}

// 2. judging a pull of 200,000 repositories under three policies
{
  const N = 200_000;
  const times: number[] = [];
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const v = new PolicyVerdicts(set, N);
    const input = { date: real.date, checks };
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) v.judge(i, `github.com/acme/repo-${i}`, input);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    bytes = v.bytes;
  }
  console.log(
    `judging a pull: ${N.toLocaleString('en')} repositories under ${set.policies.length} policies in ${median(times).toFixed(0)} ms (${((median(times) * 1000) / N).toFixed(2)} µs a repository); ${(bytes / N).toFixed(1)} bytes a repository`,
  );
}

// 3. the hot path: the policy webhook beside the gate, on a cache hit
{
  const rows: ScoreRow[] = Array.from({ length: 10_000 }, (_, i) => ({
    repoKey: `github.com/acme/repo-${i}`,
    repo: `github.com/acme/repo-${i}`,
    score: 7.2,
    date: new Date(Date.now() - 86_400_000).toISOString(),
    updatedAt: new Date(),
    checks,
  }));
  const cache = new ScoreCache({ feed: new StaticScoreFeed(rows), refreshMs: 60_000, staleAfterMs: 1e12, policies: set });
  await cache.refresh();
  const registry = await loadRegistry<AdmissionServices>(WEBHOOKS_DIR, defaultConfig({ gateUnknown: 'allow' }));
  const dispatcher = new Dispatcher<AdmissionServices>({ registry, services: { scores: cache } });
  const deploy = object('Deployment', 'web', {
    namespace: 'team',
    annotations: { 'posture.dev/source-repo': 'github.com/acme/repo-42' },
    spec: { template: { metadata: {}, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
  });
  const body = Buffer.from(JSON.stringify(admissionReview({ operation: 'CREATE', object: deploy, caller: user('jane', 'devs') })));
  const per = (path: string) => {
    const n = 50_000;
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) dispatcher.dispatch({ method: 'POST', path, contentType: 'application/json', body });
    return Number(process.hrtime.bigint() - t) / n / 1000;
  };
  const first = dispatcher.dispatch({ method: 'POST', path: '/scorecard-policy', contentType: 'application/json', body });
  if (!first.body.includes('"allowed":true')) throw new Error(`the policy webhook should admit: ${first.body}`);
  per('/scorecard-gate');
  per('/scorecard-policy');
  const gate: number[] = [];
  const policy: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    gate.push(per('/scorecard-gate'));
    policy.push(per('/scorecard-policy'));
  }
  console.log(
    `one review in process: scorecard-gate ${median(gate).toFixed(2)} µs, scorecard-policy ${median(policy).toFixed(2)} µs (${(median(policy) / median(gate)).toFixed(3)}x; medians of ${RUNS})`,
  );
}
