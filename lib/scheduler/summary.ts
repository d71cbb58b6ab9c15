// What one tick did: the handler's reply, and what the ticks table keeps so a repeated slot
// answers the same.
import type { FleetPause } from '../cadence/pause.ts';

export interface TickSummary {
  slot: string;
  status: 'done' | 'duplicate' | 'backed-off' | 'busy' | 'resumed';
  /** A busy reply for a slot that started before: retry it (HTTP 503), it resumes once the lock is free. */
  retry?: boolean;
  claimed: number;
  /** Jobs created (a shard's Job scores several repositories). */
  created: number;
  /** Repositories in the Jobs created or found existing: what this tick started scoring. */
  scheduled: number;
  /** Jobs that already existed (a retried create answered 409, or a create whose answer was lost). */
  existing: number;
  skipped: Array<{ repo: string; why: string }>;
  errors: string[];
  active: number;
  capacity: number;
  budgetGranted: number;
  /** Open when most recent runs failed for the infrastructure's reasons: only a probe is started. */
  breaker: { open: boolean; infrastructure: number; total: number };
  /** The fleet is paused for GitHub's sake (a refused token, a spent rate limit); absent when it is not. */
  paused?: FleetPause;
  reconciled: {
    harvested: number;
    removed: number;
    lost: number;
    leasesReleased: number;
    /** Harvested Jobs deleted here because the harvester's delete failed. */
    deleted: number;
    /** Jobs whose harvest was rejected: their run is closed, the Job deleted. */
    rejected: number;
    /** Claims of a tick that died before recording them, given back (same window, budget refunded). */
    orphans: number;
    /** Creates whose answer was lost, settled by asking for the Job by name. */
    settled: number;
    /** Runs whose create may still be in flight: counted as active. */
    inFlight: number;
  };
  notBefore?: string;
}

export function emptySummary(slot: string, status: TickSummary['status']): TickSummary {
  return {
    slot,
    status,
    claimed: 0,
    created: 0,
    scheduled: 0,
    existing: 0,
    skipped: [],
    errors: [],
    active: 0,
    capacity: 0,
    budgetGranted: 0,
    breaker: { open: false, infrastructure: 0, total: 0 },
    reconciled: { harvested: 0, removed: 0, lost: 0, leasesReleased: 0, deleted: 0, rejected: 0, orphans: 0, settled: 0, inFlight: 0 },
  };
}
