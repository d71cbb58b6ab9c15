// When a repository is due again and how many runs the GitHub budget allows: pure decisions
// the database's statements and the scheduler share, so they sit below both.

/** After a stored score, how long until it is due again: the interval plus a random share of the jitter (random in [0, 1)). */
export function secondsUntilDueAfterSuccess(intervalSeconds: number, jitterSeconds: number, random: number): number {
  const r = Math.min(Math.max(random, 0), 0.999999);
  return intervalSeconds + Math.floor(r * jitterSeconds);
}

/** After the n-th consecutive failure (n >= 1): base·2^(n-1), capped. */
export function failureBackoffSeconds(consecutiveFailures: number, baseSeconds: number, maxSeconds: number): number {
  const n = Math.max(1, Math.floor(consecutiveFailures));
  // 2^n overflows to Infinity long after the cap matters; min() keeps it finite.
  return Math.min(maxSeconds, baseSeconds * 2 ** Math.min(n - 1, 40));
}

/** Runs the GitHub budget allows per hour: tokens × calls per hour ÷ calls per run (0 tokens: unlimited). */
export function runsPerHour(tokenCount: number, callsPerHour: number, callsPerRun: number): number {
  if (tokenCount <= 0) return Number.POSITIVE_INFINITY;
  return Math.floor((tokenCount * callsPerHour) / callsPerRun);
}

/** The clock hour a budget counter belongs to. */
export function budgetHour(now: Date): Date {
  return new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
}
