// The one clock a tick reads. Every time decision a tick makes (the lease, due times and
// backoffs, the create and reconcile time limits) asks it, so a test moves time for all of them
// at once. The scheduler's handler chooses it; nothing in lib/scheduler reads the time any
// other way. A clock backed by the database's now() fits the same type (read at the tick's
// start, advanced by a monotonic timer).
export type Clock = () => Date;

/** The system's clock: the default, chosen at the edge (the scheduler's handler). */
export const systemClock: Clock = () => new Date();
