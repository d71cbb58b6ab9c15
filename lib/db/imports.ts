// Results imported from files (`posture results import`): stored as imported results, with no
// run (nothing was scheduled), in one transaction per result. The repository is added when it is
// missing. Its place in the repository's history is its own date: stored_at is the result's date
// (or now, for a date ahead of the database's clock), so an older imported result sorts before
// the results posture stored since and never becomes "latest" over them, while a newer one does.
// The same result imported twice is stored once (scores_import_idx, migration 010).
import type { NormalizedResult } from '../scorecard/classify.ts';
import type { Db } from './connect.ts';
import { rowsOf } from './rows.ts';
import { checkRowsOf, type PreviousResult, previousResultOf } from './runs.ts';

export interface ImportInput {
  repo: { key: string; canonical: string; host: string };
  result: NormalizedResult;
  importKey: string;
  /** A repository this import adds is first due this long after the result's date (or at once, if that has passed). */
  dueAfterSeconds: number;
}

export type ImportStored =
  | {
      status: 'stored';
      scoreId: number;
      repoAdded: boolean;
      /** It is the repository's newest result (in stored order). */
      latest: boolean;
      storedAt: Date;
      previous: PreviousResult | null;
    }
  | { status: 'duplicate'; repoAdded: boolean };

export async function storeImportedResult(db: Db, input: ImportInput): Promise<ImportStored> {
  const r = input.result;
  return db.transaction(async (tx) => {
    const added = rowsOf(
      await tx.raw(
        `INSERT INTO repos (key, canonical, host, next_due_at)
         VALUES (:key, :canonical, :host, GREATEST(now(), :date::timestamptz + make_interval(secs => :due::int)))
         ON CONFLICT (key) DO NOTHING RETURNING id`,
        { key: input.repo.key, canonical: input.repo.canonical, host: input.repo.host, date: new Date(r.date), due: input.dueAfterSeconds },
      ),
    );
    // The repository's row is locked as the harvest locks it, so the predecessor chain stays whole.
    const repo = rowsOf<{ id: number | string }>(await tx.raw('SELECT id FROM repos WHERE key = :key FOR UPDATE', { key: input.repo.key }))[0];
    const inserted = rowsOf<{ id: number | string; previous_score_id: number | string | null; stored_at: Date }>(
      await tx.raw(
        `INSERT INTO scores (repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, stored_at, check_set, raw, origin, import_key)
         VALUES (:repoId, NULL, :score, :version, :scorecardCommit, :commit, :date::timestamptz, LEAST(:date::timestamptz, now()), NULL, :raw::jsonb, 'imported', :importKey)
         ON CONFLICT (repo_id, import_key) WHERE import_key IS NOT NULL DO NOTHING
         RETURNING id, previous_score_id, stored_at`,
        {
          repoId: repo.id,
          score: r.score,
          version: r.scorecardVersion,
          scorecardCommit: r.scorecardCommit,
          commit: r.commit,
          date: new Date(r.date),
          raw: JSON.stringify(r.raw),
          importKey: input.importKey,
        },
      ),
    )[0];
    if (!inserted) return { status: 'duplicate', repoAdded: added.length > 0 } as const;
    const checks = checkRowsOf(r.checks);
    await tx.raw(
      `INSERT INTO checks (score_id, name, score, reason, details, documentation_url, documentation_short, internal_error)
       SELECT :scoreId, x.name, x.score, x.reason, x.details, x.documentation_url, x.documentation_short, x.internal_error
         FROM json_to_recordset(:checks::json) AS x(name text, score smallint, reason text, details jsonb, documentation_url text, documentation_short text, internal_error boolean)`,
      { scoreId: inserted.id, checks: JSON.stringify(checks) },
    );
    const p = rowsOf<{
      latest: boolean;
      id: number | string | null;
      score: number | string | null;
      result_date: Date | null;
      repo_commit: string | null;
      checks: Array<{ name: string; score: number; reason: string }> | string | null;
    }>(
      await tx.raw(
        `SELECT NOT EXISTS (SELECT 1 FROM scores x WHERE x.repo_id = :repoId AND (x.stored_at, x.id) > (:storedAt::timestamptz, :scoreId::bigint)) AS latest,
                p.id, p.score, p.result_date, p.repo_commit,
                (SELECT json_agg(json_build_object('name', pc.name, 'score', pc.score, 'reason', pc.reason) ORDER BY pc.id)
                   FROM checks pc WHERE pc.score_id = p.id) AS checks
           FROM (SELECT 1) one LEFT JOIN scores p ON p.id = :previousId::bigint`,
        { repoId: repo.id, storedAt: inserted.stored_at, scoreId: inserted.id, previousId: inserted.previous_score_id },
      ),
    )[0];
    return {
      status: 'stored',
      scoreId: Number(inserted.id),
      repoAdded: added.length > 0,
      latest: Boolean(p.latest),
      storedAt: new Date(inserted.stored_at),
      previous: previousResultOf({ id: p.id, score: p.score, date: p.result_date, commit: p.repo_commit, checks: p.checks }),
    } as const;
  });
}

/** How many of a repository's results were imported (tests and `repos list`). */
export async function importedResultCount(db: Db, repoKey: string): Promise<number> {
  const res = await db.raw(`SELECT count(*) AS n FROM scores s JOIN repos r ON r.id = s.repo_id WHERE r.key = :key AND s.origin = 'imported'`, {
    key: repoKey,
  });
  return Number(rowsOf<{ n: number | string }>(res)[0]?.n ?? 0);
}
