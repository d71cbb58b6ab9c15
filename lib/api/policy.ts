// The API's view of the Scorecard policies: which set is in force (its digest selects the stored
// verdicts the list, the exports and the dashboard read) and the sweep that judges every
// repository whose verdict is missing or of another set: at start, when the policy file changes,
// and every SWEEP_MS (repositories added since, results whose harvester could not judge them).
import type { Db } from '../db/connect.ts';
import type { Logger } from '../log/index.ts';
import type { PolicySource } from '../policy/file.ts';
import { judgeStale } from '../policy/judge.ts';

export const SWEEP_MS = 60_000;

export class ApiPolicies {
  readonly source: PolicySource;
  readonly #db: Db;
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #lastSweep: { digest: string; judged: number; at: string } | undefined;

  constructor(source: PolicySource, db: Db, log: Logger) {
    this.source = source;
    this.#db = db;
    this.#log = log;
  }

  /** The digest of the policies in force; undefined when there are none (no verdicts are read). */
  digest(): string | undefined {
    const set = this.source.current();
    return set.policies.length > 0 ? set.digest : undefined;
  }

  /** Judges what is stale now (single flight: a request during a sweep runs one more after it). */
  sweep(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        const set = this.source.current();
        if (set.policies.length === 0) return;
        try {
          const judged = await judgeStale(this.#db, set, { stop: () => this.source.current().digest !== set.digest });
          this.#lastSweep = { digest: set.digest, judged, at: new Date().toISOString() };
          if (judged > 0) this.#log.info({ judged, digest: set.digest }, 'policy verdicts judged');
        } catch (err) {
          this.#log.warn({ err: (err as Error).message }, 'policy sweep failed; retried at the next one');
        }
      } while (this.#again);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  start(sweepMs = SWEEP_MS): void {
    this.source.onChange(() => void this.sweep());
    void this.sweep();
    this.#timer ??= setInterval(() => void this.sweep(), sweepMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  status() {
    return { ...this.source.status(), ...(this.#lastSweep ? { lastSweep: this.#lastSweep } : {}) };
  }
}
