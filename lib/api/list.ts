// The list route's and the export's items: repositories with their newest result (read by
// lib/db/listing.ts, keyset-paged), their state, the next page's cursor, and CSV.
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { type LatestRow, type LatestSort, latestBoundary, latestPage } from '../db/listing.ts';
import { isFutureDated } from '../scorecard/clock.ts';
import type { Cursor, ListFilter, ListQuery, ListState } from './dashboard-route.ts';

export type FreshnessConfig = Pick<Config, 'rescoreIntervalSeconds' | 'jitterSeconds'> &
  Partial<Pick<Config, 'stuckAfterRuns'>> & {
    /** The policy set in force (lib/policy PolicySet.digest): rows carry their verdict under it. */
    policyDigest?: string;
  };

export interface ListItem {
  id: number;
  repo: string;
  key: string;
  state: ListState;
  score: number | null;
  previousScore: number | null;
  delta: number | null;
  /** The newest result's own date (the Scorecard pod's clock). */
  date: string | null;
  /** When posture stored it: the order "newest" is by, and the age fresh and overdue go by. */
  scoredAt: string | null;
  /** The result is dated after posture stored it, beyond the tolerance: the pod's clock is ahead. */
  futureDated: boolean;
  failures: number;
  lastError: string | null;
  /** Stuck (failed POSTURE_STUCK_AFTER_RUNS times in a row, not by its own fault): the newest reason. */
  stuck: string | null;
  nextDueAt: string;
  /** The verdict under the policy that applies (null: none applies, or not judged yet). */
  policy: { name: string; verdict: 'pass' | 'fail' | 'unknown'; score: number | null; failing: string[] } | null;
}

/** A result older than this is overdue: the interval plus the jitter the scheduler may add. */
export function freshCutoff(config: FreshnessConfig, now: Date): Date {
  return new Date(now.getTime() - (config.rescoreIntervalSeconds + config.jitterSeconds) * 1000);
}

/**
 * The state of one repository: failing wins, then never scored, then the age of its newest result
 * by when posture stored it (the result's own date is the pod's clock, which can be far off).
 */
export function stateOf(row: { failing: boolean; scoreId: number | null; scoredAt: Date | null }, cutoff: Date): ListState {
  if (row.failing) return 'failing';
  if (row.scoreId === null) return 'never';
  return (row.scoredAt?.getTime() ?? 0) >= cutoff.getTime() ? 'fresh' : 'overdue';
}

function toItem(r: LatestRow, cutoff: Date): ListItem {
  return {
    id: r.repoId,
    repo: r.canonical,
    key: r.key,
    state: stateOf(r, cutoff),
    score: r.score,
    previousScore: r.score !== null && r.delta !== null ? Math.round((r.score - r.delta) * 10) / 10 : null,
    delta: r.delta,
    date: r.resultDate === null ? null : r.resultDate.toISOString(),
    scoredAt: r.scoredAt === null ? null : r.scoredAt.toISOString(),
    futureDated: r.resultDate !== null && r.scoredAt !== null && isFutureDated(r.resultDate, r.scoredAt),
    failures: r.failures,
    lastError: r.lastError,
    stuck: r.stuckError,
    nextDueAt: r.nextDueAt.toISOString(),
    policy: r.policy,
  };
}

/** The cursor that resumes after a row, in the sort's terms. */
function cursorAfter(r: LatestRow, sort: LatestSort): Cursor {
  const v = sort === 'name' ? r.key : sort === 'date' ? (r.scoredAt?.toISOString() ?? null) : sort === 'score' ? r.score : r.delta;
  return { v, id: r.repoId };
}

export interface ListPage {
  items: ListItem[];
  /** The cursor of the next page, when there is one. */
  next?: Cursor;
}

/**
 * One page of the list; `sparse`: the state filter matches few repositories (see latestPage);
 * `through` (name sort): no key past it.
 */
export async function listRepos(
  db: Db,
  q: ListQuery,
  config: FreshnessConfig,
  now = new Date(),
  options: { sparse?: boolean; through?: string } = {},
): Promise<ListPage> {
  const cutoff = freshCutoff(config, now);
  const sort = q.sort.replace('-', '') as LatestSort;
  const after = q.after ? { value: sort === 'date' ? new Date(q.after.v as string) : q.after.v, repoId: q.after.id } : undefined;
  const rows = await latestPage(db, {
    ...(q.owner !== undefined ? { owner: q.owner } : {}),
    ...(q.min !== undefined ? { min: q.min } : {}),
    ...(q.max !== undefined ? { max: q.max } : {}),
    ...(q.state !== undefined ? { state: q.state } : {}),
    ...(q.verdict !== undefined ? { verdict: q.verdict } : {}),
    ...(config.policyDigest !== undefined ? { policyDigest: config.policyDigest } : {}),
    now,
    freshCutoff: cutoff,
    ...(config.stuckAfterRuns !== undefined ? { stuckAfterRuns: config.stuckAfterRuns } : {}),
    sort,
    descending: q.sort.startsWith('-'),
    ...(after ? { after } : {}),
    // One more than the page: whether it exists says if there is a next page.
    limit: q.limit + 1,
    sparse: options.sparse ?? false,
    ...(options.through !== undefined ? { through: options.through } : {}),
  });
  const page = rows.slice(0, q.limit);
  const items = page.map((r) => toItem(r, cutoff));
  if (rows.length <= q.limit) return { items };
  return { items, next: cursorAfter(page[page.length - 1], sort) };
}

/**
 * Where an export part of at most `max` rows from `after` ends, when more follow: the cursor of
 * its last row (the next part starts after it). Undefined: the rest fits in this part.
 */
export async function exportBoundary(
  db: Db,
  filter: ListFilter,
  config: FreshnessConfig,
  options: { now?: Date; after?: Cursor; max: number; sparse?: boolean },
): Promise<Cursor | undefined> {
  const b = await latestBoundary(db, {
    ...filter,
    ...(config.policyDigest !== undefined ? { policyDigest: config.policyDigest } : {}),
    now: options.now ?? new Date(),
    freshCutoff: freshCutoff(config, options.now ?? new Date()),
    ...(config.stuckAfterRuns !== undefined ? { stuckAfterRuns: config.stuckAfterRuns } : {}),
    ...(options.after ? { after: { value: options.after.v, repoId: options.after.id } } : {}),
    limit: options.max,
    sparse: options.sparse ?? false,
  });
  return b ? { v: b.key, id: b.repoId } : undefined;
}

/**
 * Repositories matching a filter in name order from `after` through the key `through` (all the
 * rest when undefined), `batch` at a time: one batch is read only when the last was consumed.
 */
export async function* allRepos(
  db: Db,
  filter: ListFilter,
  config: FreshnessConfig,
  options: { now?: Date; after?: Cursor; through?: string; batch: number; sparse?: boolean },
): AsyncGenerator<ListItem[], void> {
  let after = options.after;
  for (;;) {
    const page = await listRepos(db, { ...filter, sort: 'name', limit: options.batch, ...(after ? { after } : {}) }, config, options.now, {
      sparse: options.sparse,
      ...(options.through !== undefined ? { through: options.through } : {}),
    });
    if (page.items.length) yield page.items;
    if (!page.next) return;
    after = page.next;
  }
}

const CSV_COLUMNS = [
  'repo',
  'state',
  'score',
  'previous_score',
  'delta',
  'date',
  'scored_at',
  'failures',
  'last_error',
  'next_due_at',
  'policy',
  'verdict',
  'policy_score',
  'failing_rules',
] as const;

/** RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so a spreadsheet never runs it as a formula. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(i: ListItem): string {
  const p = i.policy;
  return `${[
    i.repo,
    i.state,
    i.score,
    i.previousScore,
    i.delta,
    i.date,
    i.scoredAt,
    i.failures,
    i.lastError,
    i.nextDueAt,
    p?.name,
    p?.verdict,
    p?.score,
    p?.failing.join(' '),
  ]
    .map(csvField)
    .join(',')}\r\n`;
}
