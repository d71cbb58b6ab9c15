// The fleet page's figures. Two kinds: aggregates over every repository (counts by state, the
// score histogram, per-check pass rates, how many are due), kept as a snapshot in the database
// and recomputed in the background when older than a minute (they scan every newest result,
// which at a million repositories takes seconds, not milliseconds); and small lists read live
// from indexes on each request (lowest scores, biggest recent drops, recent failures, running
// Jobs, this hour's budget).
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { budgetUsed } from '../db/scheduler-state.ts';
import { runsPerHour } from '../cadence/cadence.ts';
import { freshCutoff, type FreshnessConfig } from './list.ts';

export type FleetConfig = FreshnessConfig & Pick<Config, 'githubTokenCount' | 'githubCallsPerHour' | 'callsPerRun' | 'maxConcurrentJobs'>;

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
}

const rowsOf = (res: any): any[] => res.rows ?? res;
const num = (v: unknown) => Number(v ?? 0);

export async function computeSnapshot(db: Db, config: FleetConfig, now = new Date()): Promise<FleetSnapshot> {
  const started = performance.now();
  const cutoff = freshCutoff(config, now);
  const [counts] = rowsOf(
    await db.raw(
      `SELECT count(*) AS total,
              count(*) FILTER (WHERE failing) AS failing,
              count(*) FILTER (WHERE NOT failing AND score_id IS NULL) AS never,
              count(*) FILTER (WHERE NOT failing AND result_date >= ?) AS fresh,
              count(*) FILTER (WHERE NOT failing AND result_date < ?) AS overdue
         FROM repo_latest`,
      [cutoff, cutoff],
    ),
  );
  const histogram = new Array(11).fill(0);
  for (const r of rowsOf(await db.raw(`SELECT floor(score)::int AS b, count(*) AS n FROM repo_latest WHERE score IS NOT NULL GROUP BY 1`))) {
    histogram[Math.max(0, Math.min(10, Number(r.b)))] += num(r.n);
  }
  const checks = rowsOf(
    await db.raw(
      `SELECT c.name, count(*) FILTER (WHERE c.score >= ?) AS passing, count(*) FILTER (WHERE c.score >= 0) AS scored,
              avg(c.score) FILTER (WHERE c.score >= 0) AS average
         FROM repo_latest l JOIN checks c ON c.score_id = l.score_id
        GROUP BY c.name ORDER BY c.name`,
      [CHECK_PASS],
    ),
  ).map((r) => ({ name: r.name, passing: num(r.passing), scored: num(r.scored), average: r.average === null ? null : Math.round(Number(r.average) * 10) / 10 }));
  const [due] = rowsOf(await db.raw(`SELECT count(*) AS n FROM repos WHERE next_due_at <= ?`, [now]));
  const [rate] = rowsOf(
    await db.raw(`SELECT count(*) FILTER (WHERE created_at >= ?) AS hour, count(*) AS day FROM scores WHERE created_at >= ?`, [
      new Date(now.getTime() - 3_600_000),
      new Date(now.getTime() - 86_400_000),
    ]),
  );
  const failuresByClass = rowsOf(
    await db.raw(`SELECT failure_class, count(*) AS n FROM runs WHERE outcome = 'failed' AND finished_at >= ? GROUP BY failure_class ORDER BY n DESC, failure_class`, [
      new Date(now.getTime() - 86_400_000),
    ]),
  ).map((r) => ({ failureClass: r.failure_class ?? 'unknown', count: num(r.n) }));
  return {
    failuresByClass,
    computedAt: now.toISOString(),
    tookMs: Math.round(performance.now() - started),
    total: num(counts.total),
    states: { fresh: num(counts.fresh), overdue: num(counts.overdue), failing: num(counts.failing), never: num(counts.never) },
    histogram,
    checks,
    due: num(due.n),
    scoredLastHour: num(rate.hour),
    scoredLastDay: num(rate.day),
  };
}

/** The stored snapshot as it is (no refresh, no computing): undefined before the first one. */
export async function storedSnapshot(db: Db): Promise<FleetSnapshot | undefined> {
  const row = rowsOf(await db.raw(`SELECT data FROM fleet_snapshot WHERE id = 1`))[0];
  return row?.data ? ((typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as FleetSnapshot) : undefined;
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
  await db.raw(`UPDATE fleet_snapshot SET computed_at = ?, took_ms = ?, data = ?::jsonb, refreshing_until = NULL WHERE id = 1`, [now, s.tookMs, JSON.stringify(s)]);
  return s;
}

/**
 * The stored snapshot; computed in the request when there is none yet (once per database),
 * refreshed in the background when older than `maxAgeMs` by at most one caller at a time
 * across replicas (a lease in the row), and served stale meanwhile.
 */
export async function fleetSnapshot(db: Db, config: FleetConfig, options: { now?: Date; maxAgeMs?: number; onError?: (err: Error) => void } = {}): Promise<FleetSnapshot> {
  const now = options.now ?? new Date();
  const row = rowsOf(await db.raw(`SELECT computed_at, data FROM fleet_snapshot WHERE id = 1`))[0];
  const data = row?.data ? ((typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as FleetSnapshot) : undefined;
  if (!data) return refreshSnapshot(db, config, now);
  // A snapshot that took long to compute is kept longer (ten times its cost), so the refresh never keeps the database busy.
  const maxAge = Math.max(options.maxAgeMs ?? SNAPSHOT_MAX_AGE_MS, 10 * (data.tookMs ?? 0));
  if (now.getTime() - new Date(row.computed_at).getTime() > maxAge) {
    const claimed = rowsOf(
      await db.raw(`UPDATE fleet_snapshot SET refreshing_until = ? WHERE id = 1 AND (refreshing_until IS NULL OR refreshing_until < ?) RETURNING id`, [
        new Date(now.getTime() + REFRESH_LEASE_MS),
        now,
      ]),
    );
    if (claimed.length) {
      void refreshSnapshot(db, config).catch(async (err) => {
        options.onError?.(err as Error);
        await db.raw(`UPDATE fleet_snapshot SET refreshing_until = NULL WHERE id = 1`).catch(() => undefined);
      });
    }
  }
  return data;
}

function fleetRow(r: any): FleetRow {
  const score = Number(r.score);
  const delta = r.delta === null ? null : Number(r.delta);
  return { repo: r.canonical, score, delta, previousScore: delta === null ? null : Math.round((score - delta) * 10) / 10, scoredAt: new Date(r.scored_at).toISOString() };
}

/** The live, index-backed parts of the fleet page. */
export async function fleetLive(db: Db, config: FleetConfig, now = new Date(), n = 10): Promise<FleetLive> {
  const cutoff = freshCutoff(config, now);
  const dayAgo = new Date(now.getTime() - 86_400_000);
  const [lowest, drops, recent, running, used, demo] = await Promise.all([
    db.raw(
      `SELECT r.canonical, l.score, l.delta, l.scored_at FROM repo_latest l JOIN repos r ON r.id = l.repo_id
        WHERE l.score IS NOT NULL ORDER BY l.score, l.repo_id LIMIT ?`,
      [n],
    ),
    db.raw(
      `SELECT r.canonical, l.score, l.delta, l.scored_at FROM repo_latest l JOIN repos r ON r.id = l.repo_id
        WHERE l.delta IS NOT NULL AND l.delta < 0 AND l.result_date >= ? ORDER BY l.delta, l.repo_id LIMIT ?`,
      [cutoff, n],
    ),
    db.raw(
      `SELECT r.canonical, x.failure_class, x.reason, x.finished_at FROM runs x JOIN repos r ON r.id = x.repo_id
        WHERE x.outcome = 'failed' AND x.finished_at >= ? ORDER BY x.finished_at DESC LIMIT ?`,
      [dayAgo, n],
    ),
    db.raw(`SELECT count(*) AS n FROM runs WHERE outcome = 'pending'`),
    budgetUsed(db, now),
    db.raw(`SELECT 1 FROM repo_latest WHERE owner = 'posture-demo' LIMIT 1`),
  ]);
  const perHour = runsPerHour(config.githubTokenCount, config.githubCallsPerHour, config.callsPerRun);
  return {
    lowest: rowsOf(lowest).map(fleetRow),
    drops: rowsOf(drops).map(fleetRow),
    recentFailures: rowsOf(recent).map((r) => ({ repo: r.canonical, failureClass: r.failure_class ?? 'unknown', reason: r.reason ?? '', at: new Date(r.finished_at).toISOString() })),
    running: num(rowsOf(running)[0]?.n),
    budget: { used, perHour: Number.isFinite(perHour) ? perHour : null },
    demo: rowsOf(demo).length > 0,
  };
}

/** Sweep progress from a snapshot: the share scored within the interval, and when the backlog clears at the last hour's rate. */
export function sweepOf(s: FleetSnapshot): { freshShare: number; etaSeconds: number | null; ratePerHour: number } {
  const scored = s.total;
  const freshShare = scored === 0 ? 0 : s.states.fresh / scored;
  const rate = s.scoredLastHour;
  return { freshShare, ratePerHour: rate, etaSeconds: s.due === 0 ? 0 : rate === 0 ? null : Math.round((s.due / rate) * 3600) };
}
