// The list route's and the export's reads: repositories with their newest result, filtered and
// keyset-paged over repo_latest (one row per repository, kept by the database). Every sort
// has an index whose order it reads (key; score, delta and result date with the repository id as
// tie-break), so a page costs the same at the millionth row as at the first.
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import type { Cursor, ListFilter, ListQuery, ListState } from './dashboard-route.ts';

export type FreshnessConfig = Pick<Config, 'rescoreIntervalSeconds' | 'jitterSeconds'>;

export interface ListItem {
  id: number;
  repo: string;
  key: string;
  state: ListState;
  score: number | null;
  previousScore: number | null;
  delta: number | null;
  date: string | null;
  scoredAt: string | null;
  failures: number;
  lastError: string | null;
  nextDueAt: string;
}

const rowsOf = (res: any): any[] => res.rows ?? res;

/** A result older than this is overdue: the interval plus the jitter the scheduler may add. */
export function freshCutoff(config: FreshnessConfig, now: Date): Date {
  return new Date(now.getTime() - (config.rescoreIntervalSeconds + config.jitterSeconds) * 1000);
}

/** The state of one repository (failing wins, then never scored, then by the age of its newest result). */
/** Freshness is the age of the result (Scorecard's date), not of its storage. */
export function stateOf(row: { failing: boolean; score_id: unknown; result_date: unknown }, cutoff: Date): ListState {
  if (row.failing) return 'failing';
  if (row.score_id === null || row.score_id === undefined) return 'never';
  return new Date(row.result_date as string).getTime() >= cutoff.getTime() ? 'fresh' : 'overdue';
}

const COLUMN = { name: 'l.key', score: 'l.score', delta: 'l.delta', date: 'l.result_date' } as const;

function where(f: ListFilter, cutoff: Date, sortField: keyof typeof COLUMN): { sql: string[]; bindings: unknown[] } {
  const sql: string[] = [];
  const bindings: unknown[] = [];
  if (f.owner !== undefined) sql.push('l.owner = ?'), bindings.push(f.owner);
  if (f.min !== undefined) sql.push('l.score >= ?'), bindings.push(f.min);
  if (f.max !== undefined) sql.push('l.score <= ?'), bindings.push(f.max);
  switch (f.state) {
    case 'failing':
      sql.push('l.failing');
      break;
    case 'never':
      sql.push('l.score_id IS NULL AND NOT l.failing');
      break;
    case 'fresh':
      sql.push('NOT l.failing AND l.result_date >= ?'), bindings.push(cutoff);
      break;
    case 'overdue':
      sql.push('NOT l.failing AND l.result_date < ?'), bindings.push(cutoff);
      break;
  }
  // Sorting by a value lists the repositories that have one (the index holds only those).
  if (sortField !== 'name') sql.push(`${COLUMN[sortField]} IS NOT NULL`);
  return { sql, bindings };
}

function toItem(r: any, cutoff: Date): ListItem {
  const score = r.score === null ? null : Number(r.score);
  const delta = r.delta === null ? null : Number(r.delta);
  return {
    id: Number(r.repo_id),
    repo: r.canonical,
    key: r.key,
    state: stateOf(r, cutoff),
    score,
    previousScore: score !== null && delta !== null ? Math.round((score - delta) * 10) / 10 : null,
    delta,
    date: r.result_date === null ? null : new Date(r.result_date).toISOString(),
    scoredAt: r.scored_at === null ? null : new Date(r.scored_at).toISOString(),
    failures: Number(r.consecutive_failures),
    lastError: r.last_error,
    nextDueAt: new Date(r.next_due_at).toISOString(),
  };
}

export interface ListPage {
  items: ListItem[];
  /** The cursor of the next page, when there is one. */
  next?: Cursor;
}

/**
 * One page of the list. `sparse` says the state filter (fresh or overdue) matches few
 * repositories: the planner cannot know that (its statistics see the age of results, not that
 * the old ones are nearly all failing), and reading the sort's index until a page is found
 * would then read most of it; a sparse state is read from the result-date index first.
 */
export async function listRepos(db: Db, q: ListQuery, config: FreshnessConfig, now = new Date(), options: { sparse?: boolean } = {}): Promise<ListPage> {
  const cutoff = freshCutoff(config, now);
  const field = q.sort.replace('-', '') as keyof typeof COLUMN;
  const desc = q.sort.startsWith('-');
  const col = COLUMN[field];
  const w = where(q, cutoff, field);
  if (q.after) {
    const op = desc ? '<' : '>';
    if (field === 'name') w.sql.push(`l.key ${op} ?`), w.bindings.push(q.after.v);
    else w.sql.push(`(${col}, l.repo_id) ${op} (?, ?)`), w.bindings.push(field === 'date' ? new Date(q.after.v as string) : q.after.v, q.after.id);
  }
  const dir = desc ? 'DESC' : 'ASC';
  const order = field === 'name' ? `l.key ${dir}` : `${col} ${dir}, l.repo_id ${dir}`;
  // OFFSET 0 keeps the subquery from being flattened, so its predicate picks its own index.
  const sparse = options.sparse && (q.state === 'fresh' || q.state === 'overdue');
  const source = sparse
    ? `(SELECT * FROM repo_latest WHERE NOT failing AND result_date ${q.state === 'fresh' ? '>=' : '<'} ? OFFSET 0) l`
    : 'repo_latest l';
  const res = await db.raw(
    `SELECT l.repo_id, l.key, l.score_id, l.score, l.delta, l.result_date, l.scored_at, l.failing,
            r.canonical, r.consecutive_failures, r.last_error, r.next_due_at
       FROM ${source} JOIN repos r ON r.id = l.repo_id
      ${w.sql.length ? 'WHERE ' + w.sql.join(' AND ') : ''}
      ORDER BY ${order}
      LIMIT ?`,
    [...(sparse ? [cutoff] : []), ...w.bindings, q.limit + 1] as any,
  );
  const rows = rowsOf(res);
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  const items = page.map((r) => toItem(r, cutoff));
  if (!more) return { items };
  const last = page[page.length - 1];
  const v = field === 'name' ? last.key : field === 'date' ? new Date(last.result_date).toISOString() : Number(last[field === 'score' ? 'score' : 'delta']);
  return { items, next: { v, id: Number(last.repo_id) } };
}

/** Repositories matching a filter in name order from `after`, a batch at a time, up to `max` (for the export); then the cursor where it stopped, if it did. */
export async function* allRepos(db: Db, filter: ListFilter, config: FreshnessConfig, options: { now?: Date; after?: Cursor; max: number; sparse?: boolean }): AsyncGenerator<ListItem[], Cursor | undefined> {
  let after = options.after;
  let left = options.max;
  while (left > 0) {
    const page = await listRepos(db, { ...filter, sort: 'name', limit: Math.min(5000, left), ...(after ? { after } : {}) }, config, options.now, { sparse: options.sparse });
    if (page.items.length) yield page.items;
    left -= page.items.length;
    if (!page.next) return undefined;
    after = page.next;
  }
  return after;
}

const CSV_COLUMNS = ['repo', 'state', 'score', 'previous_score', 'delta', 'date', 'scored_at', 'failures', 'last_error', 'next_due_at'] as const;

/** RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so a spreadsheet never runs it as a formula. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function csvRow(i: ListItem): string {
  return [i.repo, i.state, i.score, i.previousScore, i.delta, i.date, i.scoredAt, i.failures, i.lastError, i.nextDueAt].map(csvField).join(',') + '\r\n';
}
