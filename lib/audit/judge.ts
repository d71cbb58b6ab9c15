// Judging a workload's repository: a function of the repository, so the policy engine (a
// namespace's policy, when it exists) plugs in where the gate's minimum score stands today.
import type { RepoId } from '../repo/identity.ts';

export type AuditVerdict = 'pass' | 'fail' | 'unknown';

export interface Judgement {
  verdict: AuditVerdict;
  reasons: string[];
  /** The score judged, when there is one. */
  score?: number;
  /** The date of that score's result. */
  date?: string;
}

/** Judges one repository (one namespace's view: see JudgeFor). */
export type Judge = (repo: RepoId) => Judgement;

/** The judge of a namespace: its labels may carry policy (posture.dev/min-score today). */
export type JudgeFor = (namespace: { name: string; labels: Readonly<Record<string, string>> }) => Judge;

export interface LatestScore {
  score: number;
  date: string;
}

/** The namespace label that replaces the gate's threshold there (as at admission). */
export const MIN_SCORE_LABEL = 'posture.dev/min-score';

/** The threshold a namespace's label sets, or undefined when absent or not a whole number 0-10. */
export function namespaceThreshold(labels: Readonly<Record<string, string>>): number | undefined {
  const v = labels[MIN_SCORE_LABEL];
  return v !== undefined && /^(10|[0-9])$/.test(v) ? Number(v) : undefined;
}

/**
 * The gate's rule: the latest score must reach the threshold (the namespace's posture.dev/min-score
 * label, else gateThreshold); a repository without a score is unknown.
 */
export function minimumScoreJudge(scores: ReadonlyMap<string, LatestScore>, gateThreshold: number): JudgeFor {
  return (namespace) => {
    const fromLabel = namespaceThreshold(namespace.labels);
    const threshold = fromLabel ?? gateThreshold;
    const where = fromLabel === undefined ? '' : ` set by namespace ${namespace.name}'s ${MIN_SCORE_LABEL} label`;
    return (repo) => {
      const s = scores.get(repo.key);
      if (!s) return { verdict: 'unknown', reasons: [`repository ${repo.canonical} has no OpenSSF Scorecard score in posture yet`] };
      const day = s.date ? ` (${s.date.slice(0, 10)})` : '';
      if (s.score < threshold)
        return {
          verdict: 'fail',
          reasons: [`repository ${repo.canonical} scores ${s.score} on OpenSSF Scorecard${day}, below the minimum of ${threshold}${where}`],
          score: s.score,
          date: s.date,
        };
      return { verdict: 'pass', reasons: [], score: s.score, date: s.date };
    };
  };
}
