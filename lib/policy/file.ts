// The policy file (POSTURE_POLICY_FILE): read at start and re-read on a timer, since a ConfigMap
// update reaches a mounted file by swapping a symbolic link that file watches miss. An invalid
// file never replaces a good one: the last good set stays in force and the log, a metric and
// /readyz say why.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Logger, silentLogger } from '../log/index.ts';
import { counter, gauge } from '../metrics/index.ts';
import { EMPTY_POLICY_SET, MAX_POLICY_FILE_BYTES, type PolicySet, parsePolicies } from './parse.ts';

const validGauge = gauge('posture_policy_file_valid', 'Whether the policy file as last read is valid (0: the last good one is in force).');
const policiesGauge = gauge('posture_policy_policies', 'Policies in force (from the last good policy file).');
const reloadFailures = counter(
  'posture_policy_reload_failures_total',
  'Reads of the policy file that were refused (unreadable or invalid); the last good policies stayed in force.',
);

/** Where the policies in force come from: what the gate, the API and the harvester read. */
export interface PolicySource {
  current(): PolicySet;
  /** Called with the new set whenever the policies in force change. */
  onChange(listener: (set: PolicySet) => void): void;
  status(): PolicyStatus;
}

export interface PolicyStatus {
  file?: string;
  policies: string[];
  digest: string;
  /** When the set in force was read. */
  loadedAt?: string;
  /** Whether the file as last read is valid. */
  valid: boolean;
  /** Why it is not (one line). */
  error?: string;
}

/** A fixed set (tests, `posture policy check`). */
export function staticPolicies(set: PolicySet = EMPTY_POLICY_SET): PolicySource & { set(next: PolicySet): void } {
  let current = set;
  const listeners: Array<(s: PolicySet) => void> = [];
  return {
    current: () => current,
    onChange: (l) => void listeners.push(l),
    status: () => ({ policies: current.policies.map((p) => p.name), digest: current.digest, valid: true }),
    set(next) {
      current = next;
      for (const l of listeners) l(next);
    },
  };
}

export interface PolicyFileOptions {
  path: string | undefined;
  reloadMs: number;
  logger?: Logger;
  now?: () => number;
}

export class PolicyFile implements PolicySource {
  readonly #path: string | undefined;
  readonly #reloadMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #listeners: Array<(s: PolicySet) => void> = [];
  #set: PolicySet = EMPTY_POLICY_SET;
  #loadedAt: number | undefined;
  #error: string | undefined;
  /** Hash of the text last read, so an unchanged file is not parsed (nor logged) again. */
  #lastText: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: PolicyFileOptions) {
    this.#path = o.path;
    this.#reloadMs = o.reloadMs;
    this.#logger = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
    validGauge.set(1);
    policiesGauge.set(0);
  }

  current(): PolicySet {
    return this.#set;
  }

  onChange(listener: (set: PolicySet) => void): void {
    this.#listeners.push(listener);
  }

  status(): PolicyStatus {
    return {
      ...(this.#path ? { file: this.#path } : {}),
      policies: this.#set.policies.map((p) => p.name),
      digest: this.#set.digest,
      ...(this.#loadedAt !== undefined ? { loadedAt: new Date(this.#loadedAt).toISOString() } : {}),
      valid: this.#error === undefined,
      ...(this.#error !== undefined ? { error: this.#error } : {}),
    };
  }

  /** Reads the file now; true when the policies in force changed. */
  reload(): boolean {
    if (!this.#path) return false;
    let text: string;
    try {
      const buf = readFileSync(this.#path);
      if (buf.byteLength > MAX_POLICY_FILE_BYTES) throw new Error(`longer than ${MAX_POLICY_FILE_BYTES} bytes`);
      text = buf.toString('utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return this.#refuse(e.code === 'ENOENT' ? 'no such file' : e.code ? `${e.code}: cannot read` : e.message, undefined);
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === this.#lastText) return false;
    const parsed = parsePolicies(text);
    if (!parsed.ok) return this.#refuse(parsed.error, hash);
    this.#lastText = hash;
    this.#error = undefined;
    validGauge.set(1);
    if (parsed.set.digest === this.#set.digest && this.#loadedAt !== undefined) return false;
    this.#set = parsed.set;
    this.#loadedAt = this.#now();
    policiesGauge.set(parsed.set.policies.length);
    this.#logger.info({ file: this.#path, policies: parsed.set.policies.map((p) => p.name), digest: parsed.set.digest }, 'policies loaded');
    for (const l of this.#listeners) l(parsed.set);
    return true;
  }

  #refuse(error: string, hash: string | undefined): boolean {
    const again = this.#error === error;
    this.#error = error;
    this.#lastText = hash;
    validGauge.set(0);
    if (!again) {
      reloadFailures.inc();
      this.#logger.error(
        { file: this.#path, error, inForce: this.#set.policies.map((p) => p.name) },
        this.#loadedAt === undefined ? 'policy file refused; no policy is in force' : 'policy file refused; the last good policies stay in force',
      );
    }
    return false;
  }

  /** Reads the file, then re-reads it every reloadMs. */
  start(): void {
    this.reload();
    if (!this.#path || this.#timer) return;
    this.#timer = setInterval(() => this.reload(), this.#reloadMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
