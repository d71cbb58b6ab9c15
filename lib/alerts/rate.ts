// Rate limits of alerts, pure. Per repository: an update (a comment, a further message) within
// `repoIntervalMs` of the repository's last message is suppressed (recorded, not sent: the next
// one carries the news); an open or a close always goes. Per target: at most `limit` deliveries
// in any `windowMs`; a delivery over it waits for its turn (never dropped).
import type { AlertAction } from './decide.ts';

export function repoAllows(action: AlertAction, lastSentAt: Date | null, now: Date, repoIntervalMs: number): boolean {
  if (action !== 'update' || lastSentAt === null) return true;
  return now.getTime() - lastSentAt.getTime() >= repoIntervalMs;
}

/** Milliseconds to wait before the next delivery to a target, given its recent send times (ms). */
export function targetWait(sentAt: readonly number[], now: number, limit: number, windowMs: number): number {
  const recent = sentAt.filter((t) => t > now - windowMs).sort((a, b) => a - b);
  if (recent.length < limit) return 0;
  // The oldest send in the window must leave it before another fits.
  return recent[recent.length - limit] + windowMs - now;
}

/** A per-target limiter over targetWait: take() resolves when a delivery may go. */
export class TargetLimiter {
  private readonly sent = new Map<string, number[]>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  constructor(limit: number, windowMs: number, now: () => number = Date.now) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.now = now;
  }
  async take(target: string): Promise<number> {
    let waited = 0;
    for (;;) {
      const list = (this.sent.get(target) ?? []).filter((t) => t > this.now() - this.windowMs);
      const wait = targetWait(list, this.now(), this.limit, this.windowMs);
      if (wait <= 0) {
        list.push(this.now());
        this.sent.set(target, list);
        return waited;
      }
      waited += wait;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
