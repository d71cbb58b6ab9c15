// The one clock a tick reads. Every time decision a tick makes (the lease, in-flight ages, due
// times and backoffs, the budget's hour, the breaker's window, the create and reconcile time
// limits) asks it, so a test moves time for all of them at once. In production it is the
// database's clock (databaseClock): replicas whose own clocks disagree still agree on every
// lease and hour, and a process's clock only measures its own durations (a monotonic timer).
import { type Db, databaseNow } from '../db/index.ts';

export type Clock = () => Date;

/** This process's monotonic timer, in ms: for its own durations only (a wrong wall clock does not move it). */
export const monotonicMs = (): number => performance.now();

/**
 * The database's clock, read once and advanced by this process's monotonic timer (which a wrong
 * wall clock does not move): what the scheduler's handler uses for each tick.
 */
export async function databaseClock(db: Db, timer: () => number = monotonicMs): Promise<Clock> {
  const t0 = timer();
  const at = (await databaseNow(db)).getTime();
  // The read took some time: the database's now() is nearer its end than its start.
  const t1 = timer();
  const base = at + (t1 - t0) / 2;
  return () => new Date(base + (timer() - t1));
}
