// When is a repository due again, and how long do ticks back off: pure decisions.

/** After a stored score: the interval plus a random share of the jitter (random in [0, 1)). */
export function nextDueAfterSuccess(finishedAt: Date, intervalSeconds: number, jitterSeconds: number, random: number): Date {
  const r = Math.min(Math.max(random, 0), 0.999999);
  return new Date(finishedAt.getTime() + (intervalSeconds + Math.floor(r * jitterSeconds)) * 1000);
}

/** After the n-th consecutive failure (n >= 1): base·2^(n-1), capped. */
export function failureBackoffSeconds(consecutiveFailures: number, baseSeconds: number, maxSeconds: number): number {
  const n = Math.max(1, Math.floor(consecutiveFailures));
  // 2^n overflows to Infinity long after the cap matters; min() keeps it finite.
  return Math.min(maxSeconds, baseSeconds * 2 ** Math.min(n - 1, 40));
}

/**
 * The seed's tick backoff: after an idle or failing tick, skip ticks for a while, doubling up
 * to a cap; any tick that did work resets it. Returns the new backoff (0 = none).
 */
export function nextTickBackoffSeconds(previousSeconds: number, outcome: 'worked' | 'idle' | 'failed', baseSeconds: number, maxSeconds: number): number {
  if (outcome === 'worked') return 0;
  if (previousSeconds <= 0) return Math.min(baseSeconds, maxSeconds);
  return Math.min(maxSeconds, previousSeconds * 2);
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

/** The fleet-wide circuit breaker's settings (POSTURE_BREAKER_*): how many recent runs, over what window, the share that opens it, the probes it lets through. */
export interface BreakerSettings {
  windowSeconds: number;
  sample: number;
  minRuns: number;
  share: number;
  probe: number;
}

export function breakerSettingsOf(config: { breakerWindowSeconds: number; breakerSample: number; breakerMinRuns: number; breakerShare: number; breakerProbeRuns: number }): BreakerSettings {
  return { windowSeconds: config.breakerWindowSeconds, sample: config.breakerSample, minRuns: config.breakerMinRuns, share: config.breakerShare, probe: config.breakerProbeRuns };
}

export interface BreakerDecision {
  open: boolean;
  infrastructure: number;
  total: number;
  /** Runs a tick may still start while open: a probe, so the fleet recovers when the outage ends. */
  allowed: number;
}

/**
 * Opens when most of the recent runs (failure classes, null = success) failed for the
 * infrastructure's reasons: a DNS or GitHub outage would otherwise spend the whole budget on
 * runs that cannot succeed. Open, it lets `probe` runs through per tick.
 */
export function breakerDecision(recent: ReadonlyArray<string | null>, options: Pick<BreakerSettings, 'minRuns' | 'share' | 'probe'>): BreakerDecision {
  const total = recent.length;
  const infrastructure = recent.filter((c) => c === 'infrastructure').length;
  const open = total >= options.minRuns && infrastructure / total > options.share;
  return { open, infrastructure, total, allowed: open ? options.probe : Number.POSITIVE_INFINITY };
}

/**
 * How a tick's work decides the backoff: a tick that made progress (created, found or
 * harvested a Job, or found the cap full) worked, whatever failed beside it; one that could
 * not do its own work (list, claim, create) failed; otherwise it was idle. One Job's failure
 * is that Job's, never the tick's.
 */
export function tickOutcome(t: { progress: number; capacity: number; systemic: boolean }): 'worked' | 'idle' | 'failed' {
  if (t.progress > 0 || t.capacity === 0) return 'worked';
  return t.systemic ? 'failed' : 'idle';
}
