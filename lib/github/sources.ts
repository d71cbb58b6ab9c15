// Discovering an organisation: list it (listing.ts), select by the filter and plan the changes
// (discovery.ts), apply them in one transaction (lib/db), log and count each one. Used by
// `posture repos discover` (no source: only additions), by `posture sources add`, and by the
// scheduler's tick for the sources that are due (SourceRediscovery).
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { applySourceChanges, claimDueSources, finishSourceDiscovery, getGitHubPage, putGitHubPage, reposOfSource, type SourceRow } from '../db/sources.ts';
import type { Logger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import type { RepoId } from '../repo/identity.ts';
import { type GitHubApi, GitHubError } from './client.ts';
import { type DiscoveryFilter, planSourceChanges, type SourcePlan, selectRepos } from './discovery.ts';
import { listOrgRepos, type PageStore } from './listing.ts';

const changes = counter('posture_discovery_changes_total', 'Repositories a discovery changed, by change (added, adopted, retired, restored)', ['change']);
const pagesCounter = counter(
  'posture_discovery_pages_total',
  'Listing pages a discovery asked GitHub for, by answer (fetched: costs a call; not-modified: 304, free)',
  ['answer'],
);
const discoveries = counter('posture_discoveries_total', 'Discoveries of an organisation, by outcome', ['outcome']);

/** The host discovered repositories are named on: the Enterprise host (without its port), or github.com. */
export function identityHost(config: Pick<Config, 'githubHost'>): string {
  return config.githubHost ? config.githubHost.replace(/:\d+$/, '') : 'github.com';
}

/** The page store in the database. */
export function databasePageStore(db: Db): PageStore {
  return {
    get: (url) => getGitHubPage(db, url),
    put: (page) => putGitHubPage(db, page),
  };
}

export interface DiscoveryReport {
  org: string;
  /** Repositories the filter selected. */
  selected: number;
  /** Left out: archived, forks, without the topic. */
  archived: number;
  forks: number;
  withoutTopic: number;
  fetched: number;
  notModified: number;
  added: RepoId[];
  adopted: string[];
  retired: Array<{ key: string; reason: string }>;
  restored: string[];
  dryRun: boolean;
}

export interface DiscoverDeps {
  db: Db;
  api: GitHubApi;
  log: Logger;
  host: string;
  now: () => Date;
}

/**
 * Discovers one organisation. With a source (`sourceId`), the source's repositories follow the
 * organisation (added, retired, restored); without one (`posture repos discover`) only new
 * repositories are added. A dry run plans and applies nothing.
 */
export async function discoverOrg(
  org: string,
  filter: DiscoveryFilter,
  deps: DiscoverDeps,
  options: { sourceId?: number | null; dryRun?: boolean } = {},
): Promise<DiscoveryReport> {
  const sourceId = options.sourceId ?? null;
  const listing = await listOrgRepos(deps.api, databasePageStore(deps.db), org);
  pagesCounter.inc({ answer: 'fetched' }, listing.fetched);
  pagesCounter.inc({ answer: 'not-modified' }, listing.notModified);
  const selection = selectRepos(listing.repos, filter, deps.host);
  for (const bad of selection.invalid) deps.log.warn({ org, repo: bad.name, reason: bad.reason }, 'discovery: a listed name posture refuses; skipped');
  const held = await reposOfSource(
    deps.db,
    sourceId,
    [...selection.selected, ...selection.archived].map((r) => r.key),
  );
  let plan: SourcePlan;
  if (sourceId === null) {
    const known = new Set(held.map((h) => h.key));
    plan = { add: selection.selected.filter((r) => !known.has(r.key)), adopt: [], retire: [], restore: [] };
  } else {
    plan = planSourceChanges(selection, held, sourceId);
  }
  const report: DiscoveryReport = {
    org,
    selected: selection.selected.length,
    archived: selection.archived.length,
    forks: selection.forks,
    withoutTopic: selection.withoutTopic,
    fetched: listing.fetched,
    notModified: listing.notModified,
    added: plan.add,
    adopted: plan.adopt,
    retired: plan.retire,
    restored: plan.restore,
    dryRun: options.dryRun === true,
  };
  if (options.dryRun) return report;
  const applied = await applySourceChanges(
    deps.db,
    sourceId,
    { add: plan.add.map((r) => ({ key: r.key, canonical: r.canonical, host: r.host })), adopt: plan.adopt, retire: plan.retire, restore: plan.restore },
    deps.now(),
  );
  // Each change its own line and its count: what an operator searches for when a repository appears or stops being scored.
  for (const r of plan.add) deps.log.info({ org, repo: r.canonical, change: 'added' }, 'discovery: repository added');
  for (const k of plan.adopt) deps.log.info({ org, repo: k, change: 'adopted' }, 'discovery: repository added by hand now follows its source');
  for (const r of plan.retire)
    deps.log.info({ org, repo: r.key, change: 'retired', reason: r.reason }, 'discovery: repository retired (kept with its history, no longer scheduled)');
  for (const k of plan.restore) deps.log.info({ org, repo: k, change: 'restored' }, 'discovery: repository restored (scheduled again)');
  changes.inc({ change: 'added' }, applied.added);
  changes.inc({ change: 'adopted' }, applied.adopted);
  changes.inc({ change: 'retired' }, applied.retired);
  changes.inc({ change: 'restored' }, applied.restored);
  return report;
}

/** What one tick's rediscovery did. */
export interface RediscoverySummary {
  sources: number;
  added: number;
  retired: number;
  restored: number;
  notModified: number;
  fetched: number;
  errors: string[];
}

/** The scheduler's step: rediscover the sources that are due (injected into the tick's handle). */
export interface SourceRediscovery {
  rediscover(now: Date): Promise<RediscoverySummary>;
}

/** Sources one tick rediscovers at most (the rest wait for the next tick). */
export const SOURCES_PER_TICK = 5;

export function sourceRediscovery(deps: { db: Db; config: Config; log: Logger; api: () => GitHubApi }): SourceRediscovery {
  return {
    async rediscover(now) {
      const summary: RediscoverySummary = { sources: 0, added: 0, retired: 0, restored: 0, notModified: 0, fetched: 0, errors: [] };
      const due = await claimDueSources(deps.db, { now, intervalSeconds: deps.config.sourcesIntervalSeconds, limit: SOURCES_PER_TICK });
      if (due.length === 0) return summary;
      let api: GitHubApi;
      try {
        api = deps.api();
      } catch (err) {
        const message = (err as Error).message;
        for (const s of due) await finishSourceDiscovery(deps.db, s.id, { now, error: message });
        summary.errors.push(message);
        discoveries.inc({ outcome: 'failed' }, due.length);
        return summary;
      }
      for (const source of due) {
        summary.sources++;
        try {
          const r = await rediscoverOne(source, { db: deps.db, api, log: deps.log, host: source.host, now: () => now });
          summary.added += r.added.length;
          summary.retired += r.retired.length;
          summary.restored += r.restored.length;
          summary.notModified += r.notModified;
          summary.fetched += r.fetched;
          await finishSourceDiscovery(deps.db, source.id, { now, repoCount: r.selected });
          discoveries.inc({ outcome: 'done' });
        } catch (err) {
          const e = err instanceof GitHubError ? err : new GitHubError(0, (err as Error).message);
          const message = `${source.name}: ${e.message}`;
          summary.errors.push(message);
          deps.log.warn({ source: source.key, status: e.status }, `discovery failed: ${e.message}`);
          // A rate limit is retried after its reset; anything else after the failure backoff's base (both within the cadence).
          const retrySeconds = Math.max(60, e.retryAfterSeconds ?? deps.config.failureBackoffBaseSeconds);
          await finishSourceDiscovery(deps.db, source.id, { now, error: message.slice(0, 500), retrySeconds });
          discoveries.inc({ outcome: 'failed' });
        }
      }
      return summary;
    },
  };
}

function rediscoverOne(source: SourceRow, deps: DiscoverDeps): Promise<DiscoveryReport> {
  return discoverOrg(source.name, { includeArchived: source.includeArchived, includeForks: source.includeForks, topic: source.topic }, deps, {
    sourceId: source.id,
  });
}
