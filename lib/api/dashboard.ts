// Answers the dashboard's requests (dashboard-route.ts): the list, changes and export routes
// as JSON or CSV, and the pages as HTML. Reads go through list.ts, fleet.ts and
// lib/changes; rendering through pages.ts. Also the fleet's Prometheus gauges.
import { createHash } from 'node:crypto';
import client from 'prom-client';
import { type ChangeLookup, findChange, type ResultSelector } from '../changes/store.ts';
import { type Config, defaultConfig } from '../config/index.ts';
import { alertsOfRepo, failedDeliveries } from '../db/alerts.ts';
import { auditFindings } from '../db/audit.ts';
import { checkScoresOf, recentScoreSteps } from '../db/changes.ts';
import type { Db } from '../db/connect.ts';
import { hasReposOfOwner } from '../db/fleet.ts';
import { repoWithLatest } from '../db/listing.ts';
import { mostFailingRules, policyCompliance, type StoredVerdict, storedVerdict } from '../db/policy-verdicts.ts';
import { recentRunsOf } from '../db/runs.ts';
import type { Context, Streamed, StructuredReturn } from '../function/handle.ts';
import { registry } from '../metrics/index.ts';
import { DEMO_OWNER } from '../repo/demo.ts';
import { isFutureDated } from '../scorecard/clock.ts';
import { type DashboardRequest, encodeCursor, type ListQuery } from './dashboard-route.ts';
import { type FleetConfig, type FleetSnapshot, fleetLive, fleetSnapshot, sparseState, sweepOf } from './fleet.ts';
import { allRepos, csvHeader, csvRow, exportBoundary, freshCutoff, listRepos, stateOf } from './list.ts';
import { diffPage, errorPage, fleetPage, listPage, type RepoPageData, repoPage, WORKLOADS_PAGE_ROWS, workloadsPage } from './pages.ts';
import { findResult, storedChecks } from './queries.ts';
import { rawHasChecks, renderResult } from './render.ts';

/**
 * exportRows, exportBatch, exportConcurrency: rows per export response and per read, streams at
 * once (EXPORT_ROWS, EXPORT_BATCH, EXPORT_CONCURRENCY; smaller in tests). publicUrl: POSTURE_PUBLIC_URL.
 */
export type DashboardConfig = Pick<Config, 'allowedHosts'> &
  Partial<FleetConfig> &
  Partial<Pick<Config, 'publicUrl'>> & {
    exportRows?: number;
    exportBatch?: number;
    exportConcurrency?: number;
    /** The policy set in force (its digest selects stored verdicts) and its policies' names. */
    policyDigest?: string;
    policyNames?: string[];
  };

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
// No CORS header: the list, the export and the pages name every repository (private ones too, in
// a local `posture up`), so another origin's page must not read them. Only the score routes
// (handler.ts) are readable cross-origin.
const COMMON = { 'x-content-type-options': 'nosniff' };
/** Pages: no script runs, nothing is framed, images only from here (the badge). */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
const CACHE_PAGE = 'public, max-age=60';
const CACHE_OK = 'public, max-age=300';
/** Rows in one export response (bounds its time): the rest follows the Link header. */
export const EXPORT_ROWS = 50_000;
/** Rows read from the database and written at once by an export: what a response holds in memory. */
export const EXPORT_BATCH = 1000;
/**
 * Exports streaming at once in one process; one more is answered 503 with Retry-After. Each holds
 * a batch, so this bounds the exports' memory whatever the number of clients (bench/api-memory.ts).
 */
export const EXPORT_CONCURRENCY = 16;
let exportsStreaming = 0;

export function fleetConfigOf(c: DashboardConfig): FleetConfig {
  const d = defaultConfig();
  return {
    rescoreIntervalSeconds: c.rescoreIntervalSeconds ?? d.rescoreIntervalSeconds,
    jitterSeconds: c.jitterSeconds ?? d.jitterSeconds,
    githubTokenCount: c.githubTokenCount ?? d.githubTokenCount,
    githubCallsPerHour: c.githubCallsPerHour ?? d.githubCallsPerHour,
    callsPerRun: c.callsPerRun ?? d.callsPerRun,
    maxConcurrentJobs: c.maxConcurrentJobs ?? d.maxConcurrentJobs,
    breakerWindowSeconds: c.breakerWindowSeconds ?? d.breakerWindowSeconds,
    breakerSample: c.breakerSample ?? d.breakerSample,
    stuckAfterRuns: c.stuckAfterRuns ?? d.stuckAfterRuns,
    ...(c.policyDigest !== undefined ? { policyDigest: c.policyDigest } : {}),
  };
}

function header(context: Context, name: string): string | undefined {
  const v = context.headers?.[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function cacheable(context: Context, type: string, body: string, cache: string, extra: Record<string, string> = {}): StructuredReturn {
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  const headers: Record<string, string> = { ...COMMON, 'content-type': type, 'cache-control': cache, etag, ...extra };
  const inm = header(context, 'if-none-match');
  if (inm?.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag)) {
    const { 'content-type': _t, ...rest } = headers;
    return { statusCode: 304, headers: rest };
  }
  return { statusCode: 200, headers, body };
}

function jsonError(status: number, message: string, extra: Record<string, unknown> = {}): StructuredReturn {
  return {
    statusCode: status,
    headers: { ...COMMON, 'content-type': JSON_TYPE, 'cache-control': status === 404 ? 'public, max-age=60' : 'no-store' },
    body: JSON.stringify({ error: message, ...extra }),
  };
}

/** A JSON error of a dashboard route (no CORS header, like its answers). */
export function dashboardError(status: number, message: string, headers: Record<string, string> = {}): StructuredReturn {
  const r = jsonError(status, message);
  return { ...r, headers: { ...r.headers, ...headers } };
}

export function htmlError(status: number, message: string): StructuredReturn {
  return {
    statusCode: status,
    headers: { ...COMMON, ...PAGE_HEADERS, 'content-type': HTML_TYPE, 'cache-control': 'no-store' },
    body: errorPage(status, message),
  };
}

/**
 * The base URL of the badge and page links a repository page shows (and people paste into
 * READMEs). Configured (POSTURE_PUBLIC_URL): that, and the page is cached. Not configured: the
 * URL the client used, from the request's headers, which anyone can forge (X-Forwarded-Host
 * passes through most ingresses); such a page is answered no-store, so a forged header reaches
 * only the forger's own copy and never a shared cache's. A Host that is not a host name is not echoed.
 */
export function linkBase(context: Context, publicUrl: string | undefined): { base: string; cache: string } {
  if (publicUrl) return { base: publicUrl.replace(/\/+$/, ''), cache: CACHE_PAGE };
  const host = header(context, 'x-forwarded-host') ?? header(context, 'host') ?? '';
  const proto = header(context, 'x-forwarded-proto') === 'https' ? 'https' : 'http';
  return { base: /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/.test(host) ? `${proto}://${host}` : 'http://localhost', cache: 'no-store' };
}

const describeSelector = (s: ResultSelector) => ('id' in s ? `id ${s.id}` : 'commit' in s ? `commit ${s.commit}` : `at or before ${s.at.toISOString()}`);

function changeError(found: Exclude<ChangeLookup, { status: 'ok' }>, requested: string): { status: number; message: string; reason: string } {
  switch (found.status) {
    case 'unknown-repo':
      return { status: 404, message: `repository ${requested} is not known to posture`, reason: 'unknown-repo' };
    case 'not-scored':
      return { status: 404, message: `repository ${found.repo.canonical} has no Scorecard result yet`, reason: 'not-scored' };
    case 'no-such-result':
      return {
        status: 404,
        message: `repository ${found.repo.canonical} has no result for ${found.which}=${describeSelector(found.selector)}`,
        reason: 'no-such-result',
      };
  }
}

function listBody(q: ListQuery, page: Awaited<ReturnType<typeof listRepos>>) {
  const params = new URLSearchParams();
  for (const k of ['owner', 'min', 'max', 'state', 'sort', 'limit'] as const) if (q[k] !== undefined) params.set(k, String(q[k]));
  const cursor = page.next ? encodeCursor(page.next) : undefined;
  if (cursor) params.set('cursor', cursor);
  return { count: page.items.length, items: page.items, ...(cursor ? { cursor, next: `/projects?${params}` } : {}) };
}

/** Per check, its scores oldest first over the given results (oldest first). */
async function checkHistoryOf(db: Db, results: ReadonlyArray<{ id: number }>): Promise<Map<string, number[]>> {
  const byScore = new Map<number, Map<string, number>>();
  for (const c of await checkScoresOf(
    db,
    results.map((h) => h.id),
  )) {
    const m = byScore.get(c.scoreId) ?? new Map<string, number>();
    m.set(c.name, c.score);
    byScore.set(c.scoreId, m);
  }
  const names = new Set([...byScore.values()].flatMap((m) => [...m.keys()]));
  const history = new Map<string, number[]>();
  for (const name of names)
    history.set(
      name,
      results.map((h) => byScore.get(h.id)?.get(name)).filter((v): v is number => v !== undefined),
    );
  return history;
}

/** A stored verdict as the repository page shows it: a pass past the policy's maxAge reads unknown, and says so. */
function policyOfPage(v: StoredVerdict, now: Date): NonNullable<RepoPageData['policy']> {
  const reasons = (v.reasons as Array<{ verdict: string; rule: string; message: string }>).map((r) => ({
    verdict: r.verdict,
    rule: r.rule,
    message: r.message,
  }));
  if (v.verdict === 'pass' && v.expiresAt !== null && v.expiresAt.getTime() <= now.getTime())
    return {
      name: v.policy ?? '',
      verdict: 'unknown',
      score: v.score,
      reasons: [
        ...reasons,
        {
          verdict: 'unknown',
          rule: 'maxAge',
          message: `the newest result is older than the policy's maxAge (since ${v.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
        },
      ],
    };
  return { name: v.policy ?? '', verdict: v.verdict ?? 'unknown', score: v.score, reasons };
}

async function repoPageData(db: Db, key: string, base: string, config: FleetConfig): Promise<RepoPageData | undefined> {
  const repo = await repoWithLatest(db, key);
  if (!repo) return undefined;
  const found = await findResult(db, key);
  const result =
    found.status === 'ok'
      ? renderResult(found.value, found.repo, rawHasChecks(found.value.raw) ? undefined : await storedChecks(db, found.value.scoreId))
      : undefined;
  const history = (await recentScoreSteps(db, repo.id, 100)).map((h) => ({
    id: h.id,
    score: h.score,
    date: h.resultDate.toISOString(),
    storedAt: h.storedAt.toISOString(),
    futureDated: isFutureDated(h.resultDate, h.storedAt),
    commit: h.commit,
    delta: h.delta,
  }));
  const checkHistory = await checkHistoryOf(db, history.slice(0, 20).reverse());
  const runs = (await recentRunsOf(db, repo.id, 20)).map((x) => ({
    id: x.id,
    createdAt: x.createdAt.toISOString(),
    finishedAt: x.finishedAt ? x.finishedAt.toISOString() : null,
    outcome: x.outcome,
    failureClass: x.failureClass,
    reason: x.reason,
  }));
  const path = repo.canonical.split('/').map(encodeURIComponent).join('/');
  const verdict = config.policyDigest === undefined ? undefined : await storedVerdict(db, repo.id);
  const policy = verdict && verdict.digest === config.policyDigest && verdict.policy && verdict.verdict ? policyOfPage(verdict, new Date()) : undefined;
  return {
    ...(policy ? { policy } : {}),
    repo: repo.canonical,
    state: stateOf({ failing: repo.failing ?? repo.failures > 0, scoreId: repo.latestScoreId, scoredAt: repo.latestScoredAt }, freshCutoff(config, new Date())),
    failures: repo.failures,
    lastError: repo.lastError,
    nextDueAt: repo.nextDueAt.toISOString(),
    ...(result ? { result } : {}),
    ...(found.status === 'ok' && isFutureDated(found.value.resultDate, found.value.storedAt)
      ? { futureDated: { date: found.value.resultDate.toISOString(), storedAt: found.value.storedAt.toISOString() } }
      : {}),
    history,
    checkHistory,
    runs,
    badgeUrl: `${base}/projects/${path}/badge`,
    pageUrl: `${base}/ui/projects/${path}`,
    alerts: (await alertsOfRepo(db, repo.key)).map((a) => ({
      eventId: a.eventId,
      action: a.action,
      receivedAt: a.receivedAt.toISOString(),
      reasons: a.reasons,
      deliveries: a.deliveries.map((x) => ({ target: x.target, status: x.status, attempts: x.attempts, lastError: x.lastError, detail: x.detail })),
    })),
  };
}

/** Answers one dashboard request. Database errors propagate (the caller answers 503). */
export async function answerDashboard(
  db: Db,
  req: DashboardRequest,
  context: Context,
  dashboardConfig: DashboardConfig,
  now = new Date(),
): Promise<StructuredReturn> {
  const config = fleetConfigOf(dashboardConfig);
  switch (req.route) {
    case 'list': {
      const page = await listRepos(db, req.query, config, now, { sparse: await sparseState(db, req.query.state) });
      const body = listBody(req.query, page);
      return cacheable(context, JSON_TYPE, JSON.stringify(body), CACHE_PAGE, body.next ? { link: `<${body.next}>; rel="next"` } : {});
    }
    case 'changes': {
      const found = await findChange(db, req.repo.key, { from: req.from, to: req.to });
      if (found.status !== 'ok') {
        const e = changeError(found, req.repo.canonical);
        return jsonError(e.status, e.message, { reason: e.reason, repo: found.status === 'unknown-repo' ? req.repo.canonical : found.repo.canonical });
      }
      return cacheable(context, JSON_TYPE, JSON.stringify({ repo: found.repo.canonical, ...found.change }), CACHE_OK);
    }
    case 'export': {
      // At most EXPORT_ROWS a response (bounded time; memory is one batch, whatever the size), the
      // rest behind a Link to the next part: where this part ends is read first (keys only), so
      // the Link goes out with the headers and the rows follow as they are read.
      // Counted while a stream runs (from its first piece to its end, the client's going away
      // included); checked before the boundary query and again just before the answer, from which
      // the server starts the stream with no I/O in between, so concurrent requests cannot overshoot.
      const cap = dashboardConfig.exportConcurrency ?? EXPORT_CONCURRENCY;
      const busy = () => dashboardError(503, 'too many exports at once; retry shortly', { 'retry-after': '5' });
      if (!req.head && exportsStreaming >= cap) return busy();
      const sparse = await sparseState(db, req.filter.state);
      const max = dashboardConfig.exportRows ?? EXPORT_ROWS;
      const end = await exportBoundary(db, req.filter, config, { now, max, sparse, ...(req.after ? { after: req.after } : {}) });
      if (!req.head && exportsStreaming >= cap) return busy();
      let next: string | undefined;
      if (end) {
        const p = new URLSearchParams();
        for (const k of ['owner', 'min', 'max', 'state'] as const) if (req.filter[k] !== undefined) p.set(k, String(req.filter[k]));
        p.set('cursor', encodeCursor(end));
        next = `/export/latest.${req.format}?${p}`;
      }
      const type = req.format === 'csv' ? 'text/csv; charset=utf-8' : JSON_TYPE;
      const batch = Math.min(dashboardConfig.exportBatch ?? EXPORT_BATCH, max);
      return {
        statusCode: 200,
        headers: {
          'x-content-type-options': 'nosniff',
          'content-type': type,
          'cache-control': 'no-store',
          'content-disposition': `attachment; filename="posture-latest.${req.format}"`,
          ...(next ? { link: `<${next}>; rel="next"` } : {}),
        },
        // Started only for GET (the server never starts it for HEAD).
        body: {
          stream: exportStream(db, req, config, { now, batch, sparse, ...(end ? { through: String(end.v) } : {}) }, next),
        } satisfies Streamed,
      };
    }
    case 'ui-fleet': {
      const digest = config.policyDigest;
      const [snapshot, live, compliance, rules, failed] = await Promise.all([
        fleetSnapshot(db, config, { now, onError: (err) => context.log?.warn({ err: err.message }, 'fleet snapshot refresh failed') }),
        fleetLive(db, config, now),
        digest === undefined ? undefined : policyCompliance(db, digest, now),
        digest === undefined ? undefined : mostFailingRules(db, digest, 10),
        failedDeliveries(db, 20),
      ]);
      const policy = compliance && rules ? { policies: dashboardConfig.policyNames ?? [], compliance, rules } : undefined;
      const failedAlerts = failed.map((f) => ({
        repo: f.repo,
        target: f.target,
        action: f.action,
        attempts: f.attempts,
        lastError: f.lastError,
        updatedAt: f.updatedAt.toISOString(),
      }));
      return page(context, fleetPage(snapshot, live, now, policy, failedAlerts));
    }
    case 'ui-workloads': {
      const { run, findings } = await auditFindings(db, WORKLOADS_PAGE_ROWS);
      return page(context, workloadsPage(run, findings, now));
    }
    case 'ui-list': {
      const sparse = await sparseState(db, req.query.state);
      const [p, demo] = await Promise.all([listRepos(db, req.query, config, now, { sparse }), hasReposOfOwner(db, DEMO_OWNER)]);
      return page(context, listPage(req.query, p.items, p.next ? encodeCursor(p.next) : undefined, demo, config.policyDigest !== undefined));
    }
    case 'ui-repo': {
      const links = linkBase(context, dashboardConfig.publicUrl);
      const data = await repoPageData(db, req.repo.key, links.base, config);
      if (!data) return htmlError(404, `Repository ${req.repo.canonical} is not known to posture. Add it with: posture repos add ${req.repo.canonical}`);
      return page(context, repoPage(data), links.cache);
    }
    case 'ui-diff': {
      const found = await findChange(db, req.repo.key, { from: req.from, to: req.to });
      if (found.status !== 'ok') {
        const e = changeError(found, req.repo.canonical);
        return htmlError(e.status, e.message);
      }
      return page(context, diffPage(found.repo.canonical, found.change));
    }
  }
}

/** The export's body, a batch of rows per piece; each batch is read once the previous one was sent. */
async function* exportStream(
  db: Db,
  req: Extract<DashboardRequest, { route: 'export' }>,
  config: FleetConfig,
  options: { now: Date; batch: number; sparse: boolean; through?: string },
  next: string | undefined,
): AsyncGenerator<string> {
  exportsStreaming++;
  try {
    const csv = req.format === 'csv';
    yield csv ? csvHeader() : `{"generatedAt":${JSON.stringify(options.now.toISOString())},"repositories":[`;
    let first = true;
    for await (const items of allRepos(db, req.filter, config, { ...options, ...(req.after ? { after: req.after } : {}) })) {
      let piece = '';
      for (const i of items) {
        piece += csv ? csvRow(i) : (first ? '' : ',') + JSON.stringify(i);
        first = false;
      }
      yield piece;
    }
    if (!csv) yield `]${next ? `,"next":${JSON.stringify(next)}` : ''}}`;
  } finally {
    exportsStreaming--;
  }
}

function page(context: Context, html: string, cache = CACHE_PAGE): StructuredReturn {
  return cacheable(context, HTML_TYPE, html, cache, PAGE_HEADERS);
}

/** Whether a request for `/` comes from a browser that wants a page rather than JSON. */
export function wantsHtml(context: Context): boolean {
  const accept = header(context, 'accept') ?? '';
  return /\btext\/html\b/.test(accept);
}

// Prometheus gauges of the fleet, read from the snapshot at scrape time. prom-client reads
// every metric of a scrape concurrently, so each gauge awaits the same read.
let snapshotSource: (() => Promise<FleetSnapshot>) | undefined;
let reading: { at: number; done: Promise<FleetSnapshot | undefined> } | undefined;

function readOnce(): Promise<FleetSnapshot | undefined> {
  if (reading && Date.now() - reading.at < 1000) return reading.done;
  // A database that does not answer leaves the gauges at their last values; the scrape still answers.
  const done = snapshotSource ? snapshotSource().catch(() => undefined) : Promise.resolve(undefined);
  reading = { at: Date.now(), done };
  return done;
}

/** Where the gauges read the fleet from (the api function registers its database). */
export function setFleetMetricsSource(source: () => Promise<FleetSnapshot>): void {
  snapshotSource = source;
  reading = undefined;
  if (registry.getSingleMetric('posture_repositories')) return;
  new client.Gauge({
    name: 'posture_repositories',
    help: 'Repositories by state (fresh, overdue, failing, never)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await readOnce();
      if (s) for (const [k, v] of Object.entries(s.states)) this.set({ state: k }, v);
    },
  });
  new client.Gauge({
    name: 'posture_repositories_by_score',
    help: 'Repositories by newest score: floor(score), 10 is exactly 10',
    labelNames: ['score'],
    registers: [registry],
    async collect() {
      const s = await readOnce();
      for (const [i, v] of s?.histogram.entries() ?? []) this.set({ score: String(i) }, v);
    },
  });
  new client.Gauge({
    name: 'posture_sweep',
    help: 'Sweep progress: fresh_ratio (share scored within the interval), due, scored_last_hour, eta_seconds (-1: unknown)',
    labelNames: ['measure'],
    registers: [registry],
    async collect() {
      const s = await readOnce();
      if (!s) return;
      const w = sweepOf(s);
      this.set({ measure: 'fresh_ratio' }, w.freshShare);
      this.set({ measure: 'due' }, s.due);
      this.set({ measure: 'scored_last_hour' }, s.scoredLastHour);
      this.set({ measure: 'eta_seconds' }, w.etaSeconds ?? -1);
    },
  });
  new client.Gauge({
    name: 'posture_fleet_snapshot_age_seconds',
    help: 'Age of the fleet figures the other gauges report',
    registers: [registry],
    async collect() {
      const s = await readOnce();
      if (s) this.set((Date.now() - Date.parse(s.computedAt)) / 1000);
    },
  });
}
