// The fleet page's figures. Two kinds: aggregates over every repository (counts by state, the
// score histogram, per-check pass rates, how many are due), kept as a snapshot in the database
// and recomputed in the background when older than a minute (they scan every newest result,
// which at a million repositories takes seconds, not milliseconds); and small lists read live
// from indexes on each request (lowest scores, biggest recent drops, recent failures, running
// Jobs, this hour's budget).

import { runsPerHour } from '../cadence/cadence.ts';
import { type FleetPause, fleetPause } from '../cadence/pause.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import {
  biggestDrops,
  checkPassRates,
  claimFleetSnapshotRefresh,
  countsByScoreFloor,
  dueRepoCount,
  failedRunsByClass,
  hasReposOfOwner,
  type LatestScore,
  lowestScores,
  pendingRunCount,
  recentFailedRuns,
  releaseFleetSnapshotRefresh,
  resultsStoredSince,
  saveFleetSnapshot,
  stateCounts,
  storedFleetSnapshot,
  stuckRepoCount,
} from '../db/fleet.ts';
import { recentOutcomes } from '../db/runs.ts';
import { budgetUsed, getSchedulerState } from '../db/scheduler-state.ts';
import { DEMO_OWNER } from '../repo/demo.ts';
import { type FreshnessConfig, freshCutoff } from './list.ts';

export type FleetConfig = FreshnessConfig &
  Pick<Config, 'githubTokenCount' | 'githubCallsPerHour' | 'callsPerRun' | 'maxConcurrentJobs' | 'breakerWindowSeconds' | 'breakerSample' | 'stuckAfterRuns'>;

/** A check passes at 8 or more (Scorecard's own scale has no pass mark; 8 is "mostly done"). */
export const CHECK_PASS = 8;
/** How old a snapshot may be before a request starts a refresh (it is still served meanwhile); at least ten times what the last one took. */
export const SNAPSHOT_MAX_AGE_MS = 60_000;
/** A refresh that has not finished after this long is presumed dead; another may start. */
const REFRESH_LEASE_MS = 5 * 60_000;

export interface FleetSnapshot {
  computedAt: string;
  tookMs: number;
  total: number;
  states: { fresh: number; overdue: number; failing: number; never: number };
  /** Repositories by newest score, floor(score): index 0 is [0, 1), …, 10 is exactly 10. */
  histogram: number[];
  checks: Array<{ name: string; passing: number; scored: number; average: number | null }>;
  /** Repositories whose next due time has passed (the sweep's backlog). */
  due: number;
  scoredLastHour: number;
  scoredLastDay: number;
  /** Failed runs of the last 24 hours by class (aggregated here: the runs are scattered over the table). */
  failuresByClass: Array<{ failureClass: string; count: number }>;
  /** Repositories stuck (POSTURE_STUCK_AFTER_RUNS failures in a row not their own); absent in a snapshot stored before it was counted. */
  stuck?: number;
}

export interface FleetRow {
  repo: string;
  score: number;
  delta: number | null;
  previousScore: number | null;
  scoredAt: string;
}

export interface FleetLive {
  lowest: FleetRow[];
  drops: FleetRow[];
  recentFailures: Array<{ repo: string; failureClass: string; reason: string; at: string }>;
  running: number;
  budget: { used: number; perHour: number | null };
  demo: boolean;
  /** The fleet paused for GitHub's sake (a refused token, a spent rate limit), as the scheduler decides it. */
  paused: FleetPause | null;
}

export async function computeSnapshot(db: Db, config: FleetConfig, now = new Date()): Promise<FleetSnapshot> {
  const started = performance.now();
  const counts = await stateCounts(db, freshCutoff(config, now));
  const histogram = new Array(11).fill(0);
  for (const b of await countsByScoreFloor(db)) histogram[Math.max(0, Math.min(10, b.floor))] += b.count;
  const checks = (await checkPassRates(db, CHECK_PASS)).map((c) => ({ ...c, average: c.average === null ? null : Math.round(c.average * 10) / 10 }));
  const due = await dueRepoCount(db, now);
  const stuck = await stuckRepoCount(db, config.stuckAfterRuns);
  const stored = await resultsStoredSince(db, { recent: new Date(now.getTime() - 3_600_000), earlier: new Date(now.getTime() - 86_400_000) });
  const failuresByClass = (await failedRunsByClass(db, new Date(now.getTime() - 86_400_000))).map((f) => ({
    failureClass: f.failureClass ?? 'unknown',
    count: f.count,
  }));
  return {
    failuresByClass,
    computedAt: now.toISOString(),
    tookMs: Math.round(performance.now() - started),
    total: counts.total,
    states: { fresh: counts.fresh, overdue: counts.overdue, failing: counts.failing, never: counts.never },
    histogram,
    checks,
    due,
    scoredLastHour: stored.recent,
    scoredLastDay: stored.earlier,
    stuck,
  };
}

/** The stored snapshot as it is (no refresh, no computing): undefined before the first one. */
export async function storedSnapshot(db: Db): Promise<FleetSnapshot | undefined> {
  return (await storedFleetSnapshot<FleetSnapshot>(db)).data;
}

/** Whether a state holds under 5% of the fleet by the last snapshot (how the list reads it; see listRepos). */
export async function sparseState(db: Db, state: string | undefined): Promise<boolean> {
  if (state !== 'fresh' && state !== 'overdue') return false;
  const s = await storedSnapshot(db);
  return s !== undefined && s.total > 0 && s.states[state] < s.total * 0.05;
}

/** Recomputes and stores the snapshot now (the background refresh, and tests). */
export async function refreshSnapshot(db: Db, config: FleetConfig, now = new Date()): Promise<FleetSnapshot> {
  const s = await computeSnapshot(db, config, now);
  await saveFleetSnapshot(db, { computedAt: now, tookMs: s.tookMs, data: s });
  return s;
}

/**
 * The stored snapshot; computed in the request when there is none yet (once per database),
 * refreshed in the background when older than `maxAgeMs` by at most one caller at a time
 * across replicas (a lease in the row), and served stale meanwhile.
 */
export async function fleetSnapshot(
  db: Db,
  config: FleetConfig,
  options: { now?: Date; maxAgeMs?: number; onError?: (err: Error) => void } = {},
): Promise<FleetSnapshot> {
  const now = options.now ?? new Date();
  const { computedAt, data } = await storedFleetSnapshot<FleetSnapshot>(db);
  if (!data) return refreshSnapshot(db, config, now);
  // A snapshot that took long to compute is kept longer (ten times its cost), so the refresh never keeps the database busy.
  const maxAge = Math.max(options.maxAgeMs ?? SNAPSHOT_MAX_AGE_MS, 10 * (data.tookMs ?? 0));
  if (now.getTime() - (computedAt?.getTime() ?? 0) > maxAge && (await claimFleetSnapshotRefresh(db, now, new Date(now.getTime() + REFRESH_LEASE_MS)))) {
    void refreshSnapshot(db, config).catch(async (err) => {
      options.onError?.(err as Error);
      await releaseFleetSnapshotRefresh(db).catch(() => undefined);
    });
  }
  return data;
}

function fleetRow(r: LatestScore): FleetRow {
  return {
    repo: r.canonical,
    score: r.score,
    delta: r.delta,
    previousScore: r.delta === null ? null : Math.round((r.score - r.delta) * 10) / 10,
    scoredAt: r.scoredAt.toISOString(),
  };
}

/** The live, index-backed parts of the fleet page. */
export async function fleetLive(db: Db, config: FleetConfig, now = new Date(), n = 10): Promise<FleetLive> {
  const dayAgo = new Date(now.getTime() - 86_400_000);
  const [lowest, drops, recent, running, used, demo, outcomes, state] = await Promise.all([
    lowestScores(db, n),
    biggestDrops(db, freshCutoff(config, now), n),
    recentFailedRuns(db, dayAgo, n),
    pendingRunCount(db),
    budgetUsed(db, now),
    hasReposOfOwner(db, DEMO_OWNER),
    recentOutcomes(db, new Date(now.getTime() - config.breakerWindowSeconds * 1000), config.breakerSample),
    getSchedulerState(db),
  ]);
  const perHour = runsPerHour(config.githubTokenCount, config.githubCallsPerHour, config.callsPerRun);
  return {
    lowest: lowest.map(fleetRow),
    drops: drops.map(fleetRow),
    recentFailures: recent.map((r) => ({
      repo: r.canonical,
      failureClass: r.failureClass ?? 'unknown',
      reason: r.reason ?? '',
      at: r.finishedAt.toISOString(),
    })),
    running,
    budget: { used, perHour: Number.isFinite(perHour) ? perHour : null },
    demo,
    paused: fleetPause(outcomes, state.githubWaitUntil, now),
  };
}

/** Sweep progress from a snapshot: the share scored within the interval, and when the backlog clears at the last hour's rate. */
export function sweepOf(s: FleetSnapshot): { freshShare: number; etaSeconds: number | null; ratePerHour: number } {
  const scored = s.total;
  const freshShare = scored === 0 ? 0 : s.states.fresh / scored;
  const rate = s.scoredLastHour;
  return { freshShare, ratePerHour: rate, etaSeconds: s.due === 0 ? 0 : rate === 0 ? null : Math.round((s.due / rate) * 3600) };
}
