// Claiming due repositories. The lease is folded into next_due_at: a claim pushes the row's
// due time to the lease's expiry, so a crashed tick's repos simply come due again when the
// lease ends, and the claim reads repos_claim_idx from the front of each priority's range.
import { budgetHour } from '../cadence/cadence.ts';
import type { Db } from './connect.ts';
import { rowsOf } from './rows.ts';
import { refundBudget, takeBudget } from './scheduler-state.ts';

export interface ClaimedRepo {
  id: number;
  key: string;
  canonical: string;
  priority: number;
  /** The due time this claim serves: with the tick slot it names the Job. */
  claimedDueAt: Date;
  leaseExpiresAt: Date;
}

interface ClaimRow {
  id: number;
  key: string;
  canonical: string;
  priority: number;
  claimed_due_at: Date;
  lease_expires_at: Date;
}

function toClaim(r: ClaimRow): ClaimedRepo {
  return {
    id: Number(r.id),
    key: r.key,
    canonical: r.canonical,
    priority: r.priority,
    claimedDueAt: new Date(r.claimed_due_at),
    leaseExpiresAt: new Date(r.lease_expires_at),
  };
}

/**
 * Claims up to `limit` due repositories (priority, then oldest due) in one statement.
 * Concurrent callers never get the same row (FOR UPDATE SKIP LOCKED).
 */
export async function claimDueRepos(
  db: Db,
  options: { owner: string; limit: number; leaseSeconds: number; now?: Date; budgetHour?: Date | null },
): Promise<ClaimedRepo[]> {
  if (options.limit <= 0) return [];
  const now = options.now ?? new Date();
  const expires = new Date(now.getTime() + options.leaseSeconds * 1000);
  // A plain "ORDER BY priority DESC, next_due_at" walk would step over every not-yet-due row of
  // the higher priorities before reaching a due row of a lower one, more with every row. Instead,
  // skip from one priority to the next (one index descent each) and take the due rows of each
  // priority from the front of its range, skipping rows another claim holds (as the whole
  // claim does); the claim takes the best `limit` of those candidates.
  const res = await db.raw(
    `WITH RECURSIVE prio AS (
       (SELECT priority FROM repos ORDER BY priority DESC LIMIT 1)
       UNION ALL
       SELECT (SELECT r.priority FROM repos r WHERE r.priority < prio.priority ORDER BY r.priority DESC LIMIT 1)
         FROM prio WHERE prio.priority IS NOT NULL
     ),
     candidates AS (
       SELECT c.id FROM prio
       CROSS JOIN LATERAL (
         SELECT r.id FROM repos r
          WHERE r.priority = prio.priority AND r.next_due_at <= :now
          ORDER BY r.next_due_at
          LIMIT :limit
          FOR UPDATE SKIP LOCKED
       ) c
       WHERE prio.priority IS NOT NULL
     ),
     due AS (
       SELECT id FROM repos
       WHERE id IN (SELECT id FROM candidates) AND next_due_at <= :now
       ORDER BY priority DESC, next_due_at
       LIMIT :limit
       FOR UPDATE SKIP LOCKED
     )
     UPDATE repos r
        SET lease_owner = :owner, lease_expires_at = :expires, claimed_due_at = r.next_due_at, next_due_at = :expires, updated_at = :now,
            claim_budget_hour = :budgetHour
       FROM due
      WHERE r.id = due.id
     RETURNING r.id, r.key, r.canonical, r.priority, r.claimed_due_at, r.lease_expires_at`,
    { now, limit: options.limit, owner: options.owner, expires, budgetHour: options.budgetHour ?? null },
  );
  return rowsOf<ClaimRow>(res)
    .map(toClaim)
    .sort((a, b) => b.priority - a.priority || a.claimedDueAt.getTime() - b.claimedDueAt.getTime() || a.id - b.id);
}

/**
 * Takes budget and claims in one transaction, so a crash between the two spends nothing, and
 * what was granted but found no due repository is given back at once.
 */
export async function claimWithBudget(
  db: Db,
  options: { owner: string; wanted: number; perHour: number; leaseSeconds: number; now: Date },
): Promise<{ granted: number; claims: ClaimedRepo[] }> {
  if (options.wanted <= 0) return { granted: 0, claims: [] };
  return db.transaction(async (tx) => {
    const granted = await takeBudget(tx, options.wanted, options.perHour, options.now);
    const hour = Number.isFinite(options.perHour) ? budgetHour(options.now) : null;
    const claims = await claimDueRepos(tx, { owner: options.owner, limit: granted, leaseSeconds: options.leaseSeconds, now: options.now, budgetHour: hour });
    if (hour) await refundBudget(tx, granted - claims.length, options.now, hour);
    return { granted, claims };
  });
}

/**
 * Repositories a tick claimed (for resuming a tick delivered twice), in claim order, each with
 * the Job its run was recorded under if the tick got that far (so a resumed tick sends the same
 * Jobs again, which answer 409, never a second Job for one repository).
 */
export async function claimsOf(db: Db, owner: string, now: Date = new Date()): Promise<Array<ClaimedRepo & { recordedJob?: string }>> {
  const res = await db.raw(
    `SELECT r.id, r.key, r.canonical, r.priority, r.claimed_due_at, r.lease_expires_at,
            (SELECT x.job_name FROM runs x WHERE x.repo_id = r.id AND x.tick_slot = :owner AND x.outcome = 'pending' ORDER BY x.id DESC LIMIT 1) AS recorded_job
       FROM repos r
      WHERE r.lease_owner = :owner AND r.lease_expires_at > :now`,
    { owner, now },
  );
  return rowsOf<ClaimRow & { recorded_job: string | null }>(res)
    .map((r) => ({ ...toClaim(r), ...(r.recorded_job ? { recordedJob: r.recorded_job } : {}) }))
    .sort((a, b) => b.priority - a.priority || a.claimedDueAt.getTime() - b.claimedDueAt.getTime() || a.id - b.id);
}

/**
 * Gives a claimed repository back and records why. Only the claim's owner can release it.
 * Due again at `dueAt` (default now); `keepWindow` makes it due at the window it was claimed
 * for, so the retry names the same Job (a Job that exists after all answers 409, never a
 * second Job). `refund` gives the run back to the budget hour the claim was paid from: use it
 * whenever no Job was started for the claim.
 */
export async function releaseClaim(
  db: Db,
  options: { repoId: number; owner: string; dueAt?: Date; keepWindow?: boolean; error?: string; now?: Date; refund?: boolean },
): Promise<boolean> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    const held = await tx('repos').where({ id: options.repoId, lease_owner: options.owner }).forUpdate().first('claim_budget_hour');
    if (!held) return false;
    await tx('repos')
      .where({ id: options.repoId })
      .update({
        lease_owner: null,
        lease_expires_at: null,
        next_due_at: options.keepWindow ? tx.raw('COALESCE(claimed_due_at, ?)', [options.dueAt ?? now]) : (options.dueAt ?? now),
        last_error: options.error ?? tx.raw('last_error'),
        claim_budget_hour: null,
        updated_at: now,
      });
    const hour = held.claim_budget_hour as Date | null;
    if (options.refund && hour) await refundBudget(tx, 1, now, new Date(hour));
    return true;
  });
}

/**
 * Claims held by other ticks that have no run at all: their tick died (or lost its lock)
 * between claiming and recording. Only meaningful while holding the tick lock, when no live
 * tick can be between those two steps.
 */
export async function orphanedClaims(db: Db, ownSlot: string, now: Date = new Date()): Promise<Array<{ id: number; owner: string }>> {
  const rows = await db('repos as r')
    .whereNotNull('r.lease_owner')
    .andWhereNot('r.lease_owner', ownSlot)
    .andWhere('r.lease_expires_at', '>', now)
    .whereNotExists(db('runs').whereRaw("runs.repo_id = r.id AND runs.outcome = 'pending'"))
    .select('r.id', 'r.lease_owner');
  return (rows as Array<{ id: number; lease_owner: string }>).map((r) => ({ id: Number(r.id), owner: r.lease_owner }));
}

/** Clears lease fields of leases that have expired (the rows are already due again). */
export async function releaseExpiredLeases(db: Db, now: Date = new Date()): Promise<number> {
  return db('repos')
    .whereNotNull('lease_owner')
    .andWhere('lease_expires_at', '<=', now)
    .update({ lease_owner: null, lease_expires_at: null, claim_budget_hour: null, updated_at: now });
}
