// Reading score changes from the database: the change a stored run made (for the harvester's
// events) and the change between any two results of a repository (for the changes route and
// the diff page). The predecessor and delta of each result are set by the database when the
// result is inserted (migration 004), so "previous" means the same thing everywhere.
import type { Db } from '../db/connect.ts';
import { diffResults, type CheckScore, type ResultRef, type ScoreChange } from './diff.ts';

const rowsOf = (res: any): any[] => res.rows ?? res;

/** How a request names one result: its id, its repository commit, or a time (the newest result at or before it). */
export type ResultSelector = { id: number } | { commit: string } | { at: Date };

export interface RepoRow {
  id: number;
  key: string;
  canonical: string;
}

interface ScoreRow extends ResultRef {
  previousId: number | null;
  repoId: number;
}

function toRef(r: any): ScoreRow {
  return {
    id: Number(r.id),
    score: Number(r.score),
    date: new Date(r.result_date).toISOString(),
    commit: r.repo_commit,
    previousId: r.previous_score_id === null || r.previous_score_id === undefined ? null : Number(r.previous_score_id),
    repoId: Number(r.repo_id),
  };
}

const SCORE_COLUMNS = 'id, repo_id, score, result_date, repo_commit, previous_score_id';

async function checksOf(db: Db, scoreIds: number[]): Promise<Map<number, CheckScore[]>> {
  const out = new Map<number, CheckScore[]>(scoreIds.map((id) => [id, []]));
  if (scoreIds.length === 0) return out;
  const rows = await db('checks').whereIn('score_id', scoreIds).select('score_id', 'name', 'score', 'reason').orderBy('id');
  for (const c of rows) out.get(Number(c.score_id))?.push({ name: c.name, score: Number(c.score), reason: c.reason });
  return out;
}

async function scoreById(db: Db, id: number): Promise<ScoreRow | undefined> {
  const r = rowsOf(await db.raw(`SELECT ${SCORE_COLUMNS} FROM scores WHERE id = ?`, [id]))[0];
  return r ? toRef(r) : undefined;
}

async function diffRows(db: Db, from: ScoreRow | undefined, to: ScoreRow): Promise<ScoreChange> {
  const checks = await checksOf(db, from ? [from.id, to.id] : [to.id]);
  return diffResults(from ? { ...from, checks: checks.get(from.id)! } : null, { ...to, checks: checks.get(to.id)! });
}

export type ChangeLookup =
  | { status: 'unknown-repo' }
  | { status: 'not-scored'; repo: RepoRow }
  | { status: 'no-such-result'; repo: RepoRow; which: 'from' | 'to'; selector: ResultSelector }
  | { status: 'ok'; repo: RepoRow; change: ScoreChange };

async function select(db: Db, repoId: number, s: ResultSelector): Promise<ScoreRow | undefined> {
  let row;
  if ('id' in s) row = rowsOf(await db.raw(`SELECT ${SCORE_COLUMNS} FROM scores WHERE repo_id = ? AND id = ?`, [repoId, s.id]))[0];
  else if ('commit' in s)
    row = rowsOf(await db.raw(`SELECT ${SCORE_COLUMNS} FROM scores WHERE repo_id = ? AND lower(repo_commit) = ? ORDER BY result_date DESC, id DESC LIMIT 1`, [repoId, s.commit.toLowerCase()]))[0];
  else row = rowsOf(await db.raw(`SELECT ${SCORE_COLUMNS} FROM scores WHERE repo_id = ? AND result_date <= ? ORDER BY result_date DESC, id DESC LIMIT 1`, [repoId, s.at]))[0];
  return row ? toRef(row) : undefined;
}

/**
 * The per-check change between two results of a repository. `to` defaults to the newest
 * result, `from` to the result before `to`. from may be later than to: the diff is then read
 * backwards, as asked.
 */
export async function findChange(db: Db, repoKey: string, options: { from?: ResultSelector; to?: ResultSelector } = {}): Promise<ChangeLookup> {
  const repoRow = rowsOf(await db.raw(`SELECT r.id, r.key, r.canonical, l.score_id FROM repos r LEFT JOIN repo_latest l ON l.repo_id = r.id WHERE r.key = ?`, [repoKey]))[0];
  if (!repoRow) return { status: 'unknown-repo' };
  const repo: RepoRow = { id: Number(repoRow.id), key: repoRow.key, canonical: repoRow.canonical };
  if (repoRow.score_id === null || repoRow.score_id === undefined) return { status: 'not-scored', repo };
  const to = options.to ? await select(db, repo.id, options.to) : await scoreById(db, Number(repoRow.score_id));
  if (!to) return { status: 'no-such-result', repo, which: 'to', selector: options.to! };
  let from: ScoreRow | undefined;
  if (options.from) {
    from = await select(db, repo.id, options.from);
    if (!from) return { status: 'no-such-result', repo, which: 'from', selector: options.from };
  } else if (to.previousId !== null) {
    from = await scoreById(db, to.previousId);
  }
  return { status: 'ok', repo, change: await diffRows(db, from, to) };
}
