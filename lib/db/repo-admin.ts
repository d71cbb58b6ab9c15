// What people do to the repository list from the command line: a page of repositories with
// their state and newest score, removing some, changing a priority, and the queue's summary
// that `posture up` prints when idle. Pages are keyset pages on the unique `key` index, so the
// 4000th page costs what the first does.
import type { Db } from './connect.ts';
import { numberOrNull, rowsOf } from './rows.ts';
import { NEVER_STUCK } from './runs.ts';

/** Most precise first: a repository in more than one state shows the first that applies. */
export const REPO_STATES = ['retired', 'running', 'failing', 'stuck', 'due', 'scored', 'waiting'] as const;
export type RepoState = (typeof REPO_STATES)[number];

// retired: archived or gone from its source (kept with its history, never scheduled);
// running: claimed by a tick, lease not expired; failing: the newest run failed; stuck: the
// newest runs failed, POSTURE_STUCK_AFTER_RUNS in a row, for reasons not the repository's; due:
// waiting for a tick; scored: has a score and is not due yet; waiting: never scored and not due yet.
const STATE_SQL = `CASE
  WHEN r.retired_at IS NOT NULL THEN 'retired'
  WHEN r.lease_owner IS NOT NULL AND r.lease_expires_at > now() THEN 'running'
  WHEN r.consecutive_failures > 0 THEN 'failing'
  WHEN r.other_failures >= :stuckAfterRuns::int THEN 'stuck'
  WHEN r.next_due_at <= now() THEN 'due'
  WHEN s.score IS NOT NULL THEN 'scored'
  ELSE 'waiting' END`;

export interface RepoStatus {
  repo: string;
  key: string;
  state: RepoState;
  score: number | null;
  /** The newest result's own date (the Scorecard pod's clock). */
  date: Date | null;
  /** When posture stored the newest result (the order "newest" is by). */
  scoredAt: Date | null;
  priority: number;
  nextDueAt: Date;
  failures: number;
  lastError: string | null;
  /** Runs in a row failed for reasons not the repository's, and the newest such reason. */
  otherFailures: number;
  otherError: string | null;
  metadata: string | null;
  /** Why a retired repository is (archived, gone from its source); null for the others. */
  retiredReason: string | null;
}

export interface RepoFilter {
  /** Only repositories whose key sorts after this one (the previous page's last key). */
  after?: string;
  limit: number;
  state?: RepoState;
  /** Newest score below this (unscored repositories are not included). */
  below?: number;
  /** Substring of the name, case-insensitive. */
  match?: string;
  /** POSTURE_STUCK_AFTER_RUNS: from how many failures not its own a repository is stuck. */
  stuckAfterRuns: number;
}

interface RepoStatusRow {
  canonical: string;
  key: string;
  priority: number;
  next_due_at: Date;
  consecutive_failures: number;
  last_error: string | null;
  other_failures: number;
  other_error: string | null;
  metadata: string | null;
  retired_reason: string | null;
  score: number | string | null;
  result_date: Date | null;
  stored_at: Date | null;
  state: RepoState;
}

export async function listRepoStatus(db: Db, f: RepoFilter): Promise<RepoStatus[]> {
  const where: string[] = [];
  if (f.after !== undefined) where.push('r.key > :after');
  if (f.match !== undefined) where.push('strpos(r.key, :match) > 0');
  if (f.state !== undefined) where.push(`(${STATE_SQL}) = :state`);
  if (f.below !== undefined) where.push('s.score < :below');
  const res = await db.raw(
    `SELECT r.canonical, r.key, r.priority, r.next_due_at, r.consecutive_failures, r.last_error, r.other_failures, r.other_error, r.metadata, r.retired_reason,
            s.score, s.result_date, s.stored_at, ${STATE_SQL} AS state
       FROM repos r
       LEFT JOIN LATERAL (SELECT x.score, x.result_date, x.stored_at FROM scores x WHERE x.repo_id = r.id
                           ORDER BY x.stored_at DESC, x.id DESC LIMIT 1) s ON true
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY r.key
      LIMIT :limit`,
    {
      after: f.after?.toLowerCase() ?? null,
      match: f.match?.toLowerCase() ?? null,
      state: f.state ?? null,
      below: f.below ?? null,
      stuckAfterRuns: f.stuckAfterRuns,
      limit: Math.max(1, Math.trunc(f.limit)),
    },
  );
  return rowsOf<RepoStatusRow>(res).map((r) => ({
    repo: r.canonical,
    key: r.key,
    state: r.state,
    score: numberOrNull(r.score),
    date: r.result_date ? new Date(r.result_date) : null,
    scoredAt: r.stored_at ? new Date(r.stored_at) : null,
    priority: Number(r.priority),
    nextDueAt: new Date(r.next_due_at),
    failures: Number(r.consecutive_failures),
    lastError: r.last_error ?? null,
    otherFailures: Number(r.other_failures),
    otherError: r.other_error ?? null,
    metadata: r.metadata ?? null,
    retiredReason: r.retired_reason ?? null,
  }));
}

/** How many rows of a table belong to one repository. */
interface RepoCount {
  repo_id: number;
  n: number | string;
}

/**
 * Deletes repositories with their runs, scores and checks, in one transaction. A Job still
 * running for one is left to the scheduler's reconcile (it deletes Jobs the database does not know).
 */
export async function removeRepos(db: Db, keys: readonly string[]): Promise<Map<string, { scores: number; runs: number }>> {
  const removed = new Map<string, { scores: number; runs: number }>();
  if (keys.length === 0) return removed;
  await db.transaction(async (tx) => {
    const found = rowsOf<{ id: number; key: string }>(await tx.raw('SELECT id, key FROM repos WHERE key = ANY(?::text[]) FOR UPDATE', [[...keys]]));
    if (found.length === 0) return;
    const ids = found.map((r) => Number(r.id));
    const scores = rowsOf<RepoCount>(await tx.raw('SELECT repo_id, count(*) AS n FROM scores WHERE repo_id = ANY(?::bigint[]) GROUP BY repo_id', [ids]));
    const runs = rowsOf<RepoCount>(await tx.raw('SELECT repo_id, count(*) AS n FROM runs WHERE repo_id = ANY(?::bigint[]) GROUP BY repo_id', [ids]));
    const count = (rows: RepoCount[], id: number) => Number(rows.find((r) => Number(r.repo_id) === id)?.n ?? 0);
    await tx.raw('DELETE FROM checks WHERE score_id IN (SELECT id FROM scores WHERE repo_id = ANY(?::bigint[]))', [ids]);
    await tx.raw('DELETE FROM scores WHERE repo_id = ANY(?::bigint[])', [ids]);
    await tx.raw('DELETE FROM runs WHERE repo_id = ANY(?::bigint[])', [ids]);
    await tx.raw('DELETE FROM repos WHERE id = ANY(?::bigint[])', [ids]);
    for (const r of found) removed.set(r.key, { scores: count(scores, Number(r.id)), runs: count(runs, Number(r.id)) });
  });
  return removed;
}

/** Sets the priority of repositories (higher is claimed first); returns the keys that exist. */
export async function setPriority(db: Db, keys: readonly string[], priority: number): Promise<string[]> {
  if (keys.length === 0) return [];
  const res = await db.raw('UPDATE repos SET priority = ?, updated_at = now() WHERE key = ANY(?::text[]) RETURNING key', [priority, [...keys]]);
  return rowsOf<{ key: string }>(res).map((r) => r.key);
}

export interface QueueSummary {
  total: number;
  due: number;
  running: number;
  failing: number;
  /** Failed POSTURE_STUCK_AFTER_RUNS times in a row for reasons not their own. */
  stuck: number;
  nextDueAt: Date | null;
}

/** The queue at a glance, for `posture up`'s heartbeat (one scan; minutes apart). */
export async function queueSummary(db: Db, stuckAfterRuns = NEVER_STUCK): Promise<QueueSummary> {
  const [r] = rowsOf<{
    total: number | string;
    due: number | string;
    running: number | string;
    failing: number | string;
    stuck: number | string;
    next_due: Date | null;
  }>(
    await db.raw(
      `SELECT count(*) AS total,
              count(*) FILTER (WHERE next_due_at <= now() AND NOT (lease_owner IS NOT NULL AND lease_expires_at > now())) AS due,
              count(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires_at > now()) AS running,
              count(*) FILTER (WHERE consecutive_failures > 0) AS failing,
              count(*) FILTER (WHERE consecutive_failures = 0 AND other_failures >= :stuckAfterRuns::int) AS stuck,
              min(next_due_at) FILTER (WHERE next_due_at > now()) AS next_due
         FROM repos`,
      { stuckAfterRuns },
    ),
  );
  return {
    total: Number(r.total),
    due: Number(r.due),
    running: Number(r.running),
    failing: Number(r.failing),
    stuck: Number(r.stuck),
    nextDueAt: r.next_due ? new Date(r.next_due) : null,
  };
}
