// Repositories with their newest result, read from repo_latest (one row per repository, kept by
// the database): the dashboard's list and export, keyset-paged. Every sort has an index whose
// order it reads (key; score, delta and stored time with the repository id as tie-break), so a
// page costs the same at the millionth row as at the first.

import type { Db } from './connect.ts';
import { EFFECTIVE_VERDICT } from './policy-verdicts.ts';
import { numberOrNull, parsedJson, rowsOf } from './rows.ts';
import { NEVER_STUCK } from './runs.ts';

/** fresh and overdue: by when the newest result was stored, against a cutoff; never: no result yet. */
export type LatestState = 'fresh' | 'overdue' | 'failing' | 'never' | 'stuck';
export type LatestSort = 'name' | 'score' | 'delta' | 'date';

export interface LatestPageQuery {
  owner?: string;
  min?: number;
  max?: number;
  state?: LatestState;
  /** A newest result stored before this is overdue. */
  freshCutoff: Date;
  /** POSTURE_STUCK_AFTER_RUNS: failures not its own in a row that make a repository stuck. */
  stuckAfterRuns?: number;
  sort: LatestSort;
  descending: boolean;
  /** Where the previous page stopped: its last sort value (the key for name) and repository id. */
  after?: { value: string | number | Date | null; repoId: number };
  /** Name sort, ascending only: the last key of the page (an export part ends there). */
  through?: string;
  limit: number;
  /** The policy set in force: each row carries its verdict under it (judged by lib/policy, stored by 009). */
  policyDigest?: string;
  /** Only repositories with this verdict (as it reads at `now`: a pass past maxAge is unknown). */
  verdict?: 'pass' | 'fail' | 'unknown';
  /** The time verdicts are read at (default: the database's now()). */
  now?: Date;
  /**
   * The state (fresh or overdue) matches few repositories. The planner cannot know that (its
   * statistics see the age of results, not that the old ones are nearly all failing), and
   * reading the sort's index until a page is found would then read most of it; a sparse state
   * is read from the stored-time index first.
   */
  sparse?: boolean;
}

/** A repository and its newest result (score fields null when it has none). */
export interface LatestRow {
  repoId: number;
  key: string;
  canonical: string;
  scoreId: number | null;
  score: number | null;
  delta: number | null;
  /** The newest result's own date (the Scorecard pod's clock). */
  resultDate: Date | null;
  /** When posture stored the newest result: its place in the order, and its age. */
  scoredAt: Date | null;
  failing: boolean;
  failures: number;
  lastError: string | null;
  /** Stuck: the newest failure not its own (`<class>: <reason>`); null when not stuck. */
  stuckError: string | null;
  nextDueAt: Date;
  /** The verdict under the policy set in force; null when no policy applies or it is not judged yet. */
  policy: { name: string; verdict: 'pass' | 'fail' | 'unknown'; score: number | null; failing: string[] } | null;
}

interface LatestDbRow {
  repo_id: number;
  key: string;
  canonical: string;
  score_id: number | null;
  score: number | string | null;
  delta: number | string | null;
  result_date: Date | null;
  scored_at: Date | null;
  failing: boolean;
  consecutive_failures: number;
  last_error: string | null;
  other_failures: number;
  other_error: string | null;
  next_due_at: Date;
  policy?: string | null;
  verdict?: 'pass' | 'fail' | 'unknown' | null;
  policy_score?: number | string | null;
  failing_rules?: unknown;
}

const COLUMN: Record<LatestSort, string> = { name: 'l.key', score: 'l.score', delta: 'l.delta', date: 'l.scored_at' };

/** The WHERE conditions of a page, over named bindings of the query's own fields. */
function conditions(q: LatestPageQuery): string[] {
  const sql: string[] = [];
  if (q.owner !== undefined) sql.push('l.owner = :owner');
  if (q.min !== undefined) sql.push('l.score >= :min');
  if (q.max !== undefined) sql.push('l.score <= :max');
  if (q.state === 'failing') sql.push('l.failing');
  if (q.state === 'never') sql.push('l.score_id IS NULL AND NOT l.failing');
  if (q.state === 'fresh') sql.push('NOT l.failing AND l.scored_at >= :freshCutoff');
  if (q.state === 'overdue') sql.push('NOT l.failing AND l.scored_at < :freshCutoff');
  if (q.state === 'stuck') sql.push('NOT l.failing AND r.other_failures >= :stuckAfterRuns::int');
  // Sorting by a value lists the repositories that have one (the index holds only those).
  if (q.sort !== 'name') sql.push(`${COLUMN[q.sort]} IS NOT NULL`);
  if (q.after) {
    const op = q.descending ? '<' : '>';
    sql.push(q.sort === 'name' ? `l.key ${op} :afterValue` : `(${COLUMN[q.sort]}, l.repo_id) ${op} (:afterValue, :afterRepoId)`);
  }
  if (q.through !== undefined) sql.push('l.key <= :through');
  if (q.verdict !== undefined) sql.push(`v.policy IS NOT NULL AND (${EFFECTIVE_VERDICT}) = :verdict`);
  return sql;
}

/** The join to each repository's verdict under the policy set in force (none without one). */
function verdictJoin(q: Pick<LatestPageQuery, 'policyDigest'>): string {
  return q.policyDigest === undefined ? '' : 'LEFT JOIN policy_verdicts v ON v.repo_id = l.repo_id AND v.digest = :policyDigest';
}

/** The FROM of a page: repo_latest, or its sparse state read from the stored-time index first. */
function sourceOf(q: Pick<LatestPageQuery, 'sparse' | 'state'>): string {
  // OFFSET 0 keeps the subquery from being flattened, so its predicate picks its own index.
  const sparse = q.sparse && (q.state === 'fresh' || q.state === 'overdue');
  return sparse ? `(SELECT * FROM repo_latest WHERE NOT failing AND scored_at ${q.state === 'fresh' ? '>=' : '<'} :freshCutoff OFFSET 0) l` : 'repo_latest l';
}

function bindingsOf(q: LatestPageQuery) {
  return {
    owner: q.owner ?? null,
    min: q.min ?? null,
    max: q.max ?? null,
    freshCutoff: q.freshCutoff,
    stuckAfterRuns: q.stuckAfterRuns ?? NEVER_STUCK,
    afterValue: q.after?.value ?? null,
    afterRepoId: q.after?.repoId ?? null,
    through: q.through ?? null,
    limit: q.limit,
    policyDigest: q.policyDigest ?? null,
    verdict: q.verdict ?? null,
    now: q.now ?? new Date(),
  };
}

/**
 * Name order: the key and id of the `limit`-th repository matching the query when more follow
 * it (where a part of `limit` rows ends and the next begins), or undefined when the rest fits.
 * Reads keys only (the join to repos only for the stuck state), so the export can name its next
 * part before it sends its first row.
 */
export async function latestBoundary(
  db: Db,
  q: Omit<LatestPageQuery, 'sort' | 'descending' | 'through'>,
): Promise<{ key: string; repoId: number } | undefined> {
  const page: LatestPageQuery = { ...q, sort: 'name', descending: false };
  const where = conditions(page);
  const join = `${q.state === 'stuck' ? 'JOIN repos r ON r.id = l.repo_id' : ''} ${q.verdict !== undefined ? verdictJoin(q) : ''}`;
  const res = await db.raw(
    `SELECT l.key, l.repo_id FROM ${sourceOf(page)} ${join}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY l.key LIMIT 2 OFFSET :offset`,
    { ...bindingsOf(page), offset: q.limit - 1 },
  );
  const rows = rowsOf<{ key: string; repo_id: number }>(res);
  return rows.length === 2 ? { key: rows[0].key, repoId: Number(rows[0].repo_id) } : undefined;
}

/** One page of repositories with their newest result, in the query's order. */
export async function latestPage(db: Db, q: LatestPageQuery): Promise<LatestRow[]> {
  const where = conditions(q);
  const dir = q.descending ? 'DESC' : 'ASC';
  const order = q.sort === 'name' ? `l.key ${dir}` : `${COLUMN[q.sort]} ${dir}, l.repo_id ${dir}`;
  const source = sourceOf(q);
  const res = await db.raw(
    `SELECT l.repo_id, l.key, l.score_id, l.score, l.delta, l.result_date, l.scored_at, l.failing,
            r.canonical, r.consecutive_failures, r.last_error, r.other_failures, r.other_error, r.next_due_at
            ${q.policyDigest === undefined ? '' : `, v.policy, ${EFFECTIVE_VERDICT} AS verdict, v.score AS policy_score, v.failing AS failing_rules`}
       FROM ${source} JOIN repos r ON r.id = l.repo_id ${verdictJoin(q)}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${order}
      LIMIT :limit`,
    bindingsOf(q),
  );
  return rowsOf<LatestDbRow>(res).map((r) => ({
    repoId: Number(r.repo_id),
    key: r.key,
    canonical: r.canonical,
    scoreId: numberOrNull(r.score_id),
    score: numberOrNull(r.score),
    delta: numberOrNull(r.delta),
    resultDate: r.result_date === null ? null : new Date(r.result_date),
    scoredAt: r.scored_at === null ? null : new Date(r.scored_at),
    failing: r.failing,
    failures: Number(r.consecutive_failures),
    lastError: r.last_error,
    stuckError: !r.failing && Number(r.other_failures) >= (q.stuckAfterRuns ?? NEVER_STUCK) ? (r.other_error ?? 'not its own') : null,
    nextDueAt: new Date(r.next_due_at),
    policy:
      r.policy && r.verdict
        ? { name: r.policy, verdict: r.verdict, score: numberOrNull(r.policy_score), failing: parsedJson<string[] | null>(r.failing_rules) ?? [] }
        : null,
  }));
}

/** A repository and the state of its newest result; failing is null before its first harvest. */
export interface RepoWithLatest {
  id: number;
  key: string;
  canonical: string;
  failures: number;
  lastError: string | null;
  nextDueAt: Date;
  latestScoreId: number | null;
  latestResultDate: Date | null;
  /** When posture stored the newest result. */
  latestScoredAt: Date | null;
  failing: boolean | null;
}

/** A repository by its key, with its newest result's id, dates and failing flag. */
export async function repoWithLatest(db: Db, key: string): Promise<RepoWithLatest | undefined> {
  const res = await db.raw(
    `SELECT r.id, r.key, r.canonical, r.consecutive_failures, r.last_error, r.next_due_at, l.score_id, l.result_date, l.scored_at, l.failing
       FROM repos r LEFT JOIN repo_latest l ON l.repo_id = r.id WHERE r.key = :key`,
    { key },
  );
  const r = rowsOf<{
    id: number;
    key: string;
    canonical: string;
    consecutive_failures: number;
    last_error: string | null;
    next_due_at: Date;
    score_id: number | null;
    result_date: Date | null;
    scored_at: Date | null;
    failing: boolean | null;
  }>(res)[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    key: r.key,
    canonical: r.canonical,
    failures: Number(r.consecutive_failures),
    lastError: r.last_error,
    nextDueAt: new Date(r.next_due_at),
    latestScoreId: numberOrNull(r.score_id),
    latestResultDate: r.result_date === null ? null : new Date(r.result_date),
    latestScoredAt: r.scored_at === null ? null : new Date(r.scored_at),
    failing: r.failing ?? null,
  };
}
