// The score API's reads. Each answers in one round trip and tells "unknown repository" from
// "known but never scored" (and, with a commit, from "scored, but not at that commit"). The
// lookup key is the lower-cased canonical name, so it is case-insensitive like GitHub.
import type { Db } from '../db/connect.ts';

export interface RepoRef {
  id: number;
  /** host/owner/name in the case first seen. */
  canonical: string;
  key: string;
}

export interface StoredResult {
  scoreId: number;
  score: number;
  scorecardVersion: string;
  scorecardCommit: string;
  repoCommit: string;
  resultDate: Date;
  /** When posture stored it (Last-Modified). */
  storedAt: Date;
  /** The Scorecard result as the harvester validated and stored it. */
  raw: unknown;
}

export interface HistoryEntry {
  scoreId: number;
  score: number;
  scorecardVersion: string;
  repoCommit: string;
  resultDate: Date;
  storedAt: Date;
}

export interface StoredCheckRow {
  name: string;
  score: number;
  reason: string;
  details: string[] | null;
  documentation: { url: string; short: string } | null;
}

export type Lookup<T> =
  | { status: 'unknown-repo' }
  | { status: 'not-scored'; repo: RepoRef }
  | { status: 'no-result-for-commit'; repo: RepoRef; commit: string }
  | { status: 'ok'; repo: RepoRef; value: T };

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
const rowsOf = (res: any): any[] => res.rows ?? res;

function repoRef(row: any): RepoRef {
  return { id: Number(row.repo_id), canonical: row.canonical, key: row.key };
}

/** The newest stored result of a repository by result date (or the newest for one commit), with its raw document. */
export async function findResult(db: Db, repoKey: string, options: { commit?: string } = {}): Promise<Lookup<StoredResult>> {
  const commitFilter = options.commit === undefined ? '' : 'AND lower(x.repo_commit) = ?';
  const res = await db.raw(
    `SELECT r.id AS repo_id, r.canonical, r.key,
            s.id AS score_id, s.score, s.scorecard_version, s.scorecard_commit, s.repo_commit, s.result_date, s.created_at, s.raw
            ${options.commit === undefined ? '' : ', EXISTS (SELECT 1 FROM scores y WHERE y.repo_id = r.id) AS scored'}
       FROM repos r
       LEFT JOIN LATERAL (
         SELECT x.* FROM scores x WHERE x.repo_id = r.id ${commitFilter}
          ORDER BY x.result_date DESC, x.id DESC LIMIT 1
       ) s ON true
      WHERE r.key = ?`,
    options.commit === undefined ? [repoKey] : [options.commit.toLowerCase(), repoKey],
  );
  const row = rowsOf(res)[0];
  if (!row) return { status: 'unknown-repo' };
  const repo = repoRef(row);
  if (row.score_id === null || row.score_id === undefined) {
    if (options.commit !== undefined && row.scored) return { status: 'no-result-for-commit', repo, commit: options.commit };
    return { status: 'not-scored', repo };
  }
  return {
    status: 'ok',
    repo,
    value: {
      scoreId: Number(row.score_id),
      score: Number(row.score),
      scorecardVersion: row.scorecard_version,
      scorecardCommit: row.scorecard_commit,
      repoCommit: row.repo_commit,
      resultDate: new Date(row.result_date),
      storedAt: new Date(row.created_at),
      raw: json(row.raw),
    },
  };
}

/** A repository's results, newest first (by result date), without their documents: for history and badges. */
export async function findHistory(db: Db, repoKey: string, options: { limit: number; commit?: string }): Promise<Lookup<HistoryEntry[]>> {
  const limit = Math.max(1, Math.min(Math.trunc(options.limit), 10_000));
  const commitFilter = options.commit === undefined ? '' : 'AND lower(x.repo_commit) = ?';
  const params: Array<string | number> = options.commit === undefined ? [limit, repoKey] : [options.commit.toLowerCase(), limit, repoKey];
  const res = await db.raw(
    `SELECT r.id AS repo_id, r.canonical, r.key,
            s.id AS score_id, s.score, s.scorecard_version, s.repo_commit, s.result_date, s.created_at
            ${options.commit === undefined ? '' : ', EXISTS (SELECT 1 FROM scores y WHERE y.repo_id = r.id) AS scored'}
       FROM repos r
       LEFT JOIN LATERAL (
         SELECT x.id, x.score, x.scorecard_version, x.repo_commit, x.result_date, x.created_at
           FROM scores x WHERE x.repo_id = r.id ${commitFilter}
          ORDER BY x.result_date DESC, x.id DESC LIMIT ?
       ) s ON true
      WHERE r.key = ?
      ORDER BY s.result_date DESC, s.id DESC`,
    params,
  );
  const rows = rowsOf(res);
  if (rows.length === 0) return { status: 'unknown-repo' };
  const repo = repoRef(rows[0]);
  if (rows[0].score_id === null || rows[0].score_id === undefined) {
    if (options.commit !== undefined && rows[0].scored) return { status: 'no-result-for-commit', repo, commit: options.commit };
    return { status: 'not-scored', repo };
  }
  return {
    status: 'ok',
    repo,
    value: rows.map((r) => ({
      scoreId: Number(r.score_id),
      score: Number(r.score),
      scorecardVersion: r.scorecard_version,
      repoCommit: r.repo_commit,
      resultDate: new Date(r.result_date),
      storedAt: new Date(r.created_at),
    })),
  };
}

/** The stored check rows of one result, in stored order: only for a raw document without usable checks. */
export async function storedChecks(db: Db, scoreId: number): Promise<StoredCheckRow[]> {
  const rows = await db('checks').where({ score_id: scoreId }).orderBy('id');
  return rows.map((c: any) => ({
    name: c.name,
    score: Number(c.score),
    reason: c.reason,
    details: json(c.details) ?? null,
    documentation: c.documentation_url === null ? null : { url: c.documentation_url, short: c.documentation_short ?? '' },
  }));
}
