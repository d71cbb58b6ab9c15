// The fleet page's reads. Aggregates over every repository's newest result (they scan
// repo_latest: seconds at a million repositories, so the API keeps them as a snapshot in
// fleet_snapshot, refreshed by one replica at a time under a lease in that row), and small
// lists read live from indexes.
import type { Db } from './connect.ts';
import { numberOrNull, parsedJson, rowsOf } from './rows.ts';
import { NOT_REACHED } from './runs.ts';

type Count = number | string;

/** Repositories by the state of their newest result. */
export interface StateCounts {
  total: number;
  failing: number;
  never: number;
  fresh: number;
  overdue: number;
}

/** Counts repositories by state; a newest result stored before `freshCutoff` is overdue. */
export async function stateCounts(db: Db, freshCutoff: Date): Promise<StateCounts> {
  const res = await db.raw(
    `SELECT count(*) AS total,
            count(*) FILTER (WHERE failing) AS failing,
            count(*) FILTER (WHERE NOT failing AND score_id IS NULL) AS never,
            count(*) FILTER (WHERE NOT failing AND scored_at >= :freshCutoff) AS fresh,
            count(*) FILTER (WHERE NOT failing AND scored_at < :freshCutoff) AS overdue
       FROM repo_latest`,
    { freshCutoff },
  );
  const r = rowsOf<Record<keyof StateCounts, Count>>(res)[0];
  return { total: Number(r.total), failing: Number(r.failing), never: Number(r.never), fresh: Number(r.fresh), overdue: Number(r.overdue) };
}

/** Repositories not failing whose newest `stuckAfterRuns` or more runs failed for reasons not their own. */
export async function stuckRepoCount(db: Db, stuckAfterRuns: number): Promise<number> {
  const res = await db.raw('SELECT count(*) AS n FROM repos WHERE consecutive_failures = 0 AND other_failures >= :stuckAfterRuns::int', { stuckAfterRuns });
  return Number(rowsOf<{ n: Count }>(res)[0].n);
}

/** Scored repositories by floor(newest score). */
export async function countsByScoreFloor(db: Db): Promise<Array<{ floor: number; count: number }>> {
  const res = await db.raw(`SELECT floor(score)::int AS b, count(*) AS n FROM repo_latest WHERE score IS NOT NULL GROUP BY 1`);
  return rowsOf<{ b: Count; n: Count }>(res).map((r) => ({ floor: Number(r.b), count: Number(r.n) }));
}

/** One check over every newest result: how many pass, how many are scored (not inconclusive), their mean. */
export interface CheckPassRate {
  name: string;
  passing: number;
  scored: number;
  average: number | null;
}

/** Each check's pass rate over the newest results, by name; a check passes at `passAt` or more. */
export async function checkPassRates(db: Db, passAt: number): Promise<CheckPassRate[]> {
  const res = await db.raw(
    `SELECT c.name, count(*) FILTER (WHERE c.score >= :passAt) AS passing, count(*) FILTER (WHERE c.score >= 0) AS scored,
            avg(c.score) FILTER (WHERE c.score >= 0) AS average
       FROM repo_latest l JOIN checks c ON c.score_id = l.score_id
      GROUP BY c.name ORDER BY c.name`,
    { passAt },
  );
  return rowsOf<{ name: string; passing: Count; scored: Count; average: Count | null }>(res).map((r) => ({
    name: r.name,
    passing: Number(r.passing),
    scored: Number(r.scored),
    average: numberOrNull(r.average),
  }));
}

/** Repositories due at `now` (the sweep's backlog). */
export async function dueRepoCount(db: Db, now: Date): Promise<number> {
  const res = await db.raw(`SELECT count(*) AS n FROM repos WHERE next_due_at <= :now`, { now });
  return Number(rowsOf<{ n: Count }>(res)[0]?.n ?? 0);
}

/** Results stored since each of two times (the later one first). */
export async function resultsStoredSince(db: Db, since: { recent: Date; earlier: Date }): Promise<{ recent: number; earlier: number }> {
  const res = await db.raw(
    `SELECT count(*) FILTER (WHERE created_at >= :recent) AS recent, count(*) AS earlier FROM scores WHERE created_at >= :earlier`,
    since,
  );
  const r = rowsOf<{ recent: Count; earlier: Count }>(res)[0];
  return { recent: Number(r?.recent ?? 0), earlier: Number(r?.earlier ?? 0) };
}

/** Runs that failed since `since`, by failure class, most first (null: no class recorded). */
export async function failedRunsByClass(db: Db, since: Date): Promise<Array<{ failureClass: string | null; count: number }>> {
  const res = await db.raw(
    `SELECT failure_class, count(*) AS n FROM runs WHERE outcome = 'failed' AND failure_class IS DISTINCT FROM '${NOT_REACHED}' AND finished_at >= :since GROUP BY failure_class ORDER BY n DESC, failure_class`,
    { since },
  );
  return rowsOf<{ failure_class: string | null; n: Count }>(res).map((r) => ({ failureClass: r.failure_class, count: Number(r.n) }));
}

/** The stored snapshot and when it was computed; data undefined before the first one. */
export async function storedFleetSnapshot<T>(db: Db): Promise<{ computedAt: Date | null; data: T | undefined }> {
  const r = rowsOf<{ computed_at: Date | null; data: unknown }>(await db.raw(`SELECT computed_at, data FROM fleet_snapshot WHERE id = 1`))[0];
  return { computedAt: r?.computed_at ? new Date(r.computed_at) : null, data: r?.data ? parsedJson<T>(r.data) : undefined };
}

/** Stores a computed snapshot and ends the refresh lease. */
export async function saveFleetSnapshot(db: Db, snapshot: { computedAt: Date; tookMs: number; data: unknown }): Promise<void> {
  await db.raw(`UPDATE fleet_snapshot SET computed_at = :computedAt, took_ms = :tookMs, data = :data::jsonb, refreshing_until = NULL WHERE id = 1`, {
    computedAt: snapshot.computedAt,
    tookMs: snapshot.tookMs,
    data: JSON.stringify(snapshot.data),
  });
}

/** Takes the refresh lease until `until` if nobody holds it at `now`; false: another refresh is running. */
export async function claimFleetSnapshotRefresh(db: Db, now: Date, until: Date): Promise<boolean> {
  const res = await db.raw(
    `UPDATE fleet_snapshot SET refreshing_until = :until WHERE id = 1 AND (refreshing_until IS NULL OR refreshing_until < :now) RETURNING id`,
    { until, now },
  );
  return rowsOf(res).length > 0;
}

/** Ends the refresh lease (a refresh that failed). */
export async function releaseFleetSnapshotRefresh(db: Db): Promise<void> {
  await db.raw(`UPDATE fleet_snapshot SET refreshing_until = NULL WHERE id = 1`);
}

/** A repository's newest score as the fleet page lists it. */
export interface LatestScore {
  canonical: string;
  score: number;
  delta: number | null;
  scoredAt: Date;
}

type LatestScoreRow = { canonical: string; score: Count; delta: Count | null; scored_at: Date };

const latestScore = (r: LatestScoreRow): LatestScore => ({
  canonical: r.canonical,
  score: Number(r.score),
  delta: numberOrNull(r.delta),
  scoredAt: new Date(r.scored_at),
});

/** The `limit` lowest newest scores. */
export async function lowestScores(db: Db, limit: number): Promise<LatestScore[]> {
  const res = await db.raw(
    `SELECT r.canonical, l.score, l.delta, l.scored_at FROM repo_latest l JOIN repos r ON r.id = l.repo_id
      WHERE l.score IS NOT NULL ORDER BY l.score, l.repo_id LIMIT :limit`,
    { limit },
  );
  return rowsOf<LatestScoreRow>(res).map(latestScore);
}

/** The `limit` biggest drops among newest results stored from `since`. */
export async function biggestDrops(db: Db, since: Date, limit: number): Promise<LatestScore[]> {
  const res = await db.raw(
    `SELECT r.canonical, l.score, l.delta, l.scored_at FROM repo_latest l JOIN repos r ON r.id = l.repo_id
      WHERE l.delta IS NOT NULL AND l.delta < 0 AND l.scored_at >= :since ORDER BY l.delta, l.repo_id LIMIT :limit`,
    { since, limit },
  );
  return rowsOf<LatestScoreRow>(res).map(latestScore);
}

/** A failed run as the fleet page lists it. */
export interface FailedRun {
  canonical: string;
  failureClass: string | null;
  reason: string | null;
  finishedAt: Date;
}

/** The `limit` newest runs that failed since `since`. */
export async function recentFailedRuns(db: Db, since: Date, limit: number): Promise<FailedRun[]> {
  const res = await db.raw(
    `SELECT r.canonical, x.failure_class, x.reason, x.finished_at FROM runs x JOIN repos r ON r.id = x.repo_id
      WHERE x.outcome = 'failed' AND x.failure_class IS DISTINCT FROM '${NOT_REACHED}' AND x.finished_at >= :since ORDER BY x.finished_at DESC LIMIT :limit`,
    { since, limit },
  );
  return rowsOf<{ canonical: string; failure_class: string | null; reason: string | null; finished_at: Date }>(res).map((r) => ({
    canonical: r.canonical,
    failureClass: r.failure_class,
    reason: r.reason,
    finishedAt: new Date(r.finished_at),
  }));
}

/** Runs whose Job has not been harvested yet. */
export async function pendingRunCount(db: Db): Promise<number> {
  return Number(rowsOf<{ n: Count }>(await db.raw(`SELECT count(*) AS n FROM runs WHERE outcome = 'pending'`))[0]?.n ?? 0);
}

/** Whether any repository of `owner` is known. */
export async function hasReposOfOwner(db: Db, owner: string): Promise<boolean> {
  return rowsOf(await db.raw(`SELECT 1 FROM repo_latest WHERE owner = :owner LIMIT 1`, { owner })).length > 0;
}
