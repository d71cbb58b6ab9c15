// The tick's lease (the tick lock): counting and creating happen under it. Its owner is a token
// unique to one call, renewed while the tick works and checked before every batch of creates:
// a tick that stalled past its lease (a GC pause, a request Knative gave up on) finds it lost
// and stops instead of creating from a stale count. A dead holder's lease ends within
// LOCK_SECONDS.
import type { Config } from '../config/index.ts';
import { acquireTickLock, type Db, releaseTickLock, renewTickLock } from '../db/index.ts';
import type { Clock } from './clock.ts';

/** The lease on counting and creating; renewed every LOCK_SECONDS / 3. */
export const LOCK_SECONDS = 15;

/** The lease's length: never longer than a claim's lease, so it never blocks longer than a claim would. */
export function lockSeconds(leaseSeconds: number): number {
  return Math.min(LOCK_SECONDS, leaseSeconds);
}

export interface LeaseDeps {
  db: Db;
  config: Pick<Config, 'leaseSeconds'>;
  now: Clock;
  /** How often the lease is renewed while a tick works (tests stop it to play a stalled process). */
  lockRenewMs?: number;
}

/** The lease, held: `fence()` renews it and says whether this tick still holds it. */
export interface HeldLease {
  fence(): Promise<boolean>;
  /** Stops renewing and gives the lease up, if this tick still holds it. */
  release(): Promise<void>;
}

/** Takes the lease for `token` and keeps renewing it; undefined when another tick holds it. */
export async function takeTickLease(deps: LeaseDeps, token: string): Promise<HeldLease | undefined> {
  const { db, now } = deps;
  const seconds = lockSeconds(deps.config.leaseSeconds);
  if (!(await acquireTickLock(db, token, seconds, now()))) return undefined;
  let lost = false;
  let inFlight: Promise<boolean> | undefined;
  const renewOnce = async () => {
    try {
      if (!(await renewTickLock(db, token, seconds, now()))) lost = true;
    } catch {
      // The database is unreachable: so is every create's run record; the next fence decides.
    }
    return !lost;
  };
  // One renewal at a time: a slow database must not pile them up.
  const renew = () => {
    if (lost) return Promise.resolve(false);
    inFlight ??= renewOnce().finally(() => (inFlight = undefined));
    return inFlight;
  };
  const timer = setInterval(() => void renew(), deps.lockRenewMs ?? (seconds * 1000) / 3);
  timer.unref();
  return {
    fence: renew,
    release: async () => {
      clearInterval(timer);
      await releaseTickLock(db, token);
    },
  };
}
