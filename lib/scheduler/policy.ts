// How long ticks back off and when the fleet-wide breaker opens: the scheduler's pure decisions.

/**
 * The seed's tick backoff: after an idle or failing tick, skip ticks for a while, doubling up
 * to a cap; any tick that did work resets it. Returns the new backoff (0 = none).
 */
export function nextTickBackoffSeconds(previousSeconds: number, outcome: 'worked' | 'idle' | 'failed', baseSeconds: number, maxSeconds: number): number {
  if (outcome === 'worked') return 0;
  if (previousSeconds <= 0) return Math.min(baseSeconds, maxSeconds);
  return Math.min(maxSeconds, previousSeconds * 2);
}

/** The fleet-wide circuit breaker's settings (POSTURE_BREAKER_*): how many recent runs, over what window, the share that opens it, the probes it lets through. */
export interface BreakerSettings {
  windowSeconds: number;
  sample: number;
  minRuns: number;
  share: number;
  probe: number;
}

export function breakerSettingsOf(config: {
  breakerWindowSeconds: number;
  breakerSample: number;
  breakerMinRuns: number;
  breakerShare: number;
  breakerProbeRuns: number;
}): BreakerSettings {
  return {
    windowSeconds: config.breakerWindowSeconds,
    sample: config.breakerSample,
    minRuns: config.breakerMinRuns,
    share: config.breakerShare,
    probe: config.breakerProbeRuns,
  };
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
