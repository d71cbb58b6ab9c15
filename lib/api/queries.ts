// The score API's lookups: each tells "unknown repository" from "known but never scored" (and,
// with a commit, from "scored, but not at that commit"). The reads are lib/db/results.ts's.
import type { Db } from '../db/connect.ts';
import { type HistoryEntry, newestResultOf, type RepoRef, type RepoResults, resultHistoryOf, type StoredResult } from '../db/results.ts';

export type { HistoryEntry, RepoRef, StoredCheckRow, StoredResult } from '../db/results.ts';
export { storedChecks } from '../db/results.ts';

export type Lookup<T> =
  | { status: 'unknown-repo' }
  | { status: 'not-scored'; repo: RepoRef }
  | { status: 'no-result-for-commit'; repo: RepoRef; commit: string }
  | { status: 'ok'; repo: RepoRef; value: T };

function lookupOf<T, V>(found: RepoResults<T> | undefined, commit: string | undefined, value: (results: T[]) => V): Lookup<V> {
  if (!found) return { status: 'unknown-repo' };
  const { repo } = found;
  if (found.results.length === 0) {
    if (commit !== undefined && found.anyResult) return { status: 'no-result-for-commit', repo, commit };
    return { status: 'not-scored', repo };
  }
  return { status: 'ok', repo, value: value(found.results) };
}

/** The newest stored result of a repository in stored order (or the newest for one commit), with its raw document. */
export async function findResult(db: Db, repoKey: string, options: { commit?: string } = {}): Promise<Lookup<StoredResult>> {
  return lookupOf(await newestResultOf(db, repoKey, options.commit), options.commit, (results) => results[0]);
}

/** A repository's results, newest stored first, without their documents: for history and badges. */
export async function findHistory(db: Db, repoKey: string, options: { limit: number; commit?: string }): Promise<Lookup<HistoryEntry[]>> {
  const limit = Math.max(1, Math.min(Math.trunc(options.limit), 10_000));
  return lookupOf(
    await resultHistoryOf(db, repoKey, { limit, ...(options.commit !== undefined ? { commit: options.commit } : {}) }),
    options.commit,
    (results) => results,
  );
}
