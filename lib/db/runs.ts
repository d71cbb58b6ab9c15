// Runs (one per Job) and the harvest: the run, the score, its checks and the repository's next
// due time are written in one transaction, keyed by the Job's UID so a duplicate or late event
// changes nothing.
import { failureBackoffSeconds, nextDueAfterSuccess } from '../scheduler/policy.ts';
import type { NormalizedResult } from '../scorecard/classify.ts';
import type { Db } from './connect.ts';

/** What the harvester learned from a finished Job: a normalized result, or a failure class. */
export type HarvestOutcome =
  | { ok: true; result: NormalizedResult; flagged: boolean }
  | { ok: false; failure: string; reason: string };

export interface HarvestInput {
  repoKey: string;
  jobName: string;
  jobUid: string;
  tickSlot?: string | null;
  finishedAt: Date;
  checkSet: string[] | null;
  outcome: HarvestOutcome;
  schedule: {
    rescoreIntervalSeconds: number;
    jitterSeconds: number;
    failureBackoffBaseSeconds: number;
    failureBackoffMaxSeconds: number;
    /** In [0, 1): the jitter's share (Math.random in production, fixed in tests). */
    random: number;
  };
}

export type HarvestStored =
  | { status: 'stored'; runId: number; scoreId: number | null; nextDueAt: Date | null }
  | { status: 'duplicate'; runId: number }
  | { status: 'unknown-repo' };

/** Records that the scheduler created a Job (idempotent by job name). */
export async function recordRun(
  db: Db,
  run: { repoId: number; jobName: string; jobUid?: string | null; tickSlot?: string | null; createdAt?: Date },
): Promise<void> {
  await db.raw(
    `INSERT INTO runs (repo_id, job_name, job_uid, tick_slot, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (job_name) DO UPDATE SET job_uid = COALESCE(runs.job_uid, EXCLUDED.job_uid)`,
    [run.repoId, run.jobName, run.jobUid ?? null, run.tickSlot ?? null, run.createdAt ?? new Date()],
  );
}

export async function runByJobName(db: Db, jobName: string): Promise<RunRow | undefined> {
  return db<RunRow>('runs').where({ job_name: jobName }).first();
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
/** Failures stored with their cause but never held against the repository: nothing it did caused them. */
const NOT_THE_REPOSITORYS = new Set<string>([INFRASTRUCTURE, JOB_MISSING]);

const REASON_MAX = 2000;
const clip = (s: string, n = REASON_MAX) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** Stores a finished Job's outcome; a second call for the same Job UID is a no-op. */
export async function storeHarvest(db: Db, input: HarvestInput): Promise<HarvestStored> {
  return db.transaction(async (tx) => {
    const repo = await tx('repos').where({ key: input.repoKey }).forUpdate().first();
    if (!repo) return { status: 'unknown-repo' } as const;

    const already = await tx<RunRow>('runs').where({ job_uid: input.jobUid }).first();
    if (already && already.outcome !== 'pending') return { status: 'duplicate', runId: Number(already.id) } as const;

    const ok = input.outcome.ok;
    const failure = input.outcome.ok ? null : input.outcome;
    const fields = {
      outcome: ok ? 'succeeded' : 'failed',
      finished_at: input.finishedAt,
      failure_class: failure ? failure.failure : null,
      reason: failure ? clip(failure.reason) : null,
      flagged: input.outcome.ok ? input.outcome.flagged : false,
    };
    const upserted = await tx.raw(
      `INSERT INTO runs (repo_id, job_name, job_uid, tick_slot, outcome, finished_at, failure_class, reason, flagged)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_name) DO UPDATE
         SET job_uid = EXCLUDED.job_uid, outcome = EXCLUDED.outcome, finished_at = EXCLUDED.finished_at,
             failure_class = EXCLUDED.failure_class, reason = EXCLUDED.reason, flagged = EXCLUDED.flagged
       WHERE runs.outcome = 'pending' AND (runs.job_uid IS NULL OR runs.job_uid = EXCLUDED.job_uid)
       RETURNING id, tick_slot`,
      [repo.id, input.jobName, input.jobUid, input.tickSlot ?? null, fields.outcome, fields.finished_at, fields.failure_class, fields.reason, fields.flagged],
    );
    const runRow = upserted.rows?.[0] as { id: number; tick_slot: string | null } | undefined;
    if (!runRow) {
      // The name belongs to a finished run of another Job UID: a name reused after deletion.
      const byName = await tx<RunRow>('runs').where({ job_name: input.jobName }).first();
      return { status: 'duplicate', runId: Number(byName?.id ?? 0) } as const;
    }
    const runId = Number(runRow.id);

    let scoreId: number | null = null;
    if (input.outcome.ok) {
      const r = input.outcome.result;
      const [s] = await tx('scores')
        .insert({
          repo_id: repo.id,
          run_id: runId,
          score: r.score,
          scorecard_version: r.scorecardVersion,
          scorecard_commit: r.scorecardCommit,
          repo_commit: r.commit,
          result_date: new Date(r.date),
          check_set: input.checkSet === null ? null : JSON.stringify(input.checkSet),
          raw: JSON.stringify(r.raw),
        })
        .returning('id');
      scoreId = Number((s as { id: number }).id ?? s);
      if (r.checks.length > 0) {
        await tx('checks').insert(
          r.checks.map((c) => ({
            score_id: scoreId,
            name: c.name,
            score: c.score,
            reason: c.reason,
            details: c.details === null ? null : JSON.stringify(c.details),
            documentation_url: c.documentation?.url ?? null,
            documentation_short: c.documentation?.short ?? null,
            internal_error: c.reason.startsWith('internal error:'),
          })),
        );
      }
    }

    // Only the newest run moves the schedule, and never while another tick holds the repo.
    const newest = repo.last_finished_at === null || new Date(repo.last_finished_at) <= input.finishedAt;
    const heldByOther = repo.lease_owner !== null && repo.lease_owner !== runRow.tick_slot && new Date(repo.lease_expires_at) > new Date();
    let nextDueAt: Date | null = null;
    if (newest && !heldByOther) {
      const s = input.schedule;
      // The infrastructure's failure (or a Job that vanished) is not the repository's: retried
      // after the base delay, its failure count and last error untouched.
      const infrastructure = !input.outcome.ok && NOT_THE_REPOSITORYS.has(input.outcome.failure);
      const failures = input.outcome.ok ? 0 : infrastructure ? repo.consecutive_failures : repo.consecutive_failures + 1;
      nextDueAt = input.outcome.ok
        ? nextDueAfterSuccess(input.finishedAt, s.rescoreIntervalSeconds, s.jitterSeconds, s.random)
        : infrastructure
          ? new Date(input.finishedAt.getTime() + s.failureBackoffBaseSeconds * 1000)
          : new Date(input.finishedAt.getTime() + failureBackoffSeconds(failures, s.failureBackoffBaseSeconds, s.failureBackoffMaxSeconds) * 1000);
      await tx('repos')
        .where({ id: repo.id })
        .update({
          next_due_at: nextDueAt,
          consecutive_failures: failures,
          last_error: input.outcome.ok ? null : infrastructure ? tx.raw('last_error') : clip(`${input.outcome.failure}: ${input.outcome.reason}`),
          last_finished_at: input.finishedAt,
          lease_owner: null,
          lease_expires_at: null,
          claim_budget_hour: null,
          updated_at: new Date(),
        });
    }
    return { status: 'stored', runId, scoreId, nextDueAt } as const;
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

export async function runsByJobNames(db: Db, names: readonly string[]): Promise<Map<string, RunRow>> {
  const out = new Map<string, RunRow>();
  for (let i = 0; i < names.length; i += 1000) {
    const rows = await db<RunRow>('runs').whereIn('job_name', names.slice(i, i + 1000));
    for (const r of rows) out.set(r.job_name, r);
  }
  return out;
}

/**
 * Closes a pending run whose Job can never be harvested (its harvest was rejected), without
 * holding it against the repository: the run says why, the claim is released and the
 * repository is due again after the base delay. Returns false when the run was not pending.
 */
export async function closeRun(db: Db, jobName: string, reason: string, now: Date, retrySeconds: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const run = await tx<RunRow>('runs').where({ job_name: jobName, outcome: 'pending' }).forUpdate().first();
    if (!run) return false;
    await tx('runs').where({ id: run.id }).update({ outcome: 'failed', finished_at: now, failure_class: 'rejected', reason: clip(reason) });
    await tx('repos')
      .where({ id: run.repo_id, lease_owner: run.tick_slot })
      .update({ lease_owner: null, lease_expires_at: null, claim_budget_hour: null, next_due_at: new Date(now.getTime() + retrySeconds * 1000), updated_at: now });
    return true;
  });
}

/** Failure classes (null: success) of the newest runs finished since `since`, newest first. */
export async function recentOutcomes(db: Db, since: Date, limit: number): Promise<Array<string | null>> {
  // The literal matches runs_finished_recent_idx's predicate (migration 005); a bound parameter
  // would keep a generic plan from using the partial index.
  const rows = await db<RunRow>('runs').whereRaw("outcome <> 'pending'").andWhere('finished_at', '>=', since).orderBy('finished_at', 'desc').limit(limit).select('failure_class');
  return rows.map((r) => r.failure_class);
}

/** Records the runs a tick is about to create Jobs for, in one statement (idempotent by job name). */
export async function recordRuns(db: Db, runs: ReadonlyArray<{ repoId: number; jobName: string; tickSlot: string; createdAt: Date }>): Promise<void> {
  if (runs.length === 0) return;
  await db.raw(
    `INSERT INTO runs (repo_id, job_name, tick_slot, created_at)
     SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::timestamptz[])
     ON CONFLICT (job_name) DO UPDATE SET tick_slot = EXCLUDED.tick_slot WHERE runs.outcome = 'pending'`,
    [runs.map((r) => r.repoId), runs.map((r) => r.jobName), runs.map((r) => r.tickSlot), runs.map((r) => r.createdAt)],
  );
}

/** Sets the Job UIDs the API server answered, in one statement. */
export async function setRunJobUids(db: Db, pairs: ReadonlyArray<{ jobName: string; jobUid: string }>): Promise<void> {
  if (pairs.length === 0) return;
  await db.raw(
    `UPDATE runs SET job_uid = u.job_uid
       FROM unnest(?::text[], ?::text[]) AS u(job_name, job_uid)
      WHERE runs.job_name = u.job_name AND runs.job_uid IS NULL`,
    [pairs.map((p) => p.jobName), pairs.map((p) => p.jobUid)],
  );
}
