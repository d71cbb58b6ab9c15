// The score API's routing and input validation: pure, no database. A request either becomes a
// typed ApiRequest (a repository that passed parseRepo, a validated commit or limit) or an
// ApiError with the status and a message that names the problem.
//
//   GET /projects/{host}/{owner}/{repo}[?commit=<sha>]    the public Scorecard REST API's shape
//   GET /projects/{host}/{owner}/{repo}/history[?limit=]  newest first, compact
//   GET /projects/{host}/{owner}/{repo}/badge[?commit=&style=flat|flat-square]
import { parseRepo, type RepoId } from '../repo/identity.ts';

export const API_METHODS = ['GET', 'HEAD'] as const;
/** Longest accepted path: a host, a 39-character owner and a 100-character name fit with room. */
export const MAX_PATH_LENGTH = 512;
export const MAX_QUERY_VALUE_LENGTH = 256;
export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;
export const BADGE_STYLES = ['flat', 'flat-square'] as const;
export type BadgeStyle = (typeof BADGE_STYLES)[number];

export const ROUTES = [
  'GET /projects/{host}/{owner}/{repo}[?commit=<40 or 64 hex>]',
  `GET /projects/{host}/{owner}/{repo}/history[?limit=1..${MAX_HISTORY_LIMIT}]`,
  'GET /projects/{host}/{owner}/{repo}/badge[?commit=<sha>&style=flat|flat-square]',
] as const;

export type ApiRequest =
  | { route: 'index'; head: boolean }
  | { route: 'project'; head: boolean; repo: RepoId; commit?: string }
  | { route: 'history'; head: boolean; repo: RepoId; limit: number }
  | { route: 'badge'; head: boolean; repo: RepoId; commit?: string; style: BadgeStyle };

export interface ApiError {
  error: true;
  status: 400 | 404 | 405;
  message: string;
  headers?: Record<string, string>;
}

export interface RawRequest {
  method: string;
  /** The path without the query, as sent (percent-encoding intact). */
  path: string;
  query: Record<string, string | string[] | undefined>;
}

const fail = (status: ApiError['status'], message: string, headers?: Record<string, string>): ApiError => ({
  error: true,
  status,
  message,
  ...(headers ? { headers } : {}),
});

// Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
const LIMIT = /^[1-9][0-9]{0,3}$/;

/** Which query parameters each route takes; others that the API knows are refused, the rest ignored (cache busters). */
const PARAMS: Record<ApiRequest['route'], readonly string[]> = {
  index: [],
  project: ['commit'],
  history: ['limit'],
  badge: ['commit', 'style'],
};
const KNOWN_PARAMS = ['commit', 'limit', 'style'];

/** Shows a piece of hostile input safely inside a message. */
export function quote(s: string, max = 80): string {
  const clipped = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(clipped).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function decodeSegment(raw: string): { ok: true; value: string } | { ok: false; message: string } {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return { ok: false, message: `malformed percent-encoding in path segment ${quote(raw)}` };
  }
  if (value.includes('/') || value.includes('\\')) return { ok: false, message: `an encoded slash is not allowed in path segment ${quote(raw)}` };
  if (CONTROL.test(value)) return { ok: false, message: `control characters are not allowed in path segment ${quote(raw)}` };
  if (value === '.' || value === '..') return { ok: false, message: 'dot segments (. and ..) are not allowed in the path' };
  return { ok: true, value };
}

function queryValue(query: RawRequest['query'], name: string): { present: false } | { present: true; value: string } | { error: string } {
  const v = query[name];
  if (v === undefined) return { present: false };
  if (Array.isArray(v)) return { error: `query parameter ${name} given more than once` };
  if (typeof v !== 'string') return { error: `query parameter ${name} is not a string` };
  return { present: true, value: v };
}

/** Routes and validates a request. `allowedHosts` is the configuration's list (parseRepo's second argument). */
export function routeRequest(req: RawRequest, allowedHosts: readonly string[]): ApiRequest | ApiError {
  const method = String(req.method ?? '').toUpperCase();
  if (!(API_METHODS as readonly string[]).includes(method)) {
    return fail(405, `method ${quote(method, 20)} is not allowed; the score API is read-only (GET, HEAD)`, { allow: API_METHODS.join(', ') });
  }
  const head = method === 'HEAD';
  const path = typeof req.path === 'string' ? req.path : '';
  if (path.length > MAX_PATH_LENGTH) return fail(400, `path longer than ${MAX_PATH_LENGTH} characters`);
  if (CONTROL.test(path)) return fail(400, 'control characters are not allowed in the path');
  if (path.includes('\\')) return fail(400, 'backslashes are not allowed in the path');
  if (path === '' || path === '/') return { route: 'index', head };
  if (!path.startsWith('/')) return fail(400, 'the path must start with /');
  // `//projects/…` is not `/projects/…`: a proxy or cache could read it as another resource.
  if (path.startsWith('//')) return fail(400, 'empty path segment (double, leading or trailing slash)');

  const segments = path.slice(1).split('/');
  if (segments[0] !== 'projects') return fail(404, `no such route ${quote(path)}; routes: ${ROUTES.join('; ')}`);
  const rest = segments.slice(1);
  if (rest.length > 0 && rest[rest.length - 1] === '' && rest.length > 1) rest.pop(); // one trailing slash
  if (rest.some((s) => s === '')) return fail(400, 'empty path segment (double, leading or trailing slash)');
  const decoded: string[] = [];
  for (const s of rest) {
    const d = decodeSegment(s);
    if (!d.ok) return fail(400, d.message);
    decoded.push(d.value);
  }
  if (decoded.length < 3) return fail(400, 'expected /projects/{host}/{owner}/{repo}, e.g. /projects/github.com/ossf/scorecard');
  if (decoded.length > 4) return fail(404, `no such resource under a project; known: /history, /badge`);

  let route: 'project' | 'history' | 'badge' = 'project';
  if (decoded.length === 4) {
    if (decoded[3] === 'history' || decoded[3] === 'badge') route = decoded[3];
    else return fail(404, `no such resource ${quote(decoded[3])} under a project; known: /history, /badge`);
  }

  const [host, owner, name] = decoded;
  const parsed = parseRepo(`${host}/${owner}/${name}`, allowedHosts);
  if (!parsed.ok) return fail(400, `invalid repository: ${parsed.reason}`);
  const repo = parsed.repo;

  const query = req.query ?? {};
  for (const p of KNOWN_PARAMS) {
    if (query[p] !== undefined && !PARAMS[route].includes(p)) return fail(400, `query parameter ${p} is not supported on this route`);
  }
  for (const p of PARAMS[route]) {
    const v = queryValue(query, p);
    if ('error' in v) return fail(400, v.error);
    if (v.present && v.value.length > MAX_QUERY_VALUE_LENGTH) return fail(400, `query parameter ${p} longer than ${MAX_QUERY_VALUE_LENGTH} characters`);
  }

  if (route === 'history') {
    const v = queryValue(query, 'limit');
    let limit = DEFAULT_HISTORY_LIMIT;
    if ('present' in v && v.present) {
      if (!LIMIT.test(v.value) || Number(v.value) > MAX_HISTORY_LIMIT)
        return fail(400, `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}, got ${quote(v.value)}`);
      limit = Number(v.value);
    }
    return { route, head, repo, limit };
  }

  let commit: string | undefined;
  const c = queryValue(query, 'commit');
  if ('present' in c && c.present) {
    if (!COMMIT.test(c.value)) return fail(400, `commit must be a full commit SHA (40 or 64 hexadecimal characters), got ${quote(c.value)}`);
    commit = c.value.toLowerCase();
  }
  if (route === 'project') return commit === undefined ? { route, head, repo } : { route, head, repo, commit };

  let style: BadgeStyle = 'flat';
  const s = queryValue(query, 'style');
  if ('present' in s && s.present) {
    if (!(BADGE_STYLES as readonly string[]).includes(s.value)) return fail(400, `style must be one of ${BADGE_STYLES.join(', ')}, got ${quote(s.value)}`);
    style = s.value as BadgeStyle;
  }
  return commit === undefined ? { route, head, repo, style } : { route, head, repo, commit, style };
}

export function isApiError(r: ApiRequest | ApiError): r is ApiError {
  return 'error' in r;
}
