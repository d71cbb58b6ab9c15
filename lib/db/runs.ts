// Runs (one per repository of a Job: a shard's Job has several) and the harvest: the run, the
// score, its checks and the repository's next due time are written in one statement, keyed by
// (Job, repository) so a duplicate or late event changes nothing.
import { failureBackoffSeconds, secondsUntilDueAfterSuccess } from '../cadence/cadence.ts';
import type { NormalizedResult } from '../scorecard/classify.ts';
import { type Db, preparedAs } from './connect.ts';
import { parsedJson, rowsOf } from './rows.ts';

/** What the harvester learned from a finished Job: a normalized result, or a failure class. */
export type HarvestOutcome =
  | { ok: true; result: NormalizedResult; flagged: boolean }
  | {
      ok: false;
      failure: string;
      reason: string;
      /** rate-limited: how long after the run's finish GitHub's limit resets (a duration: the pod's clock is not the database's). */
      retryInSeconds?: number;
    };

export interface HarvestInput {
  repoKey: string;
  jobName: string;
  jobUid: string;
  /**
   * When the run finished. Omitted in production (the harvester and the reconcile): the
   * database's now(), so the database's clock is the only clock behind a run's finish, the
   * repository's due time, the breaker's window and the order of its results. Tests and the
   * demo's history give one.
   */
  finishedAt?: Date;
  checkSet: string[] | null;
  outcome: HarvestOutcome;
  schedule: {
    rescoreIntervalSeconds: number;
    jitterSeconds: number;
    failureBackoffBaseSeconds: number;
    failureBackoffMaxSeconds: number;
    /** In [0, 1): the jitter's share (Math.random in production, fixed in tests). */
    random: number;
    /**
     * After this many runs in a row failed for reasons not the repository's, it is stuck: retried
     * on the failure backoff instead of after the base delay (POSTURE_STUCK_AFTER_RUNS).
     */
    stuckAfterRuns?: number;
  };
}

export type HarvestStored =
  | {
      status: 'stored';
      runId: number;
      scoreId: number | null;
      nextDueAt: Date | null;
      /** A score that is the repository's newest result (a late, older one changes nothing people see now). */
      latest: boolean;
      /** When the score was stored (its place in the repository's order); null for a failure. */
      storedAt: Date | null;
      /** The result this score follows; null for a first result or a failure. */
      previous: PreviousResult | null;
    }
  | { status: 'duplicate'; runId: number }
  | { status: 'unknown-repo' }
  /** No pending run of this Job for this repository: the repository was removed (and maybe added again) since; nothing is written. */
  | { status: 'no-run' };

/** Records that the scheduler created a Job for a repository (idempotent by job name and repository). */
export async function recordRun(
  db: Db,
  run: { repoId: number; jobName: string; jobUid?: string | null; tickSlot?: string | null; createdAt?: Date },
): Promise<void> {
  await db.raw(
    `INSERT INTO runs (repo_id, job_name, job_uid, tick_slot, created_at) VALUES (:repoId, :jobName, :jobUid, :tickSlot, :createdAt)
     ON CONFLICT (job_name, repo_id) DO UPDATE SET job_uid = COALESCE(runs.job_uid, EXCLUDED.job_uid)`,
    { repoId: run.repoId, jobName: run.jobName, jobUid: run.jobUid ?? null, tickSlot: run.tickSlot ?? null, createdAt: run.createdAt ?? new Date() },
  );
}

/** A run with its repository's key (null: the repository is gone). */
export interface JobRun extends RunRow {
  key: string | null;
}

/** The runs of one Job: one per repository it scores (a shard's Job has several), in the order recorded. */
export async function runsByJobName(db: Db, jobName: string): Promise<JobRun[]> {
  // Raw SQL: the harvester asks this for every finished-Job event, and knex's builder costs more than the query.
  const res = await db.raw('SELECT runs.*, repos.key FROM runs LEFT JOIN repos ON repos.id = runs.repo_id WHERE runs.job_name = ? ORDER BY runs.id', [jobName]);
  return rowsOf<JobRun>(res);
}

/** The first run of a Job (a one-repository Job has only this one). */
export async function runByJobName(db: Db, jobName: string): Promise<RunRow | undefined> {
  return (await runsByJobName(db, jobName))[0];
}

export interface RunRow {
  id: number;
  repo_id: number;
  job_name: string;
  job_uid: string | null;
  tick_slot: string | null;
  created_at: Date;
  finished_at: Date | null;
  outcome: 'pending' | 'succeeded' | 'failed';
  failure_class: string | null;
  reason: string | null;
  flagged: boolean;
}

/** The failure class of a run the infrastructure failed (network, GitHub outage, eviction, image, Secret). */
export const INFRASTRUCTURE = 'infrastructure';
/** A run whose Job vanished before it was harvested (deleted by hand, a TTL, a namespace clean-up). */
export const JOB_MISSING = 'job-missing';
/** GitHub refused the token (401): the fleet pauses until a run shows the token works again. */
export const CREDENTIALS = 'credentials';
/** GitHub's rate limit: the fleet waits for its reset. */
export const RATE_LIMITED = 'rate-limited';
/**
 * A repository of a shard that Scorecard never started on (the pod ended, at its deadline or
 * otherwise, on a repository before it): nothing ran for it, so it counts nowhere (no failure,
 * no breaker sample, no fleet failure); its claim is given back for the same window, refunded.
 */
export const NOT_REACHED = 'not-reached';
/**
 * Failures stored with their cause but never held against the repository: nothing it did caused
 * them. They count towards it being stuck (the cap on "not the repository's fault").
 */
const NOT_THE_REPOSITORYS = new Set<string>([INFRASTRUCTURE, JOB_MISSING]);
/** The fleet's failures: they say nothing about one repository, so they count nowhere; the scheduler pauses for them. */
const THE_FLEETS = new Set<string>([CREDENTIALS, RATE_LIMITED]);
/** Never stuck: the stuck cap when no setting is given. */
export const NEVER_STUCK = 2_147_483_647;

const REASON_MAX = 2000;
const clip = (s: string, n = REASON_MAX) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Failure backoffs the write indexes by the repository's failure count: 2^40 times the base is past any cap. */
const BACKOFF_STEPS = 41;

const backoffTables = new Map<string, string>();

/** The backoff of every failure count as a PostgreSQL int[] literal; built once per base and cap (settings), not per result. */
function backoffTable(baseSeconds: number, maxSeconds: number): string {
  const key = `${baseSeconds}/${maxSeconds}`;
  let table = backoffTables.get(key);
  if (table === undefined) {
    table = `{${Array.from({ length: BACKOFF_STEPS }, (_, i) => failureBackoffSeconds(i + 1, baseSeconds, maxSeconds)).join(',')}}`;
    backoffTables.set(key, table);
  }
  return table;
}

/**
 * The harvest: the repository's row is locked first (its own statement, so the write's snapshot,
 * taken after the lock is granted, sees a concurrent harvest's result: the predecessor and
 * "latest" chain correctly), then one statement, each step a CTE:
 * - `t`: the run's finish: the database's now() unless a test or the demo gives one;
 * - `r`: the run finished; only the pending run the scheduler recorded for this Job and this
 *   repository (a harvest never creates a run: a duplicate, a name reused by another Job, or a
 *   repository removed and added again returns no row and the steps after it do nothing);
 * - `s`, `c`: the score and its checks (a result only), stored at the run's finish (its order among the repository's
 *   results: the result's own date comes from the pod's clock); the insert trigger sets the predecessor and delta, returned here;
 * - `u`: the schedule, moved only by the newest run and never while another tick holds the repository;
 * - `w`: when GitHub's rate limit resets, from a rate-limited run's log: no Job starts before then.
 * The schedule's arithmetic stays in lib/cadence/cadence.ts: the statement gets the delays (never
 * times: the process's clock is not the database's) and the failure backoff for every failure
 * count, and picks by the locked row.
 */
const HARVEST_LOCK = 'SELECT id FROM repos WHERE key = ? FOR UPDATE';
const HARVEST_WRITE = `
  WITH t AS (
    SELECT COALESCE(:finishedAt::timestamptz, now()) AS at
  ), repo AS (
    SELECT id, consecutive_failures, other_failures, last_finished_at, claimed_due_at, claim_budget_hour FROM repos WHERE key = :repoKey
  ), r AS (
    UPDATE runs
       SET job_uid = :jobUid, outcome = :outcome, finished_at = t.at, failure_class = :failureClass, reason = :reason, flagged = :flagged
      FROM repo, t
     WHERE runs.job_name = :jobName AND runs.repo_id = repo.id AND runs.outcome = 'pending' AND (runs.job_uid IS NULL OR runs.job_uid = :jobUid)
    RETURNING runs.id, runs.tick_slot
  ), s AS (
    INSERT INTO scores (repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, stored_at, check_set, raw)
    SELECT repo.id, r.id, :score, :scorecardVersion, :scorecardCommit, :repoCommit, COALESCE(:resultDate::timestamptz, t.at), t.at, :checkSet::jsonb, :raw::jsonb FROM r, repo, t WHERE :scored::boolean
    RETURNING id, previous_score_id, result_date, stored_at
  ), c AS (
    INSERT INTO checks (score_id, name, score, reason, details, documentation_url, documentation_short, internal_error)
    SELECT s.id, x.name, x.score, x.reason, x.details, x.documentation_url, x.documentation_short, x.internal_error
      FROM s, json_to_recordset(:checks::json) AS x(name text, score smallint, reason text, details jsonb, documentation_url text, documentation_short text, internal_error boolean)
  ), u AS (
    UPDATE repos
       SET next_due_at = CASE :kind::text
             WHEN 'succeeded' THEN t.at + make_interval(secs => :dueAfterSuccessSeconds::int)
             WHEN 'fleet' THEN t.at + make_interval(secs => GREATEST(:baseDelaySeconds::int, COALESCE(:retryInSeconds::int, 0)))
             WHEN 'not-reached' THEN LEAST(COALESCE(repo.claimed_due_at, t.at), t.at)
             WHEN 'not-the-repository' THEN CASE WHEN repo.other_failures + 1 >= :stuckAfterRuns::int
               THEN t.at + make_interval(secs => (:backoffByFailures::int[])[LEAST(repo.other_failures + 2 - :stuckAfterRuns::int, ${BACKOFF_STEPS})])
               ELSE t.at + make_interval(secs => :baseDelaySeconds::int) END
             ELSE t.at + make_interval(secs => (:backoffByFailures::int[])[LEAST(repo.consecutive_failures + 1, ${BACKOFF_STEPS})]) END,
           consecutive_failures = CASE :kind::text WHEN 'succeeded' THEN 0 WHEN 'failed' THEN repo.consecutive_failures + 1 ELSE repo.consecutive_failures END,
           last_error = CASE :kind::text WHEN 'succeeded' THEN NULL WHEN 'failed' THEN :lastError ELSE repos.last_error END,
           other_failures = CASE :kind::text WHEN 'not-the-repository' THEN repo.other_failures + 1 WHEN 'fleet' THEN repo.other_failures WHEN 'not-reached' THEN repo.other_failures ELSE 0 END,
           other_error = CASE :kind::text WHEN 'not-the-repository' THEN :lastError WHEN 'fleet' THEN repos.other_error WHEN 'not-reached' THEN repos.other_error ELSE NULL END,
           last_finished_at = CASE :kind::text WHEN 'not-reached' THEN repo.last_finished_at ELSE t.at END,
           lease_owner = NULL, lease_expires_at = NULL, claim_budget_hour = NULL, updated_at = now()
      FROM r, repo, t
     WHERE repos.id = repo.id
       AND (repo.last_finished_at IS NULL OR repo.last_finished_at <= t.at)
       AND (repos.lease_owner IS NULL OR repos.lease_owner = r.tick_slot OR repos.lease_expires_at <= now())
    RETURNING repos.next_due_at
  ), b AS (
    -- Not reached: nothing ran, so the budget hour the claim was paid from gets its run back
    -- (only while the claim is still this run's: u moved the repository).
    UPDATE budget
       SET runs_started = GREATEST(0, runs_started - 1)
      FROM u, repo
     WHERE :kind::text = 'not-reached' AND budget.hour = repo.claim_budget_hour
  ), w AS (
    UPDATE scheduler_state
       SET github_wait_until = GREATEST(github_wait_until, t.at + make_interval(secs => :retryInSeconds::int))
      FROM r, t
     WHERE scheduler_state.id = 1 AND :retryInSeconds::int IS NOT NULL
  )
  SELECT repo.id AS repo_id, r.id AS run_id, s.id AS score_id, s.previous_score_id, u.next_due_at, s.stored_at,
         NOT EXISTS (SELECT 1 FROM scores x WHERE x.repo_id = repo.id AND (x.stored_at, x.id) > (s.stored_at, s.id)) AS latest,
         p.score AS previous_score, p.result_date AS previous_date, p.repo_commit AS previous_commit,
         (SELECT json_agg(json_build_object('name', pc.name, 'score', pc.score, 'reason', pc.reason) ORDER BY pc.id)
            FROM checks pc WHERE pc.score_id = s.previous_score_id) AS previous_checks
    FROM repo
    LEFT JOIN r ON true
    LEFT JOIN s ON true
    LEFT JOIN u ON true
    LEFT JOIN scores p ON p.id = s.previous_score_id`;

/** The result a stored score follows (its predecessor in stored order), for the change it made. */
export interface PreviousResult {
  id: number;
  score: number;
  date: string;
  commit: string;
  checks: Array<{ name: string; score: number; reason: string }>;
}

/** A result's checks as the checks table stores them (one shape for harvests and imports). */
export function checkRowsOf(checks: NormalizedResult['checks']) {
  return checks.map((c) => ({
    name: c.name,
    score: c.score,
    reason: c.reason,
    details: c.details,
    documentation_url: c.documentation?.url ?? null,
    documentation_short: c.documentation?.short ?? null,
    internal_error: c.reason.startsWith('internal error:'),
  }));
}

/** A predecessor as its row comes back (numbers may be strings, checks JSON text); null when there is none. */
export function previousResultOf(p: {
  id: number | string | null | undefined;
  score: number | string | null;
  date: Date | string | null;
  commit: string | null;
  checks: PreviousResult['checks'] | string | null;
}): PreviousResult | null {
  if (p.id === null || p.id === undefined) return null;
  return {
    id: Number(p.id),
    score: Number(p.score),
    date: new Date(p.date!).toISOString(),
    commit: p.commit!,
    checks: (parsedJson<PreviousResult['checks'] | null>(p.checks) ?? []).map((c) => ({ name: c.name, score: Number(c.score), reason: c.reason })),
  };
}

/** The harvest write's one row; every column after repo_id is null where its step wrote nothing. */
interface HarvestRow {
  repo_id: number;
  run_id: number | null;
  score_id: number | null;
  previous_score_id: number | null;
  next_due_at: Date | null;
  stored_at: Date | null;
  latest: boolean | null;
  previous_score: number | string | null;
  previous_date: Date | null;
  previous_commit: string | null;
  previous_checks: PreviousResult['checks'] | string | null;
}

/**
 * Stores a finished Job's outcome in one transaction (the repository locked, then one write); a
 * second call for the same Job UID is a no-op, and a Job whose run is gone writes nothing.
 */
export async function storeHarvest(db: Db, input: HarvestInput): Promise<HarvestStored> {
  const o = input.outcome;
  const s = input.schedule;
  // 'not-the-repository': the infrastructure's failure (or a Job that vanished), retried after
  // the base delay (the backoff once stuck) with the repository's failure count and last error
  // untouched; 'fleet': the token or the rate limit, counted nowhere, retried after the reset.
  const kind = o.ok
    ? 'succeeded'
    : o.failure === NOT_REACHED
      ? 'not-reached'
      : THE_FLEETS.has(o.failure)
        ? 'fleet'
        : NOT_THE_REPOSITORYS.has(o.failure)
          ? 'not-the-repository'
          : 'failed';
  const r = o.ok ? o.result : undefined;
  const checks = checkRowsOf(r?.checks ?? []);
  const retryInSeconds = !o.ok && o.retryInSeconds !== undefined && Number.isFinite(o.retryInSeconds) ? Math.max(0, Math.ceil(o.retryInSeconds)) : null;
  return db.transaction(async (tx) => {
    // The scheduler's fenced writes lock its state's row before repositories': a write that sets
    // the rate limit's reset takes them in the same order, so the two never deadlock.
    if (retryInSeconds !== null) await tx.raw('SELECT 1 FROM scheduler_state WHERE id = 1 FOR UPDATE');
    if (rowsOf(await tx.raw(HARVEST_LOCK, [input.repoKey])).length === 0) {
      // Removed while its Job ran (its runs went with it), or a Job naming another repository.
      const run = rowsOf(await tx.raw('SELECT 1 FROM runs WHERE job_name = ?', [input.jobName]))[0];
      return run ? ({ status: 'unknown-repo' } as const) : ({ status: 'no-run' } as const);
    }
    const row = rowsOf<HarvestRow>(
      await tx
        .raw(HARVEST_WRITE, {
          repoKey: input.repoKey,
          jobName: input.jobName,
          jobUid: input.jobUid,
          outcome: o.ok ? 'succeeded' : 'failed',
          finishedAt: input.finishedAt ?? null,
          failureClass: o.ok ? null : o.failure,
          reason: o.ok ? null : clip(o.reason),
          flagged: o.ok ? o.flagged : false,
          score: r?.score ?? 0,
          scorecardVersion: r?.scorecardVersion ?? '',
          scorecardCommit: r?.scorecardCommit ?? '',
          repoCommit: r?.commit ?? '',
          resultDate: r ? new Date(r.date) : null,
          checkSet: input.checkSet === null ? null : JSON.stringify(input.checkSet),
          raw: JSON.stringify(r?.raw ?? null),
          scored: o.ok,
          checks: JSON.stringify(checks),
          kind,
          dueAfterSuccessSeconds: secondsUntilDueAfterSuccess(s.rescoreIntervalSeconds, s.jitterSeconds, s.random),
          baseDelaySeconds: s.failureBackoffBaseSeconds,
          backoffByFailures: backoffTable(s.failureBackoffBaseSeconds, s.failureBackoffMaxSeconds),
          stuckAfterRuns: s.stuckAfterRuns ?? NEVER_STUCK,
          retryInSeconds,
          lastError: o.ok ? null : clip(`${o.failure}: ${o.reason}`),
        })
        .options(preparedAs(tx, 'posture_harvest_write')),
    )[0];
    if (!row) return { status: 'unknown-repo' } as const;
    if (row.run_id === null || row.run_id === undefined) {
      // Not pending: harvested already, or the name belongs to a finished run of another Job
      // UID; or no run of this Job is left for this repository (it was removed since).
      const byName = rowsOf<{ id: number }>(await tx.raw('SELECT id FROM runs WHERE job_name = ? AND repo_id = ?', [input.jobName, row.repo_id]))[0];
      if (!byName) return { status: 'no-run' } as const;
      return { status: 'duplicate', runId: Number(byName.id) } as const;
    }
    const scored = row.score_id !== null && row.score_id !== undefined;
    return {
      status: 'stored',
      runId: Number(row.run_id),
      scoreId: scored ? Number(row.score_id) : null,
      nextDueAt: row.next_due_at ? new Date(row.next_due_at) : null,
      latest: scored && Boolean(row.latest),
      storedAt: scored && row.stored_at ? new Date(row.stored_at) : null,
      previous: previousResultOf({
        id: row.previous_score_id,
        score: row.previous_score,
        date: row.previous_date,
        commit: row.previous_commit,
        checks: row.previous_checks,
      }),
    } as const;
  });
}

/** Runs the scheduler recorded that were never harvested (for the reconcile). */
export async function pendingRuns(db: Db, limit = 1000): Promise<RunRow[]> {
  return db<RunRow>('runs').where({ outcome: 'pending' }).orderBy('created_at').limit(limit);
}

export interface PendingRun extends RunRow {
  /** The repository's canonical name (its Jobs carry a label derived from it). */
  canonical: string;
}

/** Pending runs with their repository's name, oldest first: one scan of runs_pending_idx. */
export async function pendingRunsWithRepo(db: Db, limit: number): Promise<PendingRun[]> {
  return db('runs')
    .join('repos', 'repos.id', 'runs.repo_id')
    .where('runs.outcome', 'pending')
    .orderBy('runs.created_at')
    .limit(limit)
    .select('runs.*', 'repos.canonical') as Promise<PendingRun[]>;
}

/** Forgets a run whose Job was never created (the create was refused). */
export async function deletePendingRun(db: Db, jobName: string): Promise<void> {
  await db('runs').where({ job_name: jobName, outcome: 'pending' }).whereNotExists(db('scores').whereRaw('scores.run_id = runs.id')).delete();
}

/** The runs of each named Job (one per repository it scores). */
export async function runsByJobNames(db: Db, names: readonly string[]): Promise<Map<string, RunRow[]>> {
  const out = new Map<string, RunRow[]>();
  for (let i = 0; i < names.length; i += 1000) {
    const rows = await db<RunRow>('runs').whereIn('job_name', names.slice(i, i + 1000));
    for (const r of rows) {
      const of = out.get(r.job_name);
      if (of) of.push(r);
      else out.set(r.job_name, [r]);
    }
  }
  return out;
}

/**
 * Closes the pending runs of a Job that can never be harvested (its harvest was rejected), or the
 * one of `repoId` (a shard's Job whose repositories do not include it), without
 * holding it against the repository: the run says why, the claim is released and the
 * repository is due again after the base delay. Returns false when the run was not pending.
 */
export async function closeRun(db: Db, jobName: string, reason: string, now: Date, retrySeconds: number, repoId?: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Every repository's run of the Job (a shard's Job has several) or the one named, in id order like any other lock on runs.
    const runs = await tx<RunRow>('runs')
      .where({ job_name: jobName, outcome: 'pending', ...(repoId === undefined ? {} : { repo_id: repoId }) })
      .orderBy('id')
      .forUpdate();
    if (runs.length === 0) return false;
    for (const run of runs) {
      await tx('runs')
        .where({ id: run.id })
        .update({ outcome: 'failed', finished_at: now, failure_class: 'rejected', reason: clip(reason) });
      await tx('repos')
        .where({ id: run.repo_id, lease_owner: run.tick_slot })
        .update({
          lease_owner: null,
          lease_expires_at: null,
          claim_budget_hour: null,
          next_due_at: new Date(now.getTime() + retrySeconds * 1000),
          updated_at: now,
        });
    }
    return true;
  });
}

/** Failure classes (null: success) of the newest runs finished since `since`, newest first. */
export async function recentOutcomes(db: Db, since: Date, limit: number): Promise<Array<string | null>> {
  // The literal matches runs_finished_recent_idx's predicate (migration 005); a bound parameter
  // would keep a generic plan from using the partial index. A repository a shard never reached
  // ran nothing: it is no sample of how runs go.
  const rows = await db<RunRow>('runs')
    .whereRaw("outcome <> 'pending'")
    .andWhereRaw(`failure_class IS DISTINCT FROM '${NOT_REACHED}'`)
    .andWhere('finished_at', '>=', since)
    .orderBy('finished_at', 'desc')
    .limit(limit)
    .select('failure_class');
  return rows.map((r) => r.failure_class);
}

/**
 * Records the runs a tick is about to create Jobs for, in one statement (idempotent by job name
 * and repository). Returns the repository ids that still exist: one removed since it was claimed
 * is skipped (left out of its Job), not an error for the batch (its row is locked against removal
 * until the caller's transaction ends).
 */
export async function recordRuns(db: Db, runs: ReadonlyArray<{ repoId: number; jobName: string; tickSlot: string; createdAt: Date }>): Promise<Set<number>> {
  if (runs.length === 0) return new Set();
  const res = await db.raw(
    `WITH u AS (
       SELECT u.repo_id, u.job_name, u.tick_slot, u.created_at
         FROM unnest(:repoIds::bigint[], :jobNames::text[], :tickSlots::text[], :createdAts::timestamptz[]) AS u(repo_id, job_name, tick_slot, created_at)
         JOIN repos r ON r.id = u.repo_id
          FOR KEY SHARE OF r
     ), ins AS (
       INSERT INTO runs (repo_id, job_name, tick_slot, created_at)
       SELECT repo_id, job_name, tick_slot, created_at FROM u
       ON CONFLICT (job_name, repo_id) DO UPDATE SET tick_slot = EXCLUDED.tick_slot WHERE runs.outcome = 'pending'
     )
     SELECT repo_id FROM u`,
    {
      repoIds: runs.map((r) => r.repoId),
      jobNames: runs.map((r) => r.jobName),
      tickSlots: runs.map((r) => r.tickSlot),
      createdAts: runs.map((r) => r.createdAt),
    },
  );
  return new Set(rowsOf<{ repo_id: number | string }>(res).map((r) => Number(r.repo_id)));
}

/** Sets the Job UIDs the API server answered, in one statement. */
export async function setRunJobUids(db: Db, pairs: ReadonlyArray<{ jobName: string; jobUid: string }>): Promise<void> {
  if (pairs.length === 0) return;
  await db.raw(
    `UPDATE runs SET job_uid = u.job_uid
       FROM unnest(:jobNames::text[], :jobUids::text[]) AS u(job_name, job_uid)
      WHERE runs.job_name = u.job_name AND runs.job_uid IS NULL`,
    { jobNames: pairs.map((p) => p.jobName), jobUids: pairs.map((p) => p.jobUid) },
  );
}

/** A run as the repository page lists it. */
export interface RunSummary {
  id: number;
  createdAt: Date;
  finishedAt: Date | null;
  outcome: RunRow['outcome'];
  failureClass: string | null;
  reason: string | null;
}

/** A repository's newest runs, newest first. */
export async function recentRunsOf(db: Db, repoId: number, limit: number): Promise<RunSummary[]> {
  const res = await db.raw(
    `SELECT id, created_at, finished_at, outcome, failure_class, reason FROM runs WHERE repo_id = :repoId ORDER BY id DESC LIMIT :limit`,
    { repoId, limit },
  );
  return rowsOf<Pick<RunRow, 'id' | 'created_at' | 'finished_at' | 'outcome' | 'failure_class' | 'reason'>>(res).map((x) => ({
    id: Number(x.id),
    createdAt: new Date(x.created_at),
    finishedAt: x.finished_at ? new Date(x.finished_at) : null,
    outcome: x.outcome,
    failureClass: x.failure_class,
    reason: x.reason,
  }));
}

/** Job names of the runs whose name starts with `prefix` (the demo's, which it stored before). */
export async function runJobNamesStartingWith(db: Db, prefix: string): Promise<string[]> {
  const pattern = `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
  return (await db('runs').where('job_name', 'like', pattern).pluck('job_name')) as string[];
}
