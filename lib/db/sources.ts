// Sources (organisations posture rediscovers), the GitHub listing pages they were read from (with
// their ETags) and the changes a discovery makes to repositories: added, retired (archived or
// gone from the source: kept with their history, never due again) and restored.
import type { Db } from './connect.ts';
import { rowCount, rowsOf } from './rows.ts';

export interface SourceRow {
  id: number;
  kind: 'org';
  host: string;
  name: string;
  key: string;
  includeArchived: boolean;
  includeForks: boolean;
  topic: string | null;
  nextDueAt: Date;
  lastDiscoveredAt: Date | null;
  lastError: string | null;
  repoCount: number | null;
  /** Repositories whose source this is, and of those, the retired. */
  repos?: number;
  retired?: number;
}

interface RawSource {
  id: number | string;
  kind: 'org';
  host: string;
  name: string;
  key: string;
  include_archived: boolean;
  include_forks: boolean;
  topic: string | null;
  next_due_at: Date;
  last_discovered_at: Date | null;
  last_error: string | null;
  repo_count: number | null;
  repos?: number | string;
  retired?: number | string;
}

function toSource(r: RawSource): SourceRow {
  return {
    id: Number(r.id),
    kind: r.kind,
    host: r.host,
    name: r.name,
    key: r.key,
    includeArchived: r.include_archived,
    includeForks: r.include_forks,
    topic: r.topic,
    nextDueAt: new Date(r.next_due_at),
    lastDiscoveredAt: r.last_discovered_at ? new Date(r.last_discovered_at) : null,
    lastError: r.last_error,
    repoCount: r.repo_count === null ? null : Number(r.repo_count),
    ...(r.repos !== undefined ? { repos: Number(r.repos) } : {}),
    ...(r.retired !== undefined ? { retired: Number(r.retired) } : {}),
  };
}

export interface NewSource {
  host: string;
  name: string;
  includeArchived: boolean;
  includeForks: boolean;
  topic: string | null;
}

/** Adds a source, due at once; an existing one (same host and name, any case) gets the new filters. Returns it and whether it was new. */
export async function addSource(db: Db, s: NewSource): Promise<{ source: SourceRow; created: boolean }> {
  const res = await db.raw(
    `INSERT INTO sources (host, name, key, include_archived, include_forks, topic)
     VALUES (:host, :name, :key, :includeArchived, :includeForks, :topic)
     ON CONFLICT (key) DO UPDATE SET include_archived = EXCLUDED.include_archived, include_forks = EXCLUDED.include_forks,
       topic = EXCLUDED.topic, next_due_at = now(), updated_at = now()
     RETURNING *, (xmax = 0) AS created`,
    { host: s.host, name: s.name, key: `${s.host}/${s.name}`.toLowerCase(), includeArchived: s.includeArchived, includeForks: s.includeForks, topic: s.topic },
  );
  const row = rowsOf<RawSource & { created: boolean }>(res)[0];
  return { source: toSource(row), created: Boolean(row.created) };
}

/** Every source with the count of its repositories (and of those retired), by key. */
export async function listSources(db: Db): Promise<SourceRow[]> {
  const res = await db.raw(
    `SELECT s.*, COALESCE(c.repos, 0) AS repos, COALESCE(c.retired, 0) AS retired
       FROM sources s
       LEFT JOIN (SELECT source_id, count(*) AS repos, count(retired_at) AS retired FROM repos WHERE source_id IS NOT NULL GROUP BY source_id) c
         ON c.source_id = s.id
      ORDER BY s.key`,
  );
  return rowsOf<RawSource>(res).map(toSource);
}

/**
 * Removes a source by key. Its repositories stay, with their history, as if added by hand (their
 * source is cleared); retired ones stay retired. Returns false when there is no such source.
 */
export async function removeSource(db: Db, key: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const res = await tx.raw('DELETE FROM sources WHERE key = :key RETURNING id', { key: key.toLowerCase() });
    return rowsOf(res).length > 0;
  });
}

/**
 * Claims the sources due now (at most `limit`) in one statement: each is pushed to its next
 * discovery, so two ticks never discover the same source at once (SKIP LOCKED) and a crash
 * leaves it for the next cadence.
 */
export async function claimDueSources(db: Db, options: { now: Date; intervalSeconds: number; limit: number }): Promise<SourceRow[]> {
  const res = await db.raw(
    `WITH due AS (
       SELECT id FROM sources WHERE next_due_at <= :now ORDER BY next_due_at LIMIT :limit FOR UPDATE SKIP LOCKED
     )
     UPDATE sources s SET next_due_at = :now::timestamptz + make_interval(secs => :interval::int), updated_at = :now
       FROM due WHERE s.id = due.id
     RETURNING s.*`,
    { now: options.now, interval: options.intervalSeconds, limit: options.limit },
  );
  return rowsOf<RawSource>(res).map(toSource);
}

/**
 * Records a discovery's end: its count, or its error (then due again after `retrySeconds` when
 * that is sooner). `nextInSeconds`: a discovery made outside the tick (`sources add`) sets the next one.
 */
export async function finishSourceDiscovery(
  db: Db,
  id: number,
  outcome: { now: Date; repoCount?: number; error?: string; retrySeconds?: number; nextInSeconds?: number },
): Promise<void> {
  await db.raw(
    `UPDATE sources
        SET last_discovered_at = CASE WHEN :error::text IS NULL THEN :now::timestamptz ELSE last_discovered_at END,
            repo_count = COALESCE(:repoCount::int, repo_count),
            last_error = :error::text,
            next_due_at = CASE WHEN :next::int IS NOT NULL THEN :now::timestamptz + make_interval(secs => :next::int)
                               WHEN :retry::int IS NULL THEN next_due_at
                               ELSE LEAST(next_due_at, :now::timestamptz + make_interval(secs => :retry::int)) END,
            updated_at = :now
      WHERE id = :id`,
    {
      id,
      now: outcome.now,
      repoCount: outcome.repoCount ?? null,
      error: outcome.error ?? null,
      retry: outcome.retrySeconds ?? null,
      next: outcome.nextInSeconds ?? null,
    },
  );
}

/** A repository a source holds, as the discovery plan needs it. */
export interface SourceRepo {
  key: string;
  canonical: string;
  retiredReason: string | null;
  /** Another source's, or none (added by hand). */
  sourceId: number | null;
}

/** The repositories whose source this is, plus those among `keys` (repositories it lists) that exist already. */
export async function reposOfSource(db: Db, sourceId: number | null, keys: readonly string[]): Promise<SourceRepo[]> {
  const res = await db.raw(
    `SELECT key, canonical, retired_reason, source_id FROM repos
      WHERE (:sourceId::bigint IS NOT NULL AND source_id = :sourceId::bigint) OR key = ANY(:keys::text[])`,
    { sourceId, keys: [...keys] },
  );
  return rowsOf<{ key: string; canonical: string; retired_reason: string | null; source_id: number | string | null }>(res).map((r) => ({
    key: r.key,
    canonical: r.canonical,
    retiredReason: r.retired_reason,
    sourceId: r.source_id === null ? null : Number(r.source_id),
  }));
}

export interface SourceChanges {
  add: ReadonlyArray<{ key: string; canonical: string; host: string }>;
  /** Repositories added by hand (no source) that the source now lists: they become the source's. */
  adopt: readonly string[];
  retire: ReadonlyArray<{ key: string; reason: string }>;
  restore: readonly string[];
}

/** Applies a discovery's changes in one transaction; returns how many rows each changed. */
export async function applySourceChanges(
  db: Db,
  sourceId: number | null,
  changes: SourceChanges,
  now: Date,
): Promise<{ added: number; adopted: number; retired: number; restored: number }> {
  return db.transaction(async (tx) => {
    const added = changes.add.length
      ? rowCount(
          await tx.raw(
            `INSERT INTO repos (key, canonical, host, source_id)
             SELECT k, c, h, :sourceId::bigint FROM unnest(:keys::text[], :canonicals::text[], :hosts::text[]) AS u(k, c, h)
             ON CONFLICT (key) DO NOTHING`,
            { sourceId, keys: changes.add.map((a) => a.key), canonicals: changes.add.map((a) => a.canonical), hosts: changes.add.map((a) => a.host) },
          ),
        )
      : 0;
    const adopted =
      sourceId !== null && changes.adopt.length
        ? rowCount(
            await tx.raw(`UPDATE repos SET source_id = :sourceId, updated_at = :now WHERE key = ANY(:keys::text[]) AND source_id IS NULL`, {
              sourceId,
              keys: [...changes.adopt],
              now,
            }),
          )
        : 0;
    let retired = 0;
    for (const reason of new Set(changes.retire.map((r) => r.reason))) {
      const keys = changes.retire.filter((r) => r.reason === reason).map((r) => r.key);
      retired += rowCount(
        await tx.raw(
          `UPDATE repos SET retired_at = :now, retired_reason = :reason, updated_at = :now
            WHERE key = ANY(:keys::text[]) AND (retired_reason IS DISTINCT FROM :reason)`,
          { now, reason, keys },
        ),
      );
    }
    const restored = changes.restore.length
      ? rowCount(
          await tx.raw(
            `UPDATE repos SET retired_at = NULL, retired_reason = NULL, next_due_at = :now, updated_at = :now
              WHERE key = ANY(:keys::text[]) AND retired_at IS NOT NULL`,
            { now, keys: [...changes.restore] },
          ),
        )
      : 0;
    return { added, adopted, retired, restored };
  });
}

/** A listing page as posture last fetched it: its ETag, its next page and what it listed. */
export interface GitHubPage {
  url: string;
  etag: string;
  nextUrl: string | null;
  items: unknown[];
}

export async function getGitHubPage(db: Db, url: string): Promise<GitHubPage | undefined> {
  const res = await db.raw('SELECT url, etag, next_url, items FROM github_pages WHERE url = :url', { url });
  const r = rowsOf<{ url: string; etag: string; next_url: string | null; items: unknown[] | string }>(res)[0];
  if (!r) return undefined;
  return { url: r.url, etag: r.etag, nextUrl: r.next_url, items: typeof r.items === 'string' ? JSON.parse(r.items) : r.items };
}

export async function putGitHubPage(db: Db, page: GitHubPage, now: Date = new Date()): Promise<void> {
  await db.raw(
    `INSERT INTO github_pages (url, etag, next_url, items, fetched_at) VALUES (:url, :etag, :nextUrl, :items::jsonb, :now)
     ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag, next_url = EXCLUDED.next_url, items = EXCLUDED.items, fetched_at = EXCLUDED.fetched_at`,
    { url: page.url, etag: page.etag, nextUrl: page.nextUrl, items: JSON.stringify(page.items), now },
  );
}

/** Repositories retired, by reason (the dashboard and `repos list` show them apart). */
export async function retiredRepoKeys(db: Db): Promise<Array<{ key: string; reason: string }>> {
  const res = await db.raw('SELECT key, retired_reason FROM repos WHERE retired_at IS NOT NULL ORDER BY key');
  return rowsOf<{ key: string; retired_reason: string }>(res).map((r) => ({ key: r.key, reason: r.retired_reason }));
}
