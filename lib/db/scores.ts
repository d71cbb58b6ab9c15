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
  /** The result's checks (only when asked for): what the gate judges policies by. */
  checks?: Array<{ name: string; score: number; internalError: boolean }>;
}

/** One page of scoresChangedPage: rows, and where the next page starts (undefined after the last). */
export interface ScoreChangePage {
  rows: ScoreChange[];
  next: string | undefined;
}

/**
 * Latest score per repository for repositories whose scores changed after `since` (all when
 * undefined): what the admission gate's cache loads in the background, a page at a time, so
 * neither the database driver nor the gate ever holds every repository's row at once. Pages go by
 * repository id (`after`: the previous page's `next`); only each repository's newest row is read
 * (one probe of scores_repo_idx per repository), never its history.
 */
export async function scoresChangedPage(db: Db, since: Date | undefined, page: { after?: string; limit: number; checks?: boolean }): Promise<ScoreChangePage> {
  const after = page.after ?? '0';
  // With `checks`, each row carries its result's checks as [name, score, internal_error] triples
  // (one probe of the checks' (score_id, name) index per repository).
  const checks = page.checks ? `, (SELECT json_agg(json_build_array(c.name, c.score, c.internal_error)) FROM checks c WHERE c.score_id = l.id) AS checks` : '';
  const latest = `LEFT JOIN LATERAL (
         SELECT s.id, s.score, s.result_date, s.created_at FROM scores s
          WHERE s.repo_id = r.id ORDER BY s.stored_at DESC, s.id DESC LIMIT 1) l ON true`;
  // The page is a range of repository ids; a repository with no score yet is in the range but
  // not in the rows, so `next` comes from the range, not from the rows returned.
  const res =
    since === undefined
      ? await db.raw(
          `SELECT r.id, r.key, r.canonical, l.score, l.result_date, l.created_at${checks}
             FROM (SELECT id, key, canonical FROM repos WHERE id > ? ORDER BY id LIMIT ?) r ${latest} ORDER BY r.id`,
          [after, page.limit],
        )
      : await db.raw(
          `SELECT r.id, r.key, r.canonical, l.score, l.result_date, l.created_at${checks}
             FROM (SELECT DISTINCT repo_id FROM scores WHERE created_at > ? AND repo_id > ? ORDER BY repo_id LIMIT ?) c
             JOIN repos r ON r.id = c.repo_id
             ${latest} ORDER BY r.id`,
          [since, after, page.limit],
        );
  const raw = rowsOf<{
    id: string | number;
    key: string;
    canonical: string;
    score: number | string | null;
    result_date: Date;
    created_at: Date;
    checks?: Array<[string, number, boolean]> | string | null;
  }>(res);
  const rows: ScoreChange[] = [];
  for (const r of raw) {
    if (r.score === null || r.score === undefined) continue;
    const row: ScoreChange = {
      repoKey: r.key,
      repo: r.canonical,
      score: Number(r.score),
      date: new Date(r.result_date).toISOString(),
      updatedAt: new Date(r.created_at),
    };
    if (page.checks) {
      const triples = (typeof r.checks === 'string' ? JSON.parse(r.checks) : (r.checks ?? [])) as Array<[string, number, boolean]>;
      row.checks = triples.map(([name, score, internalError]) => ({ name, score: Number(score), internalError: internalError === true }));
    }
    rows.push(row);
  }
  return { rows, next: raw.length === page.limit ? String(raw[raw.length - 1].id) : undefined };
}

/** Every page of scoresChangedPage at once (tests and small databases). */
export async function scoresChangedSince(db: Db, since: Date | undefined, pageRows = 10_000): Promise<ScoreChange[]> {
  const out: ScoreChange[] = [];
  let after: string | undefined;
  do {
    const p = await scoresChangedPage(db, since, { after, limit: pageRows });
    out.push(...p.rows);
    after = p.next;
  } while (after !== undefined);
  return out;
}

/**
 * The latest score (in stored order, as the admission gate's cache reads it) of each repository
 * key given that has one, in batches: what the audit judges running workloads against.
 */
export async function latestScoresOf(db: Db, keys: readonly string[], batch = 500): Promise<Map<string, { score: number; date: string }>> {
  const out = new Map<string, { score: number; date: string }>();
  for (let i = 0; i < keys.length; i += batch) {
    const part = keys.slice(i, i + batch);
    const res = await db.raw(
      `SELECT r.key, l.score, l.result_date FROM repos r
         JOIN LATERAL (SELECT s.score, s.result_date FROM scores s WHERE s.repo_id = r.id ORDER BY s.stored_at DESC, s.id DESC LIMIT 1) l ON true
        WHERE r.key IN (${part.map(() => '?').join(', ')})`,
      part,
    );
    for (const r of rowsOf<{ key: string; score: number | string | null; result_date: Date }>(res)) {
      if (r.score === null || r.score === undefined) continue;
      out.set(r.key, { score: Number(r.score), date: new Date(r.result_date).toISOString() });
    }
  }
  return out;
}
