// Reading scores: the latest is a query over kept history, never a stored copy.
import type { Db } from './connect.ts';
import { parsedJson, rowsOf } from './rows.ts';

export interface ScoreView {
  repo: string;
  repoKey: string;
  score: number;
  date: string;
  repoCommit: string;
  scorecardVersion: string;
  scorecardCommit: string;
  runId: number;
  createdAt: Date;
  checks: Array<{
    name: string;
    score: number;
    reason: string;
    details: string[] | null;
    documentation: { url: string; short: string } | null;
    internalError: boolean;
  }>;
  raw: unknown;
}

interface ScoreRow {
  id: number;
  canonical: string;
  key: string;
  score: number | string;
  result_date: Date;
  repo_commit: string;
  scorecard_version: string;
  scorecard_commit: string;
  run_id: number;
  created_at: Date;
  raw: unknown;
}

interface CheckRow {
  score_id: number;
  name: string;
  score: number;
  reason: string;
  details: string[] | string | null;
  documentation_url: string | null;
  documentation_short: string | null;
  internal_error: boolean;
}

function toView(row: ScoreRow, checks: CheckRow[]): ScoreView {
  return {
    repo: row.canonical,
    repoKey: row.key,
    score: Number(row.score),
    date: new Date(row.result_date).toISOString(),
    repoCommit: row.repo_commit,
    scorecardVersion: row.scorecard_version,
    scorecardCommit: row.scorecard_commit,
    runId: Number(row.run_id),
    createdAt: new Date(row.created_at),
    raw: parsedJson(row.raw),
    checks: checks.map((c) => ({
      name: c.name,
      score: c.score,
      reason: c.reason,
      details: parsedJson<string[] | null>(c.details),
      documentation: c.documentation_url === null ? null : { url: c.documentation_url, short: c.documentation_short ?? '' },
      internalError: c.internal_error,
    })),
  };
}

async function withChecks(db: Db, rows: ScoreRow[]): Promise<ScoreView[]> {
  if (rows.length === 0) return [];
  const checks: CheckRow[] = await db('checks')
    .whereIn(
      'score_id',
      rows.map((r) => r.id),
    )
    .orderBy('id');
  return rows.map((r) =>
    toView(
      r,
      checks.filter((c) => Number(c.score_id) === Number(r.id)),
    ),
  );
}

/** The newest result of a repository in stored order (optionally the one for a given commit). */
export async function latestScore(db: Db, repoKey: string, options: { commit?: string } = {}): Promise<ScoreView | undefined> {
  const q = db('scores as s')
    .join('repos as r', 'r.id', 's.repo_id')
    .where('r.key', repoKey)
    .select('s.*', 'r.canonical', 'r.key')
    .orderBy([
      { column: 's.stored_at', order: 'desc' },
      { column: 's.id', order: 'desc' },
    ])
    .first();
  if (options.commit) q.andWhere('s.repo_commit', options.commit);
  const row = (await q) as ScoreRow | undefined;
  return row ? (await withChecks(db, [row]))[0] : undefined;
}

/** A repository's results, newest stored first. */
export async function scoreHistory(db: Db, repoKey: string, options: { limit?: number } = {}): Promise<ScoreView[]> {
  const rows: ScoreRow[] = await db('scores as s')
    .join('repos as r', 'r.id', 's.repo_id')
    .where('r.key', repoKey)
    .select('s.*', 'r.canonical', 'r.key')
    .orderBy([
      { column: 's.stored_at', order: 'desc' },
      { column: 's.id', order: 'desc' },
    ])
    .limit(options.limit ?? 100);
  return withChecks(db, rows);
}

export interface ScoreChange {
  repoKey: string;
  repo: string;
  score: number;
  date: string;
  updatedAt: Date;
}

/**
 * Latest score per repository for repositories whose scores changed after `since` (all when
 * undefined): what the admission gate's cache loads in the background. Only each repository's
 * newest row is read (one probe of scores_repo_idx per repository), never its history.
 */
export async function scoresChangedSince(db: Db, since: Date | undefined): Promise<ScoreChange[]> {
  const latest = `CROSS JOIN LATERAL (
         SELECT s.score, s.result_date, s.created_at FROM scores s
          WHERE s.repo_id = r.id ORDER BY s.stored_at DESC, s.id DESC LIMIT 1) l`;
  const res =
    since === undefined
      ? await db.raw(`SELECT r.key, r.canonical, l.score, l.result_date, l.created_at FROM repos r ${latest}`)
      : await db.raw(
          `SELECT r.key, r.canonical, l.score, l.result_date, l.created_at
         FROM (SELECT DISTINCT repo_id FROM scores WHERE created_at > ?) c
         JOIN repos r ON r.id = c.repo_id
         ${latest}`,
          [since],
        );
  return rowsOf<{ key: string; canonical: string; score: number | string; result_date: Date; created_at: Date }>(res).map((r) => ({
    repoKey: r.key,
    repo: r.canonical,
    score: Number(r.score),
    date: new Date(r.result_date).toISOString(),
    updatedAt: new Date(r.created_at),
  }));
}
