// The one evaluation: a Scorecard result and a policy, at a time, to pass, fail or unknown with
// reasons. The API, the dashboard, the CLI, the gate, the events all call this.
import { posix } from 'node:path';
import { defaultWeight, roundLikeScorecard } from './checks.ts';
import type { Policy } from './schema.ts';

export type Verdict = 'pass' | 'fail' | 'unknown';
export const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'unknown'];

/** What evaluation reads of a result: the stored checks or a Scorecard document both fit. */
export interface PolicyInput {
  /** The result's own date. */
  date: string | Date;
  checks: ReadonlyArray<{ name: string; score: number; reason?: string | null; internalError?: boolean }>;
}

/**
 * A rule: `minimumScore`, `checks.<Check>` (a required check), `maxAge`, or `result` (there is
 * none to judge). Stable, so verdicts can be compared and counted across results.
 */
export type RuleId = 'minimumScore' | 'maxAge' | 'result' | `checks.${string}`;

export interface Reason {
  rule: RuleId;
  /** The check a `checks.*` rule is about. */
  check?: string;
  /** fail: the rule is broken; unknown: it cannot be judged. */
  verdict: 'fail' | 'unknown';
  /** What the rule wanted, e.g. `>= 10`. */
  wanted: string;
  /** What the result had, e.g. `0`, `inconclusive`, `missing`, `internal error`, `45 days old`. */
  got: string;
  /** One line for people. */
  message: string;
}

export interface Evaluation {
  policy: string;
  verdict: Verdict;
  /** The policy's own aggregate (one decimal); null when no weighted check is conclusive or there is no result. */
  score: number | null;
  reasons: Reason[];
}

const INTERNAL_ERROR = /^internal error:/i;

function isInternalError(c: PolicyInput['checks'][number]): boolean {
  return c.internalError === true || (typeof c.reason === 'string' && INTERNAL_ERROR.test(c.reason));
}

/**
 * The policy's aggregate: the weighted mean of the conclusive check scores (not -1), each weighted
 * by the policy's weight or Scorecard's own; a weight of 0 leaves a check out. With no weights of
 * its own it is the result's own score (Scorecard's GetAggregateScore).
 */
export function aggregate(checks: PolicyInput['checks'], weights: Readonly<Record<string, number>> = {}): number | null {
  let total = 0;
  let sum = 0;
  for (const c of checks) {
    if (c.score < 0) continue;
    const w = Object.hasOwn(weights, c.name) ? weights[c.name] : defaultWeight(c.name);
    if (!w) continue;
    total += w;
    sum += w * c.score;
  }
  return total === 0 ? null : roundLikeScorecard(sum / total);
}

/** Whether a policy's `repositories` globs take a repository (`host/owner/name`, any case). */
export function policyMatches(policy: Policy, repoKey: string): boolean {
  if (policy.repositories.length === 0) return true;
  const key = repoKey.toLowerCase();
  return policy.repositories.some((g) => posix.matchesGlob(key, g));
}

/** The policy that applies to a repository: the first whose `repositories` match. */
export function policyFor(repoKey: string, policies: readonly Policy[]): Policy | undefined {
  return policies.find((p) => policyMatches(p, repoKey));
}

function ageText(ms: number): string {
  const days = ms / 86_400_000;
  return days >= 2 ? `${Math.floor(days)} days old` : `${Math.floor(ms / 3_600_000)} hours old`;
}

/**
 * Judges a result (undefined: there is none) against a policy at `now`. fail when a rule is
 * broken; unknown when none is but one cannot be judged; pass otherwise. Reasons come in the
 * policy's order: the aggregate, the required checks, the age.
 */
export function evaluate(result: PolicyInput | undefined, policy: Policy, now: Date | number): Evaluation {
  if (!result) {
    return {
      policy: policy.name,
      verdict: 'unknown',
      score: null,
      reasons: [{ rule: 'result', verdict: 'unknown', wanted: 'a result', got: 'none', message: 'no Scorecard result yet' }],
    };
  }
  const reasons: Reason[] = [];
  const score = aggregate(result.checks, policy.weights);
  if (policy.minimumScore !== undefined) {
    const wanted = `>= ${policy.minimumScore}`;
    if (score === null)
      reasons.push({
        rule: 'minimumScore',
        verdict: 'unknown',
        wanted,
        got: 'inconclusive',
        message: `score is inconclusive (no weighted check has a score), wanted ${wanted}`,
      });
    else if (score < policy.minimumScore)
      reasons.push({
        rule: 'minimumScore',
        verdict: 'fail',
        wanted,
        got: String(score),
        message: `score ${score} is below the minimum of ${policy.minimumScore}`,
      });
  }
  for (const { check, minimum } of policy.checks) {
    const rule = `checks.${check}` as const;
    const wanted = `>= ${minimum}`;
    const c = result.checks.find((x) => x.name === check);
    if (!c)
      reasons.push({ rule, check, verdict: 'unknown', wanted, got: 'missing', message: `${check} is required (${wanted}) but the result has no such check` });
    else if (c.score < 0 && isInternalError(c))
      reasons.push({ rule, check, verdict: 'unknown', wanted, got: 'internal error', message: `${check} could not run (internal error), wanted ${wanted}` });
    else if (c.score < 0) reasons.push({ rule, check, verdict: 'unknown', wanted, got: 'inconclusive', message: `${check} is inconclusive, wanted ${wanted}` });
    else if (c.score < minimum)
      reasons.push({ rule, check, verdict: 'fail', wanted, got: String(c.score), message: `${check} scores ${c.score}, below the required ${minimum}` });
  }
  if (policy.maxAgeMs !== undefined) {
    const t = result.date instanceof Date ? result.date.getTime() : Date.parse(result.date);
    const at = typeof now === 'number' ? now : now.getTime();
    const wanted = `newer than ${policy.maxAge}`;
    if (!Number.isFinite(t))
      reasons.push({ rule: 'maxAge', verdict: 'unknown', wanted, got: 'no date', message: `the result has no date, wanted one ${wanted}` });
    else if (at - t > policy.maxAgeMs) {
      const got = ageText(at - t);
      reasons.push({ rule: 'maxAge', verdict: 'unknown', wanted, got, message: `the newest result is ${got}, older than ${policy.maxAge}` });
    }
  }
  const verdict: Verdict = reasons.some((r) => r.verdict === 'fail') ? 'fail' : reasons.length > 0 ? 'unknown' : 'pass';
  return { policy: policy.name, verdict, score, reasons };
}

/** The rules a verdict fails on (what the API, the dashboard and the events carry). */
export function failingRules(e: Evaluation): RuleId[] {
  return e.reasons.filter((r) => r.verdict === 'fail').map((r) => r.rule);
}

/** The reasons as one line, failing ones first (the gate's message, the CLI). */
export function reasonsLine(e: Evaluation): string {
  const fail = e.reasons.filter((r) => r.verdict === 'fail');
  return (fail.length > 0 ? fail : e.reasons).map((r) => r.message).join('; ');
}
