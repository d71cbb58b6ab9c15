// A repository's results as a chain: each score row knows its predecessor and its delta (set by
// the database on insert, migrations 004 and 007: in stored order), so the changes route, the diff page and the
// repository page read "previous" the same way. Plus the check scores those compare.
import type { Db } from './connect.ts';
import { numberOrNull, rowsOf } from './rows.ts';

/** One result, as much of it as a comparison needs. */
export interface ScoreLink {
  id: number;
  repoId: number;
  score: number;
  resultDate: Date;
  commit: string;
  /** The result it follows in stored order; null for a first result. */
  previousId: number | null;
}

interface ScoreLinkRow {
  id: number;
  repo_id: number;
  score: number | string;
  result_date: Date;
  repo_commit: string;
  previous_score_id: number | null;
}

const LINK_COLUMNS = 'id, repo_id, score, result_date, repo_commit, previous_score_id';

function firstLink(res: unknown): ScoreLink | undefined {
  const r = rowsOf<ScoreLinkRow>(res)[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    repoId: Number(r.repo_id),
    score: Number(r.score),
    resultDate: new Date(r.result_date),
    commit: r.repo_commit,
    previousId: numberOrNull(r.previous_score_id),
  };
}

/** A result by its id. */
export async function scoreLinkById(db: Db, id: number): Promise<ScoreLink | undefined> {
  return firstLink(await db.raw(`SELECT ${LINK_COLUMNS} FROM scores WHERE id = :id`, { id }));
}

/** A result by its id, only if it is the repository's. */
export async function scoreLinkOfRepo(db: Db, repoId: number, id: number): Promise<ScoreLink | undefined> {
  return firstLink(await db.raw(`SELECT ${LINK_COLUMNS} FROM scores WHERE repo_id = :repoId AND id = :id`, { repoId, id }));
}

/** The repository's newest result for a commit (any case). */
export async function newestScoreLinkAtCommit(db: Db, repoId: number, commit: string): Promise<ScoreLink | undefined> {
  return firstLink(
    await db.raw(`SELECT ${LINK_COLUMNS} FROM scores WHERE repo_id = :repoId AND lower(repo_commit) = :commit ORDER BY stored_at DESC, id DESC LIMIT 1`, {
      repoId,
      commit: commit.toLowerCase(),
    }),
  );
}

/** The repository's newest result stored at or before `at` (the result's own date may be off: the pod's clock). */
export async function newestScoreLinkAtOrBefore(db: Db, repoId: number, at: Date): Promise<ScoreLink | undefined> {
  return firstLink(
    await db.raw(`SELECT ${LINK_COLUMNS} FROM scores WHERE repo_id = :repoId AND stored_at <= :at ORDER BY stored_at DESC, id DESC LIMIT 1`, {
      repoId,
      at,
    }),
  );
}

/** One check's score in one result. */
export interface CheckScoreRow {
  scoreId: number;
  name: string;
  score: number;
  reason: string;
}

/** The check scores of some results, in stored order. */
export async function checkScoresOf(db: Db, scoreIds: readonly number[]): Promise<CheckScoreRow[]> {
  if (scoreIds.length === 0) return [];
  const rows: Array<{ score_id: number; name: string; score: number | string; reason: string }> = await db('checks')
    .whereIn('score_id', scoreIds)
    .select('score_id', 'name', 'score', 'reason')
    .orderBy('id');
  return rows.map((c) => ({ scoreId: Number(c.score_id), name: c.name, score: Number(c.score), reason: c.reason }));
}

/** One result in a repository's history, with its delta from the one before. */
export interface ScoreStep {
  id: number;
  score: number;
  /** The result's own date (the Scorecard pod's clock). */
  resultDate: Date;
  /** When posture stored it: the order of the history. */
  storedAt: Date;
  commit: string;
  /** Score minus the previous result's; null for a first result. */
  delta: number | null;
}

/** A repository's newest results, newest stored first. */
export async function recentScoreSteps(db: Db, repoId: number, limit: number): Promise<ScoreStep[]> {
  const res = await db.raw(
    `SELECT id, score, result_date, stored_at, repo_commit, delta FROM scores WHERE repo_id = :repoId ORDER BY stored_at DESC, id DESC LIMIT :limit`,
    { repoId, limit },
  );
  return rowsOf<{ id: number; score: number | string; result_date: Date; stored_at: Date; repo_commit: string; delta: number | string | null }>(res).map(
    (h) => ({
      id: Number(h.id),
      score: Number(h.score),
      resultDate: new Date(h.result_date),
      storedAt: new Date(h.stored_at),
      commit: h.repo_commit,
      delta: numberOrNull(h.delta),
    }),
  );
}
