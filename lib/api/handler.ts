// The score API function behind handle(): route, read, render, and HTTP caching (ETag,
// Last-Modified, conditional GET/HEAD). HEAD answers like GET; the server drops the body.
import { createHash } from 'node:crypto';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import type { Context, Handle, StructuredReturn } from '../function/handle.ts';
import type { Logger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import { PolicyFile, type PolicySource } from '../policy/file.ts';
import { answerDashboard, type DashboardConfig, dashboardError, fleetConfigOf, htmlError, setFleetMetricsSource, wantsHtml } from './dashboard.ts';
import { isDashboardPath, routeDashboard } from './dashboard-route.ts';
import { fleetSnapshot } from './fleet.ts';
import { ApiPolicies } from './policy.ts';
import { findHistory, findResult, type Lookup, storedChecks } from './queries.ts';
import { rawHasChecks, renderBadge, renderHistory, renderResult } from './render.ts';
import { API_METHODS, type ApiRequest, isApiError, ROUTES, routeRequest } from './route.ts';

export interface ApiDeps {
  db: Db;
  /** allowedHosts, and the scheduler's settings the dashboard's states and budget use (defaults when absent). */
  config: Pick<Config, 'allowedHosts'> & DashboardConfig & Partial<Pick<Config, 'policyFile' | 'policyReloadSeconds'>>;
  log: Logger;
}

export interface ApiOptions {
  /** The Scorecard policies (default: the configuration's POSTURE_POLICY_FILE, re-read on its timer). */
  policies?: PolicySource;
  /** Start the verdict sweep (default true). */
  sweep?: boolean;
}

/** Browser and CDN caching of successful answers (scores change at most a few times a day). */
export const CACHE_OK = 'public, max-age=300';
/** 404s are cached briefly: a repository added a minute ago should show up soon. */
export const CACHE_NOT_FOUND = 'public, max-age=60';
export const CACHE_NONE = 'no-store';

const JSON_TYPE = 'application/json; charset=utf-8';
const SVG_TYPE = 'image/svg+xml; charset=utf-8';
// CORS on the score routes only (the Scorecard API's shape, the index): any page may read a
// score it names. The dashboard's list, export and pages have none (dashboard.ts).
// ETag is exposed for conditional requests.
const COMMON = { 'x-content-type-options': 'nosniff', 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag, Retry-After' };
/** The answer to a CORS preflight (a request with If-None-Match, say, from another origin). */
const PREFLIGHT = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD',
  'access-control-allow-headers': 'If-None-Match, If-Modified-Since, Cache-Control',
  'access-control-max-age': '86400',
};

/** What a badge says when there is no score to show (shields.io answers 200 with such a badge, so a README shows it). */
const BADGE_MISSING: Record<string, string> = {
  'unknown-repo': 'unknown repo',
  'not-scored': 'not scored yet',
  'no-result-for-commit': 'no result for commit',
};

/** Bytes of request body each route reads: none (the API is read-only), so any body is refused unread (413). */
export function apiBodyLimit(_method: string, _path: string): number {
  return 0;
}

const requests = counter('posture_api_requests_total', 'Score API requests by route and status code', ['route', 'code']);

function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): StructuredReturn {
  return { statusCode: status, headers: { ...COMMON, 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(body) };
}

export function errorReply(status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): StructuredReturn {
  const cache = status === 404 ? CACHE_NOT_FOUND : CACHE_NONE;
  return jsonReply(status, { error: message, ...extra }, { 'cache-control': cache, ...headers });
}

function header(context: Context, name: string): string | undefined {
  const v = context.headers?.[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function etagOf(body: string): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** RFC 9110 §13.1.2 (weak comparison) and §13.1.3; If-None-Match wins over If-Modified-Since. */
export function notModified(context: Context, etag: string, lastModified: Date | undefined): boolean {
  const inm = header(context, 'if-none-match');
  if (inm !== undefined) {
    const tag = etag.replace(/^W\//, '');
    return inm.split(',').some((t) => {
      const x = t.trim();
      return x === '*' || x.replace(/^W\//, '') === tag;
    });
  }
  const ims = header(context, 'if-modified-since');
  if (ims !== undefined && lastModified) {
    const t = Date.parse(ims);
    if (Number.isFinite(t)) return Math.floor(lastModified.getTime() / 1000) * 1000 <= t;
  }
  return false;
}

/** A 200 with validators and caching, or a 304 when the client already has it. */
function cacheable(context: Context, contentType: string, body: string, lastModified: Date | undefined, cache = CACHE_OK): StructuredReturn {
  const etag = etagOf(body);
  const headers: Record<string, string> = { ...COMMON, 'content-type': contentType, 'cache-control': cache, etag };
  if (lastModified) headers['last-modified'] = lastModified.toUTCString();
  if (notModified(context, etag, lastModified)) {
    // No body; the length a 200 would have (RFC 9110 §8.6 allows it, and it keeps HEAD and 304 consistent).
    const { 'content-type': _ignored, ...rest } = headers;
    return { statusCode: 304, headers: { ...rest, 'content-length': String(Buffer.byteLength(body)) } };
  }
  return { statusCode: 200, headers, body };
}

function lookupError<T>(lookup: Exclude<Lookup<T>, { status: 'ok' }>, requested: string): StructuredReturn {
  switch (lookup.status) {
    case 'unknown-repo':
      return errorReply(404, `repository ${requested} is not known to posture (add it with \`posture repos add\`)`, {
        reason: 'unknown-repo',
        repo: requested,
      });
    case 'not-scored':
      return errorReply(404, `repository ${lookup.repo.canonical} is known but has no Scorecard result yet`, {
        reason: 'not-scored',
        repo: lookup.repo.canonical,
      });
    case 'no-result-for-commit':
      return errorReply(404, `repository ${lookup.repo.canonical} has no Scorecard result for commit ${lookup.commit}`, {
        reason: 'no-result-for-commit',
        repo: lookup.repo.canonical,
        commit: lookup.commit,
      });
  }
}

const latestOf = (dates: Date[]) => new Date(Math.max(...dates.map((d) => d.getTime())));

/** Answers one validated request from the database. */
export async function answer(db: Db, req: Exclude<ApiRequest, { route: 'index' }>, context: Context): Promise<StructuredReturn> {
  const requested = req.repo.canonical;
  switch (req.route) {
    case 'project': {
      const found = await findResult(db, req.repo.key, { commit: req.commit });
      if (found.status !== 'ok') return lookupError(found, requested);
      const checks = rawHasChecks(found.value.raw) ? undefined : await storedChecks(db, found.value.scoreId);
      const body = JSON.stringify(renderResult(found.value, found.repo, checks));
      return cacheable(context, JSON_TYPE, body, found.value.storedAt);
    }
    case 'history': {
      const found = await findHistory(db, req.repo.key, { limit: req.limit });
      if (found.status !== 'ok') return lookupError(found, requested);
      const body = JSON.stringify(renderHistory(found.repo, found.value));
      return cacheable(context, JSON_TYPE, body, latestOf(found.value.map((e) => e.storedAt)));
    }
    case 'badge': {
      const found = await findHistory(db, req.repo.key, { limit: 1, commit: req.commit });
      if (found.status !== 'ok') {
        const body = renderBadge(undefined, { style: req.style, value: BADGE_MISSING[found.status] });
        return { statusCode: 200, headers: { ...COMMON, 'content-type': SVG_TYPE, 'cache-control': CACHE_NOT_FOUND, 'x-posture-reason': found.status }, body };
      }
      const [latest] = found.value;
      const body = renderBadge(latest.score, { style: req.style });
      return cacheable(context, SVG_TYPE, body, latest.storedAt);
    }
  }
}

function index(): StructuredReturn {
  return jsonReply(200, { name: 'posture score API', routes: ROUTES }, { 'cache-control': CACHE_OK, vary: 'Accept' });
}

/**
 * The score API's handle(). `deps` is awaited per request (the shared runtime memoises it); a
 * database that cannot answer gives 503 with Retry-After, never a stack.
 */
export function createApiHandle(deps: () => Promise<ApiDeps>, options: ApiOptions = {}): Handle & { policies(): ApiPolicies | undefined } {
  let policies: ApiPolicies | undefined;
  const policiesOf = (d: ApiDeps): ApiPolicies => {
    if (!policies) {
      const source = options.policies ?? new PolicyFile({ path: d.config.policyFile, reloadMs: (d.config.policyReloadSeconds ?? 10) * 1000, logger: d.log });
      if (source instanceof PolicyFile) source.start();
      policies = new ApiPolicies(source, d.db, d.log);
      if (options.sweep !== false) policies.start();
    }
    return policies;
  };
  setFleetMetricsSource(async () => {
    const d = await deps();
    return fleetSnapshot(d.db, fleetConfigOf(d.config));
  });
  const handle = async (context: Context) => {
    let route = 'invalid';
    let reply: StructuredReturn;
    const method = String(context.method ?? '').toUpperCase();
    const dashboard = isDashboardPath(String(context.path ?? ''));
    if (method === 'OPTIONS' && header(context, 'access-control-request-method') !== undefined && !dashboard) {
      requests.inc({ route: 'preflight', code: '204' });
      return { statusCode: 204, headers: { ...PREFLIGHT, 'x-content-type-options': 'nosniff' }, body: '' };
    }
    if (!(API_METHODS as readonly string[]).includes(method)) {
      // Answered before touching the runtime: a write attempt needs no database.
      const r = routeRequest({ method, path: context.path, query: context.query ?? {} }, []);
      const refuse = dashboard
        ? dashboardError
        : (status: number, message: string, headers?: Record<string, string>) => errorReply(status, message, {}, headers);
      reply = isApiError(r) ? refuse(r.status, r.message, r.headers) : refuse(405, 'method not allowed', { allow: API_METHODS.join(', ') });
      requests.inc({ route, code: String(reply.statusCode) });
      return reply;
    }
    let d: ApiDeps;
    try {
      d = await deps();
    } catch (err) {
      context.log?.warn({ err: (err as Error).message }, 'score API runtime unavailable');
      reply = dashboard
        ? dashboardError(503, 'the score database is unavailable; retry later', { 'retry-after': '5' })
        : errorReply(503, 'the score database is unavailable; retry later', {}, { 'retry-after': '5' });
      requests.inc({ route, code: '503' });
      return reply;
    }
    // The policies (and their sweep) start with the first request that reaches the database.
    const digest = policiesOf(d).digest();
    // The dashboard's routes (list, changes, export, /ui pages) first; everything else is route.ts's.
    const dr = routeDashboard({ method, path: context.path, query: context.query ?? {} }, d.config.allowedHosts);
    if (dr !== undefined) {
      const page = String(context.path).startsWith('/ui');
      if ('error' in dr) {
        reply = page ? htmlError(dr.status, dr.message) : dashboardError(dr.status, dr.message, dr.headers);
      } else {
        route = dr.route;
        try {
          reply = await answerDashboard(
            d.db,
            dr,
            context,
            digest === undefined
              ? d.config
              : {
                  ...d.config,
                  policyDigest: digest,
                  policyNames: policiesOf(d)
                    .source.current()
                    .policies.map((p) => p.name),
                },
          );
        } catch (err) {
          (context.log ?? d.log).warn({ err: (err as Error).message, route }, 'dashboard read failed');
          reply = page
            ? { ...htmlError(503, 'The score database did not answer; retry later.'), statusCode: 503 }
            : dashboardError(503, 'the score database did not answer; retry later', { 'retry-after': '5' });
        }
      }
      requests.inc({ route, code: String(reply.statusCode) });
      return reply;
    }
    const r = routeRequest({ method, path: context.path, query: context.query ?? {} }, d.config.allowedHosts);
    if (isApiError(r)) {
      reply = errorReply(r.status, r.message, {}, r.headers);
    } else if (r.route === 'index') {
      route = 'index';
      // A browser asking for / gets the dashboard; API clients keep the JSON index.
      reply = wantsHtml(context) ? { statusCode: 303, headers: { location: '/ui', 'cache-control': 'no-store', vary: 'Accept' }, body: '' } : index();
    } else {
      route = r.route;
      try {
        reply = await answer(d.db, r, context);
      } catch (err) {
        (context.log ?? d.log).warn({ err: (err as Error).message, repo: r.repo.key, route }, 'score API read failed');
        reply = errorReply(503, 'the score database did not answer; retry later', {}, { 'retry-after': '5' });
      }
    }
    requests.inc({ route, code: String(reply.statusCode) });
    return reply;
  };
  return Object.assign(handle, { policies: () => policies });
}
