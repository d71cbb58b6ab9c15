// The tick's lease (the tick lock): counting and creating happen under it. Its owner is a token
// unique to one call, renewed while the tick works. It is a fence, not a hint: every write it
// guards (claiming, recording runs, releasing claims, settling creates) is made in one
// transaction with a renewal of the lease, which locks its row, so a tick that lost the lease
// writes nothing and no other tick can take it while such a write is being made. A renewal that
// fails or does not answer in time counts as lost: the tick stops creating. A dead holder's
// lease ends within LOCK_SECONDS of the database's clock (the tick's clock, clock.ts).
import type { Config } from '../config/index.ts';
import { acquireTickLock, type Db, releaseTickLock, renewTickLockUntil } from '../db/index.ts';
import { type Clock, monotonicMs } from './clock.ts';

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
  /** How long a renewal may take before the lease counts as lost (default: a third of the lease). */
  renewTimeoutMs?: number;
}

/** What a fenced write returned, or that the lease was lost and nothing was written. */
export type Fenced<T> = { held: true; value: T } | { held: false };

/** The lease, held. */
export interface HeldLease {
  /**
   * Runs `write` in one transaction with a renewal of the lease; when the lease is lost (or the
   * renewal fails) nothing is written and every later call answers not held.
   */
  fenced<T>(write: (tx: Db) => Promise<T>): Promise<Fenced<T>>;
  /** Renews the lease and says whether this tick still holds it (for steps that write nothing). */
  fence(): Promise<boolean>;
  /** When the lease ends as last renewed, by the tick's clock: no request is sent after it. */
  until(): Date;
  /** Stops renewing and gives the lease up, if this tick still holds it. */
  release(): Promise<void>;
}

class RenewTimeout extends Error {}

/** Takes the lease for `token` and keeps renewing it; undefined when another tick holds it. */
export async function takeTickLease(deps: LeaseDeps, token: string): Promise<HeldLease | undefined> {
  const { db, now } = deps;
  const seconds = lockSeconds(deps.config.leaseSeconds);
  const takenAt = now();
  if (!(await acquireTickLock(db, token, seconds, takenAt))) return undefined;
  let until = new Date(takenAt.getTime() + seconds * 1000);
  let lost = false;
  const renewTimeoutMs = deps.renewTimeoutMs ?? (seconds * 1000) / 3;
  // One transaction: the renewal locks the lease's row until the write commits.
  const fenced = async <T>(write: (tx: Db) => Promise<T>): Promise<Fenced<T>> => {
    if (lost) return { held: false };
    let renewed = false;
    try {
      return await db.transaction(async (tx) => {
        const at = now();
        const started = monotonicMs();
        const next = await withTimeout(renewTickLockUntil(tx, token, seconds, at), renewTimeoutMs);
        renewed = true;
        // Late is lost, even when the answer came (a database in this process cannot be timed out).
        if (next === null || monotonicMs() - started > renewTimeoutMs || now().getTime() >= next.getTime()) {
          lost = true;
          return { held: false } as const;
        }
        const value = await write(tx);
        until = next;
        return { held: true, value } as const;
      });
    } catch (err) {
      // A renewal that failed or did not answer: whether the lease is still ours is unknown, so it is not.
      if (!renewed) {
        lost = true;
        return { held: false };
      }
      throw err;
    }
  };
  let inFlight: Promise<boolean> | undefined;
  // One renewal at a time: a slow database must not pile them up.
  const fence = () => {
    if (lost) return Promise.resolve(false);
    inFlight ??= fenced(async () => true)
      .then((f) => f.held)
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
  const timer = setInterval(() => void fence(), deps.lockRenewMs ?? (seconds * 1000) / 3);
  timer.unref();
  return {
    fenced,
    fence,
    until: () => until,
    release: async () => {
      clearInterval(timer);
      lost = true;
      await releaseTickLock(db, token);
    },
  };
}

/** `p`, or a RenewTimeout after `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RenewTimeout(`the lease's renewal took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
