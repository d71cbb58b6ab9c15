// The fleet report's reads (`posture report`): each scored repository's newest result, the
// result it had at a date (the newest stored at or before it), and its newest weak checks.
import type { Db } from './connect.ts';
import { numberOrNull, rowsOf } from './rows.ts';

export interface ReportRow {
  canonical: string;
  owner: string;
  scoreId: number;
  score: number;
  resultDate: Date;
  failing: boolean;
  /** The result at the report's start; null: first scored after it. */
  baseId: number | null;
  baseScore: number | null;
  /** Checks of the newest result scoring 0 to `below - 1`, lowest first. */
  weakChecks: Array<{ name: string; score: number }>;
}

export async function reportRows(db: Db, o: { since: Date; owner?: string; below: number }): Promise<ReportRow[]> {
  const rows = rowsOf<Record<string, unknown>>(
    await db.raw(
      `SELECT r.canonical, rl.owner, rl.score_id, rl.score, rl.result_date, rl.failing, b.id AS base_id, b.score AS base_score
         FROM repo_latest rl
         JOIN repos r ON r.id = rl.repo_id
         LEFT JOIN LATERAL (
           SELECT s.id, s.score FROM scores s WHERE s.repo_id = rl.repo_id AND s.stored_at <= :since ORDER BY s.stored_at DESC, s.id DESC LIMIT 1
         ) b ON true
        WHERE rl.score_id IS NOT NULL AND (CAST(:owner AS text) IS NULL OR rl.owner = :owner)
        ORDER BY rl.key`,
      { since: o.since, owner: o.owner?.toLowerCase() ?? null },
    ),
  );
  const ids = rows.map((r) => Number(r.score_id));
  const weak = new Map<number, Array<{ name: string; score: number }>>();
  for (let i = 0; i < ids.length; i += 1000) {
    const part = ids.slice(i, i + 1000);
    const checks = rowsOf<{ score_id: number | string; name: string; score: number | string }>(
      await db.raw(
        `SELECT score_id, name, score FROM checks WHERE score_id IN (${part.map(() => '?').join(',')}) AND score >= 0 AND score < ? ORDER BY score, name`,
        [...part, o.below],
      ),
    );
    for (const c of checks) {
      const list = weak.get(Number(c.score_id)) ?? [];
      list.push({ name: c.name, score: Number(c.score) });
      weak.set(Number(c.score_id), list);
    }
  }
  return rows.map((r) => ({
    canonical: String(r.canonical),
    owner: String(r.owner),
    scoreId: Number(r.score_id),
    score: Number(r.score),
    resultDate: new Date(r.result_date as string),
    failing: Boolean(r.failing),
    baseId: numberOrNull(r.base_id),
    baseScore: numberOrNull(r.base_score),
    weakChecks: weak.get(Number(r.score_id)) ?? [],
  }));
}
