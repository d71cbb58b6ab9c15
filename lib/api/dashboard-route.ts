// Routing and validation of the dashboard's routes (pure, no database), beside route.ts:
//
//   GET /projects?owner=&min=&max=&state=&sort=&limit=&cursor=   the list, keyset-paged
//   GET /projects/{host}/{owner}/{repo}/changes?from=&to=         per-check diff of two results
//   GET /export/latest.csv | /export/latest.json[?owner=&min=&max=&state=]
//   GET /ui                                   fleet page
//   GET /ui/projects[?same filters as the list]  list page
//   GET /ui/projects/{host}/{owner}/{repo}    repository page
//   GET /ui/projects/{host}/{owner}/{repo}/diff?from=&to=
//   GET /ui/workloads                         running workloads below the bar (the last audit)
//
// Anything else is undefined: route.ts answers it. A result is named by its id (as the
// dashboard and the changes route show it), its repository commit, or a time (the newest
// result at or before it; a bare date means the end of that day, UTC).

import type { ResultSelector } from '../changes/store.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { API_METHODS, type ApiError, quote, type RawRequest } from './route.ts';

/** stuck: its newest runs failed, POSTURE_STUCK_AFTER_RUNS in a row, for reasons not its own. */
export const LIST_STATES = ['fresh', 'overdue', 'failing', 'never', 'stuck'] as const;
export type ListState = (typeof LIST_STATES)[number];
export const LIST_SORTS = ['name', '-name', 'score', '-score', 'delta', '-delta', 'date', '-date'] as const;
export type ListSort = (typeof LIST_SORTS)[number];
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

export const LIST_VERDICTS = ['pass', 'fail', 'unknown'] as const;
export type ListVerdict = (typeof LIST_VERDICTS)[number];

export interface ListFilter {
  owner?: string;
  min?: number;
  max?: number;
  state?: ListState;
  /** The verdict under the policy that applies (docs/use/policy.md). */
  verdict?: ListVerdict;
}

export interface ListQuery extends ListFilter {
  sort: ListSort;
  limit: number;
  /** The last row of the previous page: its sort value and repository id (name sort: its key). */
  after?: Cursor;
}

export type Cursor = { v: string | number | null; id: number };

export type DashboardRequest =
  | { route: 'list'; head: boolean; query: ListQuery }
  | { route: 'changes'; head: boolean; repo: RepoId; from?: ResultSelector; to?: ResultSelector }
  | { route: 'export'; head: boolean; format: 'csv' | 'json'; filter: ListFilter; after?: Cursor }
  | { route: 'ui-fleet'; head: boolean }
  | { route: 'ui-workloads'; head: boolean }
  | { route: 'ui-list'; head: boolean; query: ListQuery }
  | { route: 'ui-repo'; head: boolean; repo: RepoId }
  | { route: 'ui-diff'; head: boolean; repo: RepoId; from?: ResultSelector; to?: ResultSelector };

const fail = (status: ApiError['status'], message: string): ApiError => ({ error: true, status, message });
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const OWNER = /^[A-Za-z0-9-]{1,39}$/;
const SCORE = /^(10(\.0)?|[0-9](\.[0-9])?)$/;
const LIMIT = /^[1-9][0-9]{0,3}$/;
const ID = /^[1-9][0-9]{0,17}$/;
const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function one(query: RawRequest['query'], name: string): { value?: string; error?: string } {
  const v = query[name];
  if (v === undefined || v === '') return {};
  if (Array.isArray(v)) return { error: `query parameter ${name} given more than once` };
  if (typeof v !== 'string') return { error: `query parameter ${name} is not a string` };
  if (v.length > 256) return { error: `query parameter ${name} longer than 256 characters` };
  return { value: v };
}

/** Whether YYYY-MM-DD names a day of the calendar (Date.parse rolls 2025-02-31 over into March). */
function realDay(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** A result selector from a query value: an id, a full commit SHA, a date or an RFC 3339 time. */
export function parseSelector(name: string, raw: string): ResultSelector | string {
  if (ID.test(raw)) return { id: Number(raw) };
  if (COMMIT.test(raw)) return { commit: raw.toLowerCase() };
  if ((DAY.test(raw) || TIME.test(raw)) && realDay(raw.slice(0, 10))) {
    const t = DAY.test(raw) ? Date.parse(`${raw}T23:59:59.999Z`) : Date.parse(raw);
    if (Number.isFinite(t)) return { at: new Date(t) };
  }
  return `${name} must be a result id, a full commit SHA, a date (YYYY-MM-DD) or an RFC 3339 time, got ${quote(raw)}`;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.v, c.id])).toString('base64url');
}

export function decodeCursor(raw: string, sort: ListSort): Cursor | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return 'cursor is not one this API gave out';
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !Number.isSafeInteger(parsed[1]) || parsed[1] < 1) return 'cursor is not one this API gave out';
  const [v, id] = parsed as [unknown, number];
  const field = sort.replace('-', '');
  const okValue =
    field === 'name'
      ? typeof v === 'string' && v.length <= 256
      : field === 'date'
        ? typeof v === 'string' && Number.isFinite(Date.parse(v))
        : typeof v === 'number' && Number.isFinite(v);
  if (!okValue) return `cursor does not fit sort=${sort} (a cursor belongs to the sort it came from)`;
  return { v: v as string | number, id };
}

function parseFilter(query: RawRequest['query']): ListFilter | string {
  const f: ListFilter = {};
  const owner = one(query, 'owner');
  if (owner.error) return owner.error;
  if (owner.value !== undefined) {
    if (!OWNER.test(owner.value)) return `owner must be 1-39 letters, digits or dashes, got ${quote(owner.value)}`;
    f.owner = owner.value.toLowerCase();
  }
  for (const k of ['min', 'max'] as const) {
    const v = one(query, k);
    if (v.error) return v.error;
    if (v.value !== undefined) {
      if (!SCORE.test(v.value)) return `${k} must be a score from 0 to 10 with at most one decimal, got ${quote(v.value)}`;
      f[k] = Number(v.value);
    }
  }
  if (f.min !== undefined && f.max !== undefined && f.min > f.max) return `min (${f.min}) is greater than max (${f.max})`;
  const state = one(query, 'state');
  if (state.error) return state.error;
  if (state.value !== undefined) {
    if (!(LIST_STATES as readonly string[]).includes(state.value)) return `state must be one of ${LIST_STATES.join(', ')}, got ${quote(state.value)}`;
    f.state = state.value as ListState;
  }
  const verdict = one(query, 'verdict');
  if (verdict.error) return verdict.error;
  if (verdict.value !== undefined) {
    if (!(LIST_VERDICTS as readonly string[]).includes(verdict.value)) return `verdict must be one of ${LIST_VERDICTS.join(', ')}, got ${quote(verdict.value)}`;
    f.verdict = verdict.value as ListVerdict;
  }
  return f;
}

function parseList(query: RawRequest['query']): ListQuery | string {
  const f = parseFilter(query);
  if (typeof f === 'string') return f;
  const sort = one(query, 'sort');
  if (sort.error) return sort.error;
  if (sort.value !== undefined && !(LIST_SORTS as readonly string[]).includes(sort.value))
    return `sort must be one of ${LIST_SORTS.join(', ')}, got ${quote(sort.value)}`;
  const q: ListQuery = { ...f, sort: (sort.value as ListSort | undefined) ?? 'name', limit: DEFAULT_LIST_LIMIT };
  const limit = one(query, 'limit');
  if (limit.error) return limit.error;
  if (limit.value !== undefined) {
    if (!LIMIT.test(limit.value) || Number(limit.value) > MAX_LIST_LIMIT)
      return `limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${quote(limit.value)}`;
    q.limit = Number(limit.value);
  }
  const cursor = one(query, 'cursor');
  if (cursor.error) return cursor.error;
  if (cursor.value !== undefined) {
    const c = decodeCursor(cursor.value, q.sort);
    if (typeof c === 'string') return c;
    q.after = c;
  }
  return q;
}

function parseFromTo(query: RawRequest['query']): { from?: ResultSelector; to?: ResultSelector } | string {
  const out: { from?: ResultSelector; to?: ResultSelector } = {};
  for (const k of ['from', 'to'] as const) {
    const v = one(query, k);
    if (v.error) return v.error;
    if (v.value !== undefined) {
      const s = parseSelector(k, v.value);
      if (typeof s === 'string') return s;
      out[k] = s;
    }
  }
  return out;
}

function segmentsOf(path: string): string[] | string {
  const parts = path.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const out: string[] = [];
  for (const p of parts) {
    if (p === '') return 'empty path segment (double, leading or trailing slash)';
    let d: string;
    try {
      d = decodeURIComponent(p);
    } catch {
      return `malformed percent-encoding in path segment ${quote(p)}`;
    }
    if (d.includes('/') || d.includes('\\')) return `an encoded slash is not allowed in path segment ${quote(p)}`;
    if (CONTROL.test(d)) return `control characters are not allowed in path segment ${quote(p)}`;
    if (d === '.' || d === '..') return 'dot segments (. and ..) are not allowed in the path';
    out.push(d);
  }
  return out;
}

function repoOf(segs: string[], allowedHosts: readonly string[]): RepoId | string {
  const parsed = parseRepo(`${segs[0]}/${segs[1]}/${segs[2]}`, allowedHosts);
  return parsed.ok ? parsed.repo : `invalid repository: ${parsed.reason}`;
}

/** Whether a path is the dashboard's (pages, list, changes, export) rather than a score route's. */
export function isDashboardPath(path: string): boolean {
  const first = path.split('/')[1];
  return (
    first === 'ui' ||
    first === 'export' ||
    /^\/projects\/?$/.test(path) ||
    (first === 'projects' && /\/changes\/?$/.test(path) && path.split('/').filter((s) => s !== '').length === 5)
  );
}

/** The dashboard's request, an error, or undefined when the path is route.ts's. */
export function routeDashboard(req: RawRequest, allowedHosts: readonly string[]): DashboardRequest | ApiError | undefined {
  const method = String(req.method ?? '').toUpperCase();
  const path = typeof req.path === 'string' ? req.path : '';
  if (!isDashboardPath(path)) return undefined;
  if (!(API_METHODS as readonly string[]).includes(method))
    return { ...fail(405, `method ${quote(method, 20)} is not allowed; the score API is read-only (GET, HEAD)`), headers: { allow: API_METHODS.join(', ') } };
  const head = method === 'HEAD';
  if (path.length > 512) return fail(400, 'path longer than 512 characters');
  if (CONTROL.test(path) || path.includes('\\')) return fail(400, 'control characters and backslashes are not allowed in the path');
  const segs = segmentsOf(path);
  if (typeof segs === 'string') return fail(400, segs);
  const query = req.query ?? {};

  if (segs[0] === 'projects' && segs.length === 1) {
    const q = parseList(query);
    return typeof q === 'string' ? fail(400, q) : { route: 'list', head, query: q };
  }
  if (segs[0] === 'projects' && segs.length === 5 && segs[4] === 'changes') {
    const repo = repoOf(segs.slice(1), allowedHosts);
    if (typeof repo === 'string') return fail(400, repo);
    const ft = parseFromTo(query);
    return typeof ft === 'string' ? fail(400, ft) : { route: 'changes', head, repo, ...ft };
  }
  if (segs[0] === 'export') {
    const m = segs.length === 2 ? /^latest\.(csv|json)$/.exec(segs[1]) : null;
    if (!m) return fail(404, 'exports: /export/latest.csv, /export/latest.json');
    const f = parseFilter(query);
    if (typeof f === 'string') return fail(400, f);
    const cursor = one(query, 'cursor');
    if (cursor.error) return fail(400, cursor.error);
    if (cursor.value === undefined) return { route: 'export', head, format: m[1] as 'csv' | 'json', filter: f };
    const c = decodeCursor(cursor.value, 'name');
    return typeof c === 'string' ? fail(400, c) : { route: 'export', head, format: m[1] as 'csv' | 'json', filter: f, after: c };
  }
  // /ui…
  if (segs.length === 1) return { route: 'ui-fleet', head };
  if (segs[1] === 'workloads' && segs.length === 2) return { route: 'ui-workloads', head };
  if (segs[1] !== 'projects') return fail(404, 'pages: /ui, /ui/projects, /ui/projects/{host}/{owner}/{repo}[/diff], /ui/workloads');
  if (segs.length === 2) {
    const q = parseList(query);
    return typeof q === 'string' ? fail(400, q) : { route: 'ui-list', head, query: q };
  }
  if (segs.length === 5 || (segs.length === 6 && segs[5] === 'diff')) {
    const repo = repoOf(segs.slice(2), allowedHosts);
    if (typeof repo === 'string') return fail(400, repo);
    if (segs.length === 5) return { route: 'ui-repo', head, repo };
    const ft = parseFromTo(query);
    return typeof ft === 'string' ? fail(400, ft) : { route: 'ui-diff', head, repo, ...ft };
  }
  return fail(404, 'pages: /ui, /ui/projects, /ui/projects/{host}/{owner}/{repo}[/diff], /ui/workloads');
}
