// Judging stored results: lib/db reads a repository's newest result and keeps its verdict,
// lib/policy evaluates. Used by the harvester after it stores results (and to send
// policy.changed) and by the API's sweep when the policies change.
import type { Db } from '../db/connect.ts';
import { type ResultToJudge, replaceVerdicts, reposNeedingJudgement, resultsToJudge, type StoredVerdict } from '../db/policy-verdicts.ts';
import { evaluate, failingRules, policyFor } from './evaluate.ts';
import type { PolicySet } from './parse.ts';

/** A repository whose verdict a new judgement changed. */
export interface VerdictChange {
  repoId: number;
  repo: string;
  before: StoredVerdict;
  after: StoredVerdict;
  /** Rules failing now that were not before. */
  nowFailing: string[];
  /** Rules that failed before and do not now. */
  noLongerFailing: string[];
}

/** What lib/policy says of one result, as it is stored (its verdict without its age; expiresAt carries maxAge). */
export function verdictOf(r: ResultToJudge, set: PolicySet): StoredVerdict {
  const policy = policyFor(r.key, set.policies);
  if (!policy)
    return { repoId: r.repoId, scoreId: r.scoreId, digest: set.digest, policy: null, verdict: null, score: null, failing: [], reasons: [], expiresAt: null };
  const result = r.scoreId === null || r.resultDate === null ? undefined : { date: r.resultDate, checks: r.checks };
  // At the result's own time: its age is read against expiresAt when the verdict is read.
  const e = evaluate(result, policy, r.resultDate ?? Date.now());
  return {
    repoId: r.repoId,
    scoreId: r.scoreId,
    digest: set.digest,
    policy: policy.name,
    verdict: e.verdict,
    score: e.score,
    failing: failingRules(e),
    reasons: e.reasons,
    expiresAt: result && policy.maxAgeMs !== undefined ? new Date(r.resultDate!.getTime() + policy.maxAgeMs) : null,
  };
}

/** A stored verdict as it reads at `now`: a pass past its expiry (maxAge) is unknown. */
export function effectiveVerdict(v: Pick<StoredVerdict, 'verdict' | 'expiresAt'>, now: Date): StoredVerdict['verdict'] {
  return v.verdict === 'pass' && v.expiresAt !== null && v.expiresAt.getTime() <= now.getTime() ? 'unknown' : v.verdict;
}

/**
 * Judges the newest result of each repository under `set`, stores the verdicts and returns the
 * ones that changed against a verdict stored before under the same policy (a repository judged
 * for the first time, or under other policies, changed nothing a person was told).
 */
export async function judgeRepos(db: Db, set: PolicySet, repoIds: readonly number[], now = new Date()): Promise<VerdictChange[]> {
  const results = await resultsToJudge(db, repoIds);
  const verdicts = results.map((r) => verdictOf(r, set));
  const before = await replaceVerdicts(db, verdicts);
  const out: VerdictChange[] = [];
  for (let i = 0; i < results.length; i++) {
    const after = verdicts[i];
    const prev = before.get(after.repoId);
    if (!prev || prev.policy === null || prev.policy !== after.policy || after.verdict === null) continue;
    const was = effectiveVerdict(prev, now);
    const is = effectiveVerdict(after, now);
    if (was === is) continue;
    const nowFailing = after.failing.filter((f) => !prev.failing.includes(f));
    const noLongerFailing = prev.failing.filter((f) => !after.failing.includes(f));
    out.push({
      repoId: after.repoId,
      repo: results[i].canonical,
      before: { ...prev, verdict: was },
      after: { ...after, verdict: is },
      nowFailing,
      noLongerFailing,
    });
  }
  return out;
}

/** Judges every repository whose verdict is missing or stale under `set`, `batch` at a time; returns how many. */
export async function judgeStale(db: Db, set: PolicySet, options: { batch?: number; stop?: () => boolean } = {}): Promise<number> {
  const batch = options.batch ?? 500;
  let after = 0;
  let n = 0;
  for (;;) {
    if (options.stop?.()) return n;
    const ids = await reposNeedingJudgement(db, set.digest, after, batch);
    if (ids.length === 0) return n;
    await judgeRepos(db, set, ids);
    n += ids.length;
    after = ids[ids.length - 1];
  }
}
