// The GitHub budget from GitHub itself: what GET /rate_limit says is left, per token or App
// installation, turned into the runs a tick may start. Pure.

/** One token's (or the installation's) core REST quota, as /rate_limit answers it. */
export interface RateLimitReading {
  limit: number;
  remaining: number;
  /** When the window resets, in seconds since the epoch. */
  reset: number;
}

export interface BudgetInput {
  readings: readonly RateLimitReading[];
  /** Calls each token (or the installation) keeps unspent (POSTURE_GITHUB_BUDGET_RESERVE). */
  reservePerCredential: number;
  /** Calls one Scorecard run costs (POSTURE_CALLS_PER_RUN). */
  callsPerRun: number;
  /** Repositories being scored now (each active Job counted as a full shard): they have not spent all their calls yet. */
  inFlight: number;
}

/**
 * Runs GitHub's remaining quota pays for: over every credential, what is left above its reserve
 * (Scorecard rotates its tokens call by call, so their remainders add up), less what the runs in
 * flight will still spend (each counted at a whole run: the tick cannot see how far one got),
 * divided by a run's cost. Never negative; no readings (nothing to read): undefined, the caller
 * keeps its own estimate.
 */
export function runsFromRateLimit(input: BudgetInput): number | undefined {
  if (input.readings.length === 0) return undefined;
  const spendable = input.readings.reduce((n, r) => n + Math.max(0, r.remaining - input.reservePerCredential), 0);
  const left = spendable - Math.max(0, input.inFlight) * input.callsPerRun;
  return Math.max(0, Math.floor(left / Math.max(1, input.callsPerRun)));
}

/** The soonest reset among credentials that have nothing left above their reserve (for the log). */
export function soonestReset(readings: readonly RateLimitReading[], reservePerCredential: number): Date | undefined {
  const spent = readings.filter((r) => r.remaining <= reservePerCredential);
  if (spent.length === 0) return undefined;
  return new Date(Math.min(...spent.map((r) => r.reset)) * 1000);
}
