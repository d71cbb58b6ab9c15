// Retention: every score row is kept forever (the history of a repository's score), but the raw
// Scorecard document (the bulk of a result) and the checks' details only for the newest N results
// of each repository. Pruning goes in small batches along scores_detailed_idx, so the scheduler can
// do a little every tick and `posture db prune` can do it all at once.
import type { Db } from './connect.ts';
import { rowsOf } from './rows.ts';

export interface PruneBatch {
  /** Results whose document and check details were removed. */
  pruned: number;
  /** Results looked at (all still holding a document). */
  scanned: number;
  /** Resume after this score id (0: the walk reached the end and starts over). */
  nextAfterId: number;
}

/**
 * Prunes the results among the next `limit` detailed ones (by id, after `afterId`) that have at
 * least `keep` newer results of the same repository (newer by stored time, then id: the order
 * the latest score is read in).
 */
export async function pruneDetailsBatch(db: Db, options: { keep: number; limit: number; afterId: number }): Promise<PruneBatch> {
  if (!Number.isSafeInteger(options.keep) || options.keep < 1) throw new RangeError(`keep must be a positive integer, got ${options.keep}`);
  return db.transaction(async (tx) => {
    const batch = await tx.raw(
      `SELECT b.id, b.repo_id,
              (SELECT count(*) FROM (
                 SELECT 1 FROM scores n
                  WHERE n.repo_id = b.repo_id
                    AND (n.stored_at > b.stored_at OR (n.stored_at = b.stored_at AND n.id > b.id))
                  LIMIT :keep) newer) AS newer
         FROM scores b
        WHERE b.raw IS NOT NULL AND b.id > :afterId
        ORDER BY b.id
        LIMIT :limit`,
      { keep: options.keep, afterId: options.afterId, limit: options.limit },
    );
    const rows = rowsOf<{ id: number | string; newer: number | string }>(batch);
    if (rows.length === 0) return { pruned: 0, scanned: 0, nextAfterId: 0 };
    const old = rows.filter((r) => Number(r.newer) >= options.keep).map((r) => Number(r.id));
    if (old.length > 0) {
      await tx.raw('UPDATE checks SET details = NULL WHERE score_id = ANY(?::bigint[]) AND details IS NOT NULL', [old]);
      await tx.raw('UPDATE scores SET raw = NULL WHERE id = ANY(?::bigint[])', [old]);
    }
    const last = Number(rows[rows.length - 1].id);
    return { pruned: old.length, scanned: rows.length, nextAfterId: rows.length < options.limit ? 0 : last };
  });
}

/** Prunes everything that is due, batch after batch (`posture db prune`). */
export async function pruneDetails(
  db: Db,
  options: { keep: number; batch?: number; onBatch?: (b: PruneBatch) => void },
): Promise<{ pruned: number; scanned: number }> {
  let afterId = 0;
  let pruned = 0;
  let scanned = 0;
  for (;;) {
    const b = await pruneDetailsBatch(db, { keep: options.keep, limit: options.batch ?? 1000, afterId });
    pruned += b.pruned;
    scanned += b.scanned;
    options.onBatch?.(b);
    if (b.nextAfterId === 0) return { pruned, scanned };
    afterId = b.nextAfterId;
  }
}

/** One small batch from where the last one stopped (the scheduler, every tick). */
export async function pruneDetailsStep(db: Db, options: { keep: number; limit: number }): Promise<PruneBatch> {
  const row = (await db('maintenance').where({ id: 1 }).first()) as { prune_after_id: number | string } | undefined;
  const b = await pruneDetailsBatch(db, { keep: options.keep, limit: options.limit, afterId: Number(row?.prune_after_id ?? 0) });
  await db('maintenance').where({ id: 1 }).update({ prune_after_id: b.nextAfterId, updated_at: new Date() });
  return b;
}

/** Where the Job sweep resumes (a continue token), and how many pages it has read. */
export async function getJobSweep(db: Db): Promise<{ continueToken: string | undefined; pages: number }> {
  const row = (await db('maintenance').where({ id: 1 }).first()) as { job_sweep_continue: string | null; job_sweep_pages: number | string } | undefined;
  return { continueToken: row?.job_sweep_continue ?? undefined, pages: Number(row?.job_sweep_pages ?? 0) };
}

export async function setJobSweep(db: Db, continueToken: string | undefined): Promise<void> {
  await db('maintenance')
    .where({ id: 1 })
    .update({ job_sweep_continue: continueToken ?? null, job_sweep_pages: db.raw('job_sweep_pages + 1'), updated_at: new Date() });
}
