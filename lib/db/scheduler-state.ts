// The scheduler's durable state: tick dedup by cron slot, the tick backoff, the GitHub budget.
import { budgetHour } from '../cadence/cadence.ts';
import type { Db } from './connect.ts';
import { rowsOf } from './rows.ts';

export type TickStart = { status: 'new' } | { status: 'finished'; summary: unknown } | { status: 'resumed' };

/** Registers a tick's slot. A slot seen before is either finished (do nothing) or resumed. */
export async function startTick(db: Db, slot: string, now: Date = new Date()): Promise<TickStart> {
  const res = await db.raw(`INSERT INTO ticks (slot, started_at) VALUES (?, ?) ON CONFLICT (slot) DO NOTHING RETURNING slot`, [slot, now]);
  if (rowsOf(res).length > 0) return { status: 'new' };
  const row = await db('ticks').where({ slot }).first();
  if (row?.finished_at) return { status: 'finished', summary: row.summary };
  return { status: 'resumed' };
}

export async function finishTick(db: Db, slot: string, summary: unknown, now: Date = new Date()): Promise<void> {
  await db('ticks')
    .where({ slot })
    .update({ finished_at: now, summary: JSON.stringify(summary) });
}

export interface SchedulerState {
  notBefore: Date | null;
  backoffSeconds: number;
  /** When GitHub's rate limit resets, as the last rate-limited run's log said; no Job starts before. */
  githubWaitUntil: Date | null;
}

export async function getSchedulerState(db: Db): Promise<SchedulerState> {
  const row = await db('scheduler_state').where({ id: 1 }).first();
  return {
    notBefore: row?.not_before ? new Date(row.not_before) : null,
    backoffSeconds: row?.backoff_seconds ?? 0,
    githubWaitUntil: row?.github_wait_until ? new Date(row.github_wait_until) : null,
  };
}

export async function setTickBackoff(db: Db, backoffSeconds: number, now: Date = new Date()): Promise<void> {
  await db('scheduler_state')
    .where({ id: 1 })
    .update({ backoff_seconds: backoffSeconds, not_before: backoffSeconds > 0 ? new Date(now.getTime() + backoffSeconds * 1000) : null, updated_at: now });
}

/**
 * Takes up to `wanted` runs from this hour's budget of `perHour` in one statement; returns how
 * many were granted. Concurrent ticks cannot overspend: the row is locked while it is updated.
 */
export async function takeBudget(db: Db, wanted: number, perHour: number, now: Date = new Date()): Promise<number> {
  if (wanted <= 0) return 0;
  if (!Number.isFinite(perHour)) return wanted;
  const hour = budgetHour(now);
  await db.raw(`INSERT INTO budget (hour, runs_started) VALUES (?, 0) ON CONFLICT (hour) DO NOTHING`, [hour]);
  const res = await db.raw(
    `UPDATE budget b SET runs_started = b.runs_started + g.granted
       FROM (SELECT hour, LEAST(:wanted::int, GREATEST(0, :perHour::int - runs_started)) AS granted FROM budget WHERE hour = :hour FOR UPDATE) g
      WHERE b.hour = g.hour
     RETURNING g.granted`,
    { wanted, perHour, hour },
  );
  return Number(rowsOf<{ granted: number }>(res)[0]?.granted ?? 0);
}

/** Gives back budget taken for runs that were not started after all, to the hour it was taken from. */
export async function refundBudget(db: Db, count: number, now: Date = new Date(), hour: Date = budgetHour(now)): Promise<void> {
  if (count <= 0) return;
  await db('budget')
    .where({ hour })
    .update({ runs_started: db.raw('GREATEST(0, runs_started - ?)', [count]) });
}

export async function budgetUsed(db: Db, now: Date = new Date()): Promise<number> {
  const row = await db('budget')
    .where({ hour: budgetHour(now) })
    .first();
  return row ? Number(row.runs_started) : 0;
}

/**
 * The lease that serialises counting and creating across replicas. Its owner is a token unique
 * to one holder (never the slot: two deliveries of one slot are two holders), it is short and
 * renewed while the holder works, so a dead holder's lease ends within `seconds`; each write it
 * guards renews it in the same transaction (renewTickLockUntil, lib/scheduler/lease.ts): one that
 * lost it writes nothing more.
 */
export async function acquireTickLock(db: Db, token: string, seconds: number, now: Date = new Date()): Promise<boolean> {
  const n = await db('scheduler_state')
    .where({ id: 1 })
    .andWhere((q) => q.whereNull('tick_lock_until').orWhere('tick_lock_until', '<=', now))
    .update({ tick_lock_owner: token, tick_lock_until: new Date(now.getTime() + seconds * 1000) });
  return n > 0;
}

/** Extends the lease if `token` still holds it; false: it was lost (expired and taken, or released). */
export async function renewTickLock(db: Db, token: string, seconds: number, now: Date = new Date()): Promise<boolean> {
  return (await renewTickLockUntil(db, token, seconds, now)) !== null;
}

/**
 * Extends the lease if `token` still holds it and returns its new end; null: it was lost. In a
 * transaction, the row stays locked until it ends, so no other tick can take the lease while
 * the writes it guards are made (the fence).
 */
export async function renewTickLockUntil(db: Db, token: string, seconds: number, now: Date): Promise<Date | null> {
  const until = new Date(now.getTime() + seconds * 1000);
  const res = await db.raw(
    `UPDATE scheduler_state SET tick_lock_until = :until WHERE id = 1 AND tick_lock_owner = :token AND tick_lock_until > :now RETURNING tick_lock_until`,
    { until, token, now },
  );
  const row = rowsOf<{ tick_lock_until: Date }>(res)[0];
  return row ? new Date(row.tick_lock_until) : null;
}

/** The database's clock, the one clock of every time decision shared between processes. */
export async function databaseNow(db: Db): Promise<Date> {
  const row = rowsOf<{ now: Date | string }>(await db.raw('SELECT clock_timestamp() AS now'))[0];
  return new Date(row!.now);
}

/** Releases the lease only if `token` holds it. */
export async function releaseTickLock(db: Db, token: string): Promise<void> {
  await db('scheduler_state').where({ id: 1, tick_lock_owner: token }).update({ tick_lock_owner: null, tick_lock_until: null });
}
