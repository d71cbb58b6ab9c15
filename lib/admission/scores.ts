// Scores for the Scorecard gate, served from memory: the admission hot path never waits on the
// database. A background loop pulls what changed since the last pull (with an overlap, so a row
// committed late is not missed), `score.updated` events pull sooner, and the cache holds at most
// `maxEntries` repositories (least recently used out first).
import { silentLogger, type Logger } from '../log/index.ts';
import { gauge } from '../metrics/index.ts';

/** The latest score of one repository. */
export interface ScoreRow {
  /** Lower-cased `host/owner/name` (RepoId.key). */
  repoKey: string;
  /** Display form (RepoId.canonical). */
  repo: string;
  score: number;
  /** Scorecard's result date (ISO 8601). */
  date: string;
  /** When this row became the repository's latest (drives incremental pulls). */
  updatedAt: Date;
}

/** Where scores come from; the database layer implements it. */
export interface ScoreFeed {
  /**
   * The latest score of every repository whose latest score changed at or after `since` (all
   * repositories when undefined). Order does not matter.
   */
  scoresChangedSince(since: Date | undefined): Promise<ScoreRow[]>;
  /**
   * Optional: the latest scores of these repositories (absent ones left out). Used only once the
   * cache has had to evict, to fill a miss without a full reload.
   */
  latestScores?(repoKeys: readonly string[]): Promise<ScoreRow[]>;
}

export type ScoreLookupResult =
  | { state: 'hit'; repo: string; score: number; date: string }
  /** The database has no score for it (as of the last pull). */
  | { state: 'unknown' }
  /** The cache cannot say: not loaded yet, stale, or a miss it is fetching now. */
  | { state: 'unavailable'; reason: string };

/** What the gate reads: synchronous, in memory. */
export interface ScoreLookup {
  lookup(repoKey: string, now: number): ScoreLookupResult;
}

export interface ScoreCacheOptions {
  feed: ScoreFeed;
  maxEntries: number;
  refreshMs: number;
  /** Older than this since the last successful pull, the cache answers `unavailable`. */
  staleAfterMs: number;
  /** Re-read this much before the last pull's newest change (late commits). Default max(60 s, refreshMs). */
  overlapMs?: number;
  /** How long a repository the database did not know is remembered as unknown. Default refreshMs. */
  absentTtlMs?: number;
  logger?: Logger;
  now?: () => number;
}

interface Entry {
  repo: string;
  score: number;
  date: string;
  updatedAt: number;
}

const entriesGauge = gauge('posture_gate_cache_entries', 'Repositories held in the Scorecard gate cache.');
const ageGauge = gauge('posture_gate_cache_last_refresh_timestamp_seconds', 'When the Scorecard gate cache last pulled scores successfully.');

export class ScoreCache implements ScoreLookup {
  readonly #feed: ScoreFeed;
  readonly #max: number;
  readonly #refreshMs: number;
  readonly #staleAfterMs: number;
  readonly #overlapMs: number;
  readonly #absentTtlMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Insertion order is recency: a hit moves the entry to the end, eviction takes the first. */
  readonly #entries = new Map<string, Entry>();
  /** Misses the database confirmed, once the cache is incomplete (repoKey → until). */
  readonly #absent = new Map<string, number>();
  readonly #wanted = new Set<string>();
  #complete = true;
  #lastSuccess: number | undefined;
  #lastError: string | undefined;
  #watermark: number | undefined;
  #inflight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #fetching = false;
  #stopped = true;

  constructor(options: ScoreCacheOptions) {
    this.#feed = options.feed;
    this.#max = options.maxEntries;
    this.#refreshMs = options.refreshMs;
    this.#staleAfterMs = options.staleAfterMs;
    this.#overlapMs = options.overlapMs ?? Math.max(60_000, options.refreshMs);
    this.#absentTtlMs = options.absentTtlMs ?? options.refreshMs;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  lookup(repoKey: string, now: number): ScoreLookupResult {
    if (this.#lastSuccess === undefined) return { state: 'unavailable', reason: this.#lastError ? `scores are not loaded yet (${this.#lastError})` : 'scores are not loaded yet' };
    if (now - this.#lastSuccess > this.#staleAfterMs) {
      return { state: 'unavailable', reason: `scores are stale: last loaded ${Math.round((now - this.#lastSuccess) / 1000)} s ago${this.#lastError ? ` (${this.#lastError})` : ''}` };
    }
    const e = this.#entries.get(repoKey);
    if (e) {
      this.#entries.delete(repoKey);
      this.#entries.set(repoKey, e);
      return { state: 'hit', repo: e.repo, score: e.score, date: e.date };
    }
    if (this.#complete) return { state: 'unknown' };
    const until = this.#absent.get(repoKey);
    if (until !== undefined && until > now) return { state: 'unknown' };
    if (!this.#feed.latestScores) return { state: 'unavailable', reason: `the cache holds the ${this.#max} most recently used scores and ${repoKey} is not among them` };
    this.#want(repoKey);
    return { state: 'unavailable', reason: `the score of ${repoKey} is being loaded; retry in a moment` };
  }

  /** Pulls what changed (single flight: concurrent callers share one pull). */
  refresh(): Promise<void> {
    this.#inflight ??= this.#pull().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Starts the background loop; the first pull starts at once. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const loop = () => {
      if (this.#stopped) return;
      void this.refresh().finally(() => {
        if (this.#stopped) return;
        this.#timer = setTimeout(loop, this.#refreshMs);
        this.#timer.unref();
      });
    };
    loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#soon);
  }

  /**
   * A `score.updated` event: applies the row it carries at once (when it has one) and pulls soon,
   * so the database stays the authority.
   */
  notify(row?: Partial<ScoreRow>): void {
    if (row && typeof row.repoKey === 'string' && typeof row.score === 'number' && Number.isFinite(row.score)) {
      const prev = this.#entries.get(row.repoKey);
      if (prev || this.#complete || this.#wanted.has(row.repoKey)) {
        this.#put(row.repoKey, { repo: row.repo ?? prev?.repo ?? row.repoKey, score: row.score, date: row.date ?? prev?.date ?? '', updatedAt: prev?.updatedAt ?? 0 });
      }
      this.#absent.delete(row.repoKey);
    }
    if (this.#soon || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.refresh();
    }, 250);
    this.#soon.unref();
  }

  status(now = this.#now()): { loaded: boolean; stale: boolean; entries: number; complete: boolean; lastRefresh?: string; lastError?: string } {
    return {
      loaded: this.#lastSuccess !== undefined,
      stale: this.#lastSuccess === undefined || now - this.#lastSuccess > this.#staleAfterMs,
      entries: this.#entries.size,
      complete: this.#complete,
      lastRefresh: this.#lastSuccess === undefined ? undefined : new Date(this.#lastSuccess).toISOString(),
      lastError: this.#lastError,
    };
  }

  #put(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, e);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.#complete = false;
    }
  }

  #apply(rows: readonly ScoreRow[]): void {
    for (const r of rows) {
      if (typeof r?.repoKey !== 'string' || typeof r.score !== 'number') continue;
      const updatedAt = r.updatedAt instanceof Date ? r.updatedAt.getTime() : Number(new Date(r.updatedAt as unknown as string));
      const prev = this.#entries.get(r.repoKey);
      // An overlapping re-read must not move an entry to the front of the eviction order.
      if (prev && prev.updatedAt >= updatedAt && prev.score === r.score) continue;
      this.#put(r.repoKey, { repo: r.repo, score: r.score, date: r.date, updatedAt });
      this.#absent.delete(r.repoKey);
      if (Number.isFinite(updatedAt) && (this.#watermark === undefined || updatedAt > this.#watermark)) this.#watermark = updatedAt;
    }
  }

  async #pull(): Promise<void> {
    const since = this.#watermark === undefined ? undefined : new Date(this.#watermark - this.#overlapMs);
    try {
      const rows = await this.#feed.scoresChangedSince(since);
      this.#apply(rows);
      this.#lastSuccess = this.#now();
      this.#lastError = undefined;
      entriesGauge.set(this.#entries.size);
      ageGauge.set(this.#lastSuccess / 1000);
    } catch (err) {
      this.#lastError = (err as Error).message;
      this.#logger.warn({ err }, 'scorecard gate: pulling scores failed; keeping the cache');
    }
  }

  #want(key: string): void {
    this.#wanted.add(key);
    if (this.#fetching) return;
    this.#fetching = true;
    // Batch the misses of this turn of the event loop into one query.
    setImmediate(async () => {
      const keys = [...this.#wanted].slice(0, 500);
      try {
        const rows = await this.#feed.latestScores!(keys);
        this.#apply(rows);
        const found = new Set(rows.map((r) => r.repoKey));
        const until = this.#now() + this.#absentTtlMs;
        for (const k of keys) if (!found.has(k)) this.#absent.set(k, until);
        while (this.#absent.size > this.#max) this.#absent.delete(this.#absent.keys().next().value as string);
      } catch (err) {
        this.#logger.warn({ err, repos: keys.length }, 'scorecard gate: loading missed scores failed');
      } finally {
        for (const k of keys) this.#wanted.delete(k);
        this.#fetching = false;
        if (this.#wanted.size > 0) this.#want([...this.#wanted][0]);
      }
    });
  }
}

/** A feed over a fixed list, for tests, the offline review and `posture up` without a database. */
export class StaticScoreFeed implements ScoreFeed {
  rows: ScoreRow[];
  calls: Array<Date | undefined> = [];
  fail: Error | undefined;

  constructor(rows: ScoreRow[] = []) {
    this.rows = rows;
  }

  async scoresChangedSince(since: Date | undefined): Promise<ScoreRow[]> {
    this.calls.push(since);
    if (this.fail) throw this.fail;
    return this.rows.filter((r) => since === undefined || r.updatedAt >= since);
  }

  async latestScores(keys: readonly string[]): Promise<ScoreRow[]> {
    if (this.fail) throw this.fail;
    const want = new Set(keys);
    return this.rows.filter((r) => want.has(r.repoKey));
  }
}
