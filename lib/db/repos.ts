// Repository rows: bulk, idempotent inserts keyed by the case-insensitive name.
import type { RepoId } from '../repo/identity.ts';
import type { Db } from './connect.ts';
import { rowCount } from './rows.ts';

export interface NewRepo {
  repo: RepoId;
  priority?: number;
  metadata?: string | null;
}

export interface RepoRow {
  id: number;
  key: string;
  canonical: string;
  host: string;
  priority: number;
  metadata: string | null;
  next_due_at: Date;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  consecutive_failures: number;
  last_error: string | null;
  /** Runs in a row that failed for reasons not the repository's (infrastructure, a vanished Job). */
  other_failures: number;
  /** The newest of those failures, `<class>: <reason>`. */
  other_error: string | null;
  last_finished_at: Date | null;
}

/**
 * Inserts repositories that are not there yet (one statement per call, any size up to a few
 * thousand); existing ones are left untouched, so re-importing a list changes nothing.
 * Returns how many were new.
 */
export async function addRepos(db: Db, repos: readonly NewRepo[]): Promise<number> {
  if (repos.length === 0) return 0;
  // Duplicates inside one batch would make ON CONFLICT fail ("cannot affect row a second time").
  const seen = new Map<string, NewRepo>();
  for (const r of repos) if (!seen.has(r.repo.key)) seen.set(r.repo.key, r);
  const rows = [...seen.values()];
  const res = await db.raw(
    `INSERT INTO repos (key, canonical, host, priority, metadata)
     SELECT * FROM unnest(:keys::text[], :canonicals::text[], :hosts::text[], :priorities::int[], :metadata::text[])
     ON CONFLICT (key) DO NOTHING`,
    {
      keys: rows.map((r) => r.repo.key),
      canonicals: rows.map((r) => r.repo.canonical),
      hosts: rows.map((r) => r.repo.host),
      priorities: rows.map((r) => r.priority ?? 0),
      metadata: rows.map((r) => r.metadata ?? null),
    },
  );
  return rowCount(res);
}

export async function getRepo(db: Db, key: string): Promise<RepoRow | undefined> {
  return db<RepoRow>('repos').where({ key }).first();
}

export async function getRepoById(db: Db, id: number): Promise<RepoRow | undefined> {
  return db<RepoRow>('repos').where({ id }).first();
}

export async function listRepos(db: Db, options: { limit?: number; afterId?: number } = {}): Promise<RepoRow[]> {
  return db<RepoRow>('repos')
    .where('id', '>', options.afterId ?? 0)
    .orderBy('id')
    .limit(options.limit ?? 1000);
}

export async function countRepos(db: Db): Promise<number> {
  const row = await db('repos').count<{ count: string | number }[]>('* as count').first();
  return Number(row?.count ?? 0);
}
