// Score changes as the changes route and the diff page ask for them: the change between any two
// results of a repository, each named by id, commit or time. The predecessor and delta of each
// result are set by the database when the result is inserted (migration 004), so "previous"
// means the same thing everywhere; lib/db/changes.ts reads them.
import { checkScoresOf, newestScoreLinkAtCommit, newestScoreLinkAtOrBefore, type ScoreLink, scoreLinkById, scoreLinkOfRepo } from '../db/changes.ts';
import type { Db } from '../db/connect.ts';
import { repoWithLatest } from '../db/listing.ts';
import { type CheckScore, diffResults, type ResultRef, type ScoreChange } from './diff.ts';

/** How a request names one result: its id, its repository commit, or a time (the newest result at or before it). */
export type ResultSelector = { id: number } | { commit: string } | { at: Date };

export interface RepoRow {
  id: number;
  key: string;
  canonical: string;
}

const refOf = (s: ScoreLink): ResultRef => ({ id: s.id, score: s.score, date: s.resultDate.toISOString(), commit: s.commit });

async function checksOf(db: Db, scoreIds: number[]): Promise<Map<number, CheckScore[]>> {
  const out = new Map<number, CheckScore[]>(scoreIds.map((id) => [id, []]));
  for (const c of await checkScoresOf(db, scoreIds)) out.get(c.scoreId)?.push({ name: c.name, score: c.score, reason: c.reason });
  return out;
}

async function diffRows(db: Db, from: ScoreLink | undefined, to: ScoreLink): Promise<ScoreChange> {
  const checks = await checksOf(db, from ? [from.id, to.id] : [to.id]);
  return diffResults(from ? { ...refOf(from), checks: checks.get(from.id)! } : null, { ...refOf(to), checks: checks.get(to.id)! });
}

export type ChangeLookup =
  | { status: 'unknown-repo' }
  | { status: 'not-scored'; repo: RepoRow }
  | { status: 'no-such-result'; repo: RepoRow; which: 'from' | 'to'; selector: ResultSelector }
  | { status: 'ok'; repo: RepoRow; change: ScoreChange };

function select(db: Db, repoId: number, s: ResultSelector): Promise<ScoreLink | undefined> {
  if ('id' in s) return scoreLinkOfRepo(db, repoId, s.id);
  if ('commit' in s) return newestScoreLinkAtCommit(db, repoId, s.commit);
  return newestScoreLinkAtOrBefore(db, repoId, s.at);
}

/**
 * The per-check change between two results of a repository. `to` defaults to the newest
 * result, `from` to the result before `to`. from may be later than to: the diff is then read
 * backwards, as asked.
 */
export async function findChange(db: Db, repoKey: string, options: { from?: ResultSelector; to?: ResultSelector } = {}): Promise<ChangeLookup> {
  const found = await repoWithLatest(db, repoKey);
  if (!found) return { status: 'unknown-repo' };
  const repo: RepoRow = { id: found.id, key: found.key, canonical: found.canonical };
  if (found.latestScoreId === null) return { status: 'not-scored', repo };
  const to = options.to ? await select(db, repo.id, options.to) : await scoreLinkById(db, found.latestScoreId);
  if (!to) return { status: 'no-such-result', repo, which: 'to', selector: options.to! };
  let from: ScoreLink | undefined;
  if (options.from) {
    from = await select(db, repo.id, options.from);
    if (!from) return { status: 'no-such-result', repo, which: 'from', selector: options.from };
  } else if (to.previousId !== null) {
    from = await scoreLinkById(db, to.previousId);
  }
  return { status: 'ok', repo, change: await diffRows(db, from, to) };
}
