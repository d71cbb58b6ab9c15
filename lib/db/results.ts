// The score API's reads: a repository's newest result (with its raw document), its history, and
// a result's stored checks. Each answers in one round trip and tells an unknown repository
// (undefined) from a known one without results, and, with a commit, from one with results but
// none at that commit. The key is the lower-cased canonical name.
import type { Db } from './connect.ts';
import { parsedJson, rowsOf } from './rows.ts';

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

/** A known repository's results as asked for; `anyResult` says whether it has any at all (at any commit). */
export interface RepoResults<T> {
  repo: RepoRef;
  results: T[];
  anyResult: boolean;
}

interface ResultRow {
  repo_id: number;
  canonical: string;
  key: string;
  score_id: number | null;
  score: number | string;
  scorecard_version: string;
  scorecard_commit: string;
  repo_commit: string;
  result_date: Date;
  stored_at: Date;
  raw?: unknown;
  /** Only with a commit: whether the repository has any result. */
  scored?: boolean;
}

/** The rows of a repository (one with null score fields when it has no result) as RepoResults. */
function repoResults<T>(rows: ResultRow[], commit: string | undefined, toResult: (r: ResultRow) => T): RepoResults<T> | undefined {
  const first = rows[0];
  if (!first) return undefined;
  const repo = { id: Number(first.repo_id), canonical: first.canonical, key: first.key };
  const results = first.score_id === null || first.score_id === undefined ? [] : rows.map(toResult);
  return { repo, results, anyResult: commit === undefined ? results.length > 0 : Boolean(first.scored) };
}

/** A repository's newest result in stored order (or its newest for one commit), with its raw document. */
export async function newestResultOf(db: Db, repoKey: string, commit?: string): Promise<RepoResults<StoredResult> | undefined> {
  const res = await db.raw(
    `SELECT r.id AS repo_id, r.canonical, r.key,
            s.id AS score_id, s.score, s.scorecard_version, s.scorecard_commit, s.repo_commit, s.result_date, s.stored_at, s.raw
            ${commit === undefined ? '' : ', EXISTS (SELECT 1 FROM scores y WHERE y.repo_id = r.id) AS scored'}
       FROM repos r
       LEFT JOIN LATERAL (
         SELECT x.* FROM scores x WHERE x.repo_id = r.id ${commit === undefined ? '' : 'AND lower(x.repo_commit) = :commit'}
          ORDER BY x.stored_at DESC, x.id DESC LIMIT 1
       ) s ON true
      WHERE r.key = :repoKey`,
    { repoKey, commit: commit?.toLowerCase() ?? null },
  );
  return repoResults(rowsOf<ResultRow>(res), commit, (r) => ({
    scoreId: Number(r.score_id),
    score: Number(r.score),
    scorecardVersion: r.scorecard_version,
    scorecardCommit: r.scorecard_commit,
    repoCommit: r.repo_commit,
    resultDate: new Date(r.result_date),
    storedAt: new Date(r.stored_at),
    raw: parsedJson(r.raw),
  }));
}

/** A repository's newest `limit` results, newest stored first, without their documents (optionally for one commit). */
export async function resultHistoryOf(db: Db, repoKey: string, options: { limit: number; commit?: string }): Promise<RepoResults<HistoryEntry> | undefined> {
  const { commit } = options;
  const res = await db.raw(
    `SELECT r.id AS repo_id, r.canonical, r.key,
            s.id AS score_id, s.score, s.scorecard_version, s.repo_commit, s.result_date, s.stored_at
            ${commit === undefined ? '' : ', EXISTS (SELECT 1 FROM scores y WHERE y.repo_id = r.id) AS scored'}
       FROM repos r
       LEFT JOIN LATERAL (
         SELECT x.id, x.score, x.scorecard_version, x.repo_commit, x.result_date, x.stored_at
           FROM scores x WHERE x.repo_id = r.id ${commit === undefined ? '' : 'AND lower(x.repo_commit) = :commit'}
          ORDER BY x.stored_at DESC, x.id DESC LIMIT :limit
       ) s ON true
      WHERE r.key = :repoKey
      ORDER BY s.stored_at DESC, s.id DESC`,
    { repoKey, limit: options.limit, commit: commit?.toLowerCase() ?? null },
  );
  return repoResults(rowsOf<ResultRow>(res), commit, (r) => ({
    scoreId: Number(r.score_id),
    score: Number(r.score),
    scorecardVersion: r.scorecard_version,
    repoCommit: r.repo_commit,
    resultDate: new Date(r.result_date),
    storedAt: new Date(r.stored_at),
  }));
}

/** The stored check rows of one result, in stored order: only for a raw document without usable checks. */
export async function storedChecks(db: Db, scoreId: number): Promise<StoredCheckRow[]> {
  const rows: Array<{
    name: string;
    score: number | string;
    reason: string;
    details: unknown;
    documentation_url: string | null;
    documentation_short: string | null;
  }> = await db('checks').where({ score_id: scoreId }).orderBy('id');
  return rows.map((c) => ({
    name: c.name,
    score: Number(c.score),
    reason: c.reason,
    details: parsedJson<string[] | null>(c.details) ?? null,
    documentation: c.documentation_url === null ? null : { url: c.documentation_url, short: c.documentation_short ?? '' },
  }));
}
