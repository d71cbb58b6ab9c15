// Scorecard's checks and their risk, as its own aggregate weighs them. Read from
// ossf/scorecard docs/checks/internal/checks.yaml (the source of truth its docs are generated
// from; commit 40c1e3599, 2026-08-07) and pkg/scorecard/scorecard_result.go GetAggregateScore:
// the aggregate is the mean of the check scores that are not inconclusive (-1), each weighted by
// its risk (Critical 10, High 7.5, Medium 5, Low 2.5), printed with `%.1f`.

export type Risk = 'Critical' | 'High' | 'Medium' | 'Low';

export const RISK_WEIGHT: Readonly<Record<Risk, number>> = { Critical: 10, High: 7.5, Medium: 5, Low: 2.5 };

/** Every check Scorecard v4 and v5 report, with its risk. */
export const CHECK_RISK: Readonly<Record<string, Risk>> = {
  Maintained: 'High',
  'Dependency-Update-Tool': 'High',
  'Binary-Artifacts': 'High',
  'Branch-Protection': 'High',
  'CI-Tests': 'Low',
  'CII-Best-Practices': 'Low',
  'Code-Review': 'High',
  Contributors: 'Low',
  Fuzzing: 'Medium',
  Packaging: 'Medium',
  'Pinned-Dependencies': 'Medium',
  SAST: 'Medium',
  SBOM: 'Medium',
  'Security-Policy': 'Medium',
  'Signed-Releases': 'High',
  'Token-Permissions': 'High',
  Vulnerabilities: 'High',
  'Dangerous-Workflow': 'Critical',
  License: 'Low',
  Webhooks: 'Critical',
};

export const CHECK_NAMES: readonly string[] = Object.keys(CHECK_RISK).sort();

/** Scorecard's own weight of a check; undefined for a check it does not define (left out of the default aggregate). */
export function defaultWeight(check: string): number | undefined {
  const risk = CHECK_RISK[check];
  return risk === undefined ? undefined : RISK_WEIGHT[risk];
}

/**
 * One decimal, as Go's `%.1f` prints a float64: the nearest of the exact binary value, a tie to
 * the even digit (JavaScript's toFixed takes the larger on a tie, so 6.25 would print 6.3 where
 * Scorecard prints 6.2). A tie needs x·10 exactly halfway, which a binary float reaches only when
 * x·4 is an odd integer.
 */
export function roundLikeScorecard(x: number): number {
  const q = x * 4;
  if (Number.isInteger(q) && q % 2 !== 0) {
    const down = Math.floor(x * 10);
    return (down % 2 === 0 ? down : down + 1) / 10;
  }
  return Number(x.toFixed(1));
}
