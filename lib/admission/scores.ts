// Scores for the Scorecard gate, served from memory: the admission hot path never waits on the
// database. A background loop pulls what changed since the last pull, a page at a time (with an
// overlap, so a row committed late is not missed) and `score.updated` events ask for a pull sooner
// (an event never carries a score into the cache: anyone who can reach the server could forge one). Every
// repository's latest score is held, compactly (ScoreIndex; bench/admission.ts prints the bytes per
// repository), so the gate is never wrong for a repository it had to forget: there is no eviction,
// hence no "not among the cached ones" answer to fail open on.
import { DATABASE_UNAVAILABLE } from '../config/redact.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { gauge } from '../metrics/index.ts';
import type { PolicySet } from '../policy/index.ts';
import { type PolicyVerdictRead, PolicyVerdicts } from './policy-verdicts.ts';

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
  /** The result's checks: present when the pull asked for them (policies are in force). */
  checks?: ReadonlyArray<{ name: string; score: number; internalError?: boolean }>;
}

/** One page of a feed: its rows, and where the next page starts (undefined after the last). */
export interface ScorePage {
  rows: ScoreRow[];
  next: string | undefined;
}

/** Where scores come from; the database layer implements it. */
export interface ScoreFeed {
  /**
   * A page of the latest score of every repository whose latest score changed at or after `since`
   * (all repositories when undefined): at most `limit` rows, starting after `after` (the previous
   * page's `next`; undefined for the first). Order within a page does not matter.
   */
  scoresChangedSince(since: Date | undefined, page: { after: string | undefined; limit: number; checks?: boolean }): Promise<ScorePage>;
}

/** Rows a pull reads from the feed at once: a million repositories are loaded in pages, never held at once. */
export const SCORE_PAGE_ROWS = 5_000;

export type ScoreLookupResult =
  | { state: 'hit'; repo: string; score: number; date: string }
  /** The database has no score for it (as of the last pull). */
  | { state: 'unknown' }
  /** The cache cannot say: not loaded yet, or stale. */
  | { state: 'unavailable'; reason: string };

export type PolicyLookupResult =
  | Extract<ScoreLookupResult, { state: 'unknown' | 'unavailable' }>
  | Exclude<PolicyVerdictRead, { state: 'pending' }>
  /** The namespace names a policy that is not in force. */
  | { state: 'no-such-policy'; name: string };

/** What the gate reads: synchronous, in memory. */
export interface ScoreLookup {
  lookup(repoKey: string, now: number): ScoreLookupResult;
  /**
   * A repository's verdict under the named policy, or under the first whose repositories match
   * when `policy` is undefined (evaluated when its score was pulled, aged at `now`).
   */
  lookupPolicy?(repoKey: string, policy: string | undefined, now: number): PolicyLookupResult;
  /** Whether any policy is in force or being applied (none: the policy webhook has nothing to judge). */
  policiesInForce?(): boolean;
}

export interface ScoreCacheOptions {
  feed: ScoreFeed;
  /** Repositories the index is sized for at start (it grows past this; nothing is evicted). */
  expectedEntries?: number;
  refreshMs: number;
  /** Older than this since the last successful pull, the cache answers `unavailable`. */
  staleAfterMs: number;
  /** Re-read this much before the last pull's newest change (late commits). Default max(60 s, refreshMs). */
  overlapMs?: number;
  /** Rows per page of a pull (default SCORE_PAGE_ROWS). */
  pageRows?: number;
  /** How soon after a `score.updated` event the cache pulls (events arriving meanwhile share it). Default 250 ms. */
  eventPullDelayMs?: number;
  /** The policies in force at start (setPolicies changes them). */
  policies?: PolicySet;
  logger?: Logger;
  now?: () => number;
}

const MS_PER_DAY = 86_400_000;
const MAX_KEY_BYTES = 0xffff;

/** fmix32 of MurmurHash3: spreads FNV's low bits, which index the table. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Day numbers (ScoreIndex's) as text, made once each: at most 65,535 short strings. */
const dayTexts: string[] = [];
function dayText(d: number): string {
  if (d === 0) return '';
  dayTexts[d] ??= new Date((d - 1) * MS_PER_DAY).toISOString().slice(0, 10);
  return dayTexts[d];
}

/** A key as one byte per character: ASCII as is, anything else as its UTF-8 bytes. */
function byteKey(key: string): string {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return Buffer.from(key, 'utf8').toString('latin1');
  return key;
}

/**
 * Every repository's latest score in a few typed arrays: keys packed into one byte arena, an
 * open-addressing hash table (linear probing, at most half full) of entry numbers, and per entry
 * the key's offset and length, the score and the result day. No object per repository, so the
 * garbage collector has nothing to walk however many there are (bench/admission.ts prints the memory).
 * Keys are compared in full (a hash is never trusted alone); the seed is random per process, so
 * nobody can aim lookups at one long probe run.
 */
export class ScoreIndex {
  readonly #seed = (Math.random() * 0x100000000) >>> 0;
  #arena: Buffer;
  #arenaUsed = 0;
  #off: Uint32Array;
  #len: Uint16Array;
  #score: Float64Array;
  /** Days since 1970-01-01 plus one; 0: no date. */
  #day: Uint16Array;
  #count = 0;
  /** Entry number plus one; 0: empty. */
  #table: Int32Array;
  #mask: number;

  constructor(expected = 1024) {
    const cap = Math.max(16, expected);
    this.#off = new Uint32Array(cap);
    this.#len = new Uint16Array(cap);
    this.#score = new Float64Array(cap);
    this.#day = new Uint16Array(cap);
    this.#arena = Buffer.allocUnsafe(cap * 32);
    let slots = 32;
    while (slots < cap * 2) slots *= 2;
    this.#table = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#count;
  }

  /** Bytes held by the index's arrays (what a repository costs, for metrics and the benchmark). */
  get bytes(): number {
    return this.#arena.byteLength + this.#off.byteLength + this.#len.byteLength + this.#score.byteLength + this.#day.byteLength + this.#table.byteLength;
  }

  #hash(k: string): number {
    let h = 0x811c9dc5 ^ this.#seed;
    for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
    return mix(h);
  }

  /** The hash of a stored entry's key, read from the arena (the same as #hash of its byte key). */
  #hashAt(entry: number): number {
    let h = 0x811c9dc5 ^ this.#seed;
    const a = this.#arena;
    for (let i = this.#off[entry], end = i + this.#len[entry]; i < end; i++) h = Math.imul(h ^ a[i], 0x01000193);
    return mix(h);
  }

  #equals(entry: number, k: string): boolean {
    if (this.#len[entry] !== k.length) return false;
    const a = this.#arena;
    const o = this.#off[entry];
    for (let i = 0; i < k.length; i++) if (a[o + i] !== k.charCodeAt(i)) return false;
    return true;
  }

  /** Entry number of a byte key, or -1. */
  #find(k: string): number {
    let slot = this.#hash(k) & this.#mask;
    for (;;) {
      const e = this.#table[slot];
      if (e === 0) return -1;
      if (this.#equals(e - 1, k)) return e - 1;
      slot = (slot + 1) & this.#mask;
    }
  }

  /** The entry number of a key, or -1 (PolicyVerdicts is indexed by it). */
  entryOf(key: string): number {
    return this.#find(byteKey(key));
  }

  get(key: string): { score: number; date: string } | undefined {
    const e = this.#find(byteKey(key));
    if (e < 0) return undefined;
    return { score: this.#score[e], date: dayText(this.#day[e]) };
  }

  /** Sets a repository's latest score; false (and nothing stored) for a key too long to hold. */
  set(key: string, score: number, date: string): boolean {
    return this.put(key, score, date) >= 0;
  }

  /** As set, returning the entry number (stable: entries are never removed), or -1. */
  put(key: string, score: number, date: string): number {
    const k = byteKey(key);
    if (k.length === 0 || k.length > MAX_KEY_BYTES) return -1;
    const t = Date.parse(date);
    const day = Number.isFinite(t) ? Math.min(0xfffe, Math.max(0, Math.floor(t / MS_PER_DAY))) + 1 : 0;
    const found = this.#find(k);
    if (found >= 0) {
      this.#score[found] = score;
      this.#day[found] = day;
      return found;
    }
    if (this.#count === this.#off.length) this.#growEntries();
    if ((this.#count + 1) * 2 > this.#table.length) this.#growTable();
    if (this.#arenaUsed + k.length > this.#arena.length) {
      const next = Buffer.allocUnsafe(Math.max(Math.ceil(this.#arena.length * 1.5), this.#arenaUsed + k.length));
      this.#arena.copy(next, 0, 0, this.#arenaUsed);
      this.#arena = next;
    }
    const e = this.#count++;
    this.#arena.write(k, this.#arenaUsed, 'latin1');
    this.#off[e] = this.#arenaUsed;
    this.#len[e] = k.length;
    this.#arenaUsed += k.length;
    this.#score[e] = score;
    this.#day[e] = day;
    this.#insert(e, this.#hash(k));
    return e;
  }

  #insert(e: number, hash: number): void {
    let slot = hash & this.#mask;
    while (this.#table[slot] !== 0) slot = (slot + 1) & this.#mask;
    this.#table[slot] = e + 1;
  }

  #growEntries(): void {
    const cap = this.#off.length * 2;
    const grow = <T extends Uint32Array | Uint16Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a as never);
      return b;
    };
    this.#off = grow(this.#off, (n) => new Uint32Array(n));
    this.#len = grow(this.#len, (n) => new Uint16Array(n));
    this.#score = grow(this.#score, (n) => new Float64Array(n));
    this.#day = grow(this.#day, (n) => new Uint16Array(n));
  }

  #growTable(): void {
    this.#table = new Int32Array(this.#table.length * 2);
    this.#mask = this.#table.length - 1;
    for (let e = 0; e < this.#count; e++) this.#insert(e, this.#hashAt(e));
  }
}

const entriesGauge = gauge('posture_gate_cache_entries', 'Repositories whose latest score the Scorecard gate holds.');
const bytesGauge = gauge('posture_gate_cache_bytes', "Bytes the Scorecard gate's score index holds.");
const ageGauge = gauge('posture_gate_cache_last_refresh_timestamp_seconds', 'When the Scorecard gate cache last pulled scores successfully.');

export class ScoreCache implements ScoreLookup {
  readonly #feed: ScoreFeed;
  readonly #refreshMs: number;
  readonly #staleAfterMs: number;
  readonly #overlapMs: number;
  readonly #eventPullDelayMs: number;
  readonly #pageRows: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #index: ScoreIndex;
  #lastSuccess: number | undefined;
  #lastError: string | undefined;
  #watermark: number | undefined;
  /** How long the last successful pull took. */
  #lastPullMs = 0;
  #inflight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #stopped = true;
  #rejected = 0;
  /** Verdicts under the policies in force; undefined when there are none. */
  #verdicts: PolicyVerdicts | undefined;
  /** Verdicts under new policies, filled by the next (whole) pull, then swapped in. */
  #pending: PolicyVerdicts | undefined;

  constructor(options: ScoreCacheOptions) {
    this.#feed = options.feed;
    this.#refreshMs = options.refreshMs;
    this.#staleAfterMs = options.staleAfterMs;
    this.#overlapMs = options.overlapMs ?? Math.max(60_000, options.refreshMs);
    this.#eventPullDelayMs = options.eventPullDelayMs ?? 250;
    this.#pageRows = options.pageRows ?? SCORE_PAGE_ROWS;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#index = new ScoreIndex(options.expectedEntries);
    if (options.policies) this.setPolicies(options.policies);
  }

  /**
   * New policies: every repository is judged under them by the next pull, which reads them all
   * (their checks are not kept here); until it completes, the policies before stay in force.
   */
  setPolicies(set: PolicySet): void {
    const inForce = this.#pending?.set ?? this.#verdicts?.set;
    if (inForce?.digest === set.digest || (!inForce && set.policies.length === 0)) return;
    this.#pending = new PolicyVerdicts(set, this.#index.size);
    if (!this.#stopped) void this.refresh().then(() => (this.#pending ? this.refresh() : undefined));
  }

  policiesInForce(): boolean {
    return this.#verdicts !== undefined || (this.#pending !== undefined && this.#pending.set.policies.length > 0);
  }

  lookupPolicy(repoKey: string, policy: string | undefined, now: number): PolicyLookupResult {
    const verdicts = this.#verdicts;
    const applying = this.#pending !== undefined && this.#pending.set.policies.length > 0;
    // No policy in force and none asked for: nothing to judge, whatever the score (an unscored
    // repository is the threshold gate's to answer, not told twice).
    if (!verdicts && !applying && policy === undefined) return { state: 'none' };
    const found = this.lookup(repoKey, now);
    if (found.state !== 'hit') return found;
    if (!verdicts) {
      if (applying) return { state: 'unavailable', reason: 'the policies are being applied' };
      return policy === undefined ? { state: 'none' } : { state: 'no-such-policy', name: policy };
    }
    if (policy !== undefined && verdicts.indexOf(policy) < 0) return { state: 'no-such-policy', name: policy };
    const r = verdicts.read(this.#index.entryOf(repoKey), policy, now);
    return r.state === 'pending' ? { state: 'unavailable', reason: 'the policies are being applied' } : r;
  }

  lookup(repoKey: string, now: number): ScoreLookupResult {
    if (this.#lastSuccess === undefined)
      return { state: 'unavailable', reason: this.#lastError ? `scores are not loaded yet (${this.#lastError})` : 'scores are not loaded yet' };
    if (now - this.#lastSuccess > this.#staleAfterMs) {
      return {
        state: 'unavailable',
        reason: `scores are stale: last loaded ${Math.round((now - this.#lastSuccess) / 1000)} s ago${this.#lastError ? ` (${this.#lastError})` : ''}`,
      };
    }
    const e = this.#index.get(repoKey);
    return e ? { state: 'hit', repo: repoKey, score: e.score, date: e.date } : { state: 'unknown' };
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
   * A `score.updated` event: pull from the database soon. The event's content is never trusted
   * (the database stays the only authority), and a flood of events costs one pull per delay.
   */
  notify(): void {
    if (this.#soon || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.refresh();
    }, this.#eventPullDelayMs);
    this.#soon.unref();
  }

  status(now = this.#now()): {
    loaded: boolean;
    stale: boolean;
    entries: number;
    bytes: number;
    lastRefresh?: string;
    lastError?: string;
    rejectedRows?: number;
    policies?: { digest: string; names: string[]; bytes: number; applying?: string };
  } {
    return {
      loaded: this.#lastSuccess !== undefined,
      stale: this.#lastSuccess === undefined || now - this.#lastSuccess > this.#staleAfterMs,
      entries: this.#index.size,
      bytes: this.#index.bytes,
      lastRefresh: this.#lastSuccess === undefined ? undefined : new Date(this.#lastSuccess).toISOString(),
      lastError: this.#lastError,
      ...(this.#rejected > 0 ? { rejectedRows: this.#rejected } : {}),
      ...(this.#verdicts || this.#pending
        ? {
            policies: {
              digest: this.#verdicts?.set.digest ?? '',
              names: this.#verdicts?.set.policies.map((p) => p.name) ?? [],
              bytes: this.#verdicts?.bytes ?? 0,
              ...(this.#pending ? { applying: this.#pending.set.digest } : {}),
            },
          }
        : {}),
    };
  }

  /** Stores a page's rows; returns the newest change among them (the watermark moves once the pull is whole). */
  #apply(rows: readonly ScoreRow[], newest: number | undefined, judges: readonly PolicyVerdicts[]): number | undefined {
    for (const r of rows) {
      if (typeof r?.repoKey !== 'string' || typeof r.score !== 'number' || !Number.isFinite(r.score)) {
        this.#rejected++;
        continue;
      }
      const date = typeof r.date === 'string' ? r.date : '';
      const entry = this.#index.put(r.repoKey, r.score, date);
      if (entry < 0) {
        this.#rejected++;
        continue;
      }
      if (judges.length > 0) {
        const result = { date, checks: Array.isArray(r.checks) ? r.checks : [] };
        for (const j of judges) j.judge(entry, r.repoKey, result);
      }
      const updatedAt = r.updatedAt instanceof Date ? r.updatedAt.getTime() : Number(new Date(r.updatedAt as unknown as string));
      if (Number.isFinite(updatedAt) && (newest === undefined || updatedAt > newest)) newest = updatedAt;
    }
    return newest;
  }

  async #pull(): Promise<void> {
    // Pages are read one after another: a row that changed on a page already read is older than
    // the pull's newest change by at most the pull's duration, so the next pull reaches back that
    // much further too.
    // New policies are applied by a pull of every repository (their checks are not kept here).
    const pending = this.#pending;
    const since = this.#watermark === undefined || pending ? undefined : new Date(this.#watermark - this.#overlapMs - this.#lastPullMs);
    const judges = [this.#verdicts, pending].filter((v): v is PolicyVerdicts => v !== undefined && v.set.policies.length > 0);
    const started = this.#now();
    try {
      let newest = this.#watermark;
      let after: string | undefined;
      do {
        const page = await this.#feed.scoresChangedSince(since, { after, limit: this.#pageRows, ...(judges.length > 0 ? { checks: true } : {}) });
        newest = this.#apply(page.rows, newest, judges);
        after = page.next;
      } while (after !== undefined);
      this.#watermark = newest;
      if (pending && this.#pending === pending) {
        this.#verdicts = pending.set.policies.length > 0 ? pending : undefined;
        this.#pending = undefined;
        this.#logger.info({ policies: pending.set.policies.map((p) => p.name), digest: pending.set.digest }, 'scorecard gate: policies applied');
      }
      this.#lastSuccess = this.#now();
      this.#lastPullMs = Math.max(0, this.#lastSuccess - started);
      this.#lastError = undefined;
      entriesGauge.set(this.#index.size);
      bytesGauge.set(this.#index.bytes);
      ageGauge.set(this.#lastSuccess / 1000);
    } catch (err) {
      // What the gate's warning and /readyz say: never pg's words (they name the database's host,
      // user and name) to everyone who creates a workload. The log carries the error itself.
      this.#lastError = DATABASE_UNAVAILABLE;
      this.#logger.warn({ err }, 'scorecard gate: pulling scores failed; keeping the cache');
    }
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

  async scoresChangedSince(since: Date | undefined, page: { after: string | undefined; limit: number; checks?: boolean }): Promise<ScorePage> {
    if (page.after === undefined) this.calls.push(since);
    if (this.fail) throw this.fail;
    const start = page.after === undefined ? 0 : Number(page.after);
    const out: ScoreRow[] = [];
    let i = start;
    for (; i < this.rows.length && out.length < page.limit; i++) {
      const r = this.rows[i];
      if (since === undefined || r.updatedAt >= since) out.push(r);
    }
    return { rows: out, next: i < this.rows.length ? String(i) : undefined };
  }
}
