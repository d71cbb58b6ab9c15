// Every repository's verdict under every policy in force, for the Scorecard gate: evaluated once,
// when a repository's score is pulled or the policies change, never per admission request. Kept
// like ScoreIndex, in typed arrays indexed by its entry numbers (no object per repository): per
// repository and policy a verdict byte, the policy's score in tenths and the id of its reasons'
// line (interned: a fleet has few distinct ones), per repository the policy that applies when the
// namespace names none and the result's time (maxAge is judged at the request, from it).
import { evaluate, type PolicyInput, type PolicySet, policyFor, reasonsLine, type Verdict } from '../policy/index.ts';

const VERDICT_CODE = { pass: 1, fail: 2, unknown: 3 } as const;
const CODE_VERDICT: Array<Verdict | undefined> = [undefined, 'pass', 'fail', 'unknown'];
const NO_POLICY = 255;
const NO_SCORE = 255;
/** Distinct reason lines held; past it a verdict carries only its rule names (see line()). */
export const MAX_REASON_LINES = 65_536;

export type PolicyVerdictRead =
  | { state: 'judged'; policy: string; verdict: Verdict; score: number | null; reasons: string }
  /** No policy applies (the namespace names none and none matches the repository). */
  | { state: 'none' }
  /** Not judged yet under this set (a pull is under way). */
  | { state: 'pending' };

export class PolicyVerdicts {
  readonly set: PolicySet;
  readonly #p: number;
  readonly #byName: Map<string, number>;
  #verdict: Uint8Array;
  #score: Uint8Array;
  #reason: Uint32Array;
  #default: Uint8Array;
  /** Result time in seconds since the epoch; 0: none. */
  #time: Uint32Array;
  readonly #lines: string[] = [''];
  readonly #lineIds = new Map<string, number>();

  constructor(set: PolicySet, capacity = 1024) {
    this.set = set;
    this.#p = set.policies.length;
    this.#byName = new Map(set.policies.map((p, i) => [p.name, i]));
    const cap = Math.max(16, capacity);
    this.#verdict = new Uint8Array(cap * this.#p);
    this.#score = new Uint8Array(cap * this.#p);
    this.#reason = new Uint32Array(cap * this.#p);
    this.#default = new Uint8Array(cap).fill(NO_POLICY);
    this.#time = new Uint32Array(cap);
  }

  /** Bytes held (for the gate's memory metric and the benchmark). */
  get bytes(): number {
    return this.#verdict.byteLength + this.#score.byteLength + this.#reason.byteLength + this.#default.byteLength + this.#time.byteLength;
  }

  /** The policy's index by name, or -1. */
  indexOf(name: string): number {
    return this.#byName.get(name) ?? -1;
  }

  #ensure(entry: number): void {
    const cap = this.#default.length;
    if (entry < cap) return;
    let next = cap;
    while (next <= entry) next *= 2;
    const grow = <T extends Uint8Array | Uint32Array>(a: T, n: number, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a as never);
      return b;
    };
    this.#verdict = grow(this.#verdict, next * this.#p, (n) => new Uint8Array(n));
    this.#score = grow(this.#score, next * this.#p, (n) => new Uint8Array(n));
    this.#reason = grow(this.#reason, next * this.#p, (n) => new Uint32Array(n));
    const d = new Uint8Array(next).fill(NO_POLICY);
    d.set(this.#default);
    this.#default = d;
    this.#time = grow(this.#time, next, (n) => new Uint32Array(n));
  }

  #line(text: string): number {
    if (text === '') return 0;
    const id = this.#lineIds.get(text);
    if (id !== undefined) return id;
    if (this.#lines.length >= MAX_REASON_LINES) return 0;
    this.#lines.push(text);
    this.#lineIds.set(text, this.#lines.length - 1);
    return this.#lines.length - 1;
  }

  /** Judges one repository's newest result under every policy (at the result's own time: age is the request's to judge). */
  judge(entry: number, repoKey: string, result: PolicyInput): void {
    this.#ensure(entry);
    const t = result.date instanceof Date ? result.date.getTime() : Date.parse(result.date);
    this.#time[entry] = Number.isFinite(t) ? Math.max(1, Math.min(0xffffffff, Math.floor(t / 1000))) : 0;
    const d = policyFor(repoKey, this.set.policies);
    this.#default[entry] = d === undefined ? NO_POLICY : this.set.policies.indexOf(d);
    for (let i = 0; i < this.#p; i++) {
      const e = evaluate(result, this.set.policies[i], Number.isFinite(t) ? t : Date.now());
      const k = entry * this.#p + i;
      this.#verdict[k] = VERDICT_CODE[e.verdict];
      this.#score[k] = e.score === null ? NO_SCORE : Math.round(e.score * 10);
      this.#reason[k] = this.#line(reasonsLine(e));
    }
  }

  /**
   * The verdict of one repository (its ScoreIndex entry) under the named policy, or under the
   * first that matches it when `name` is undefined. A pass older than the policy's maxAge is
   * unknown at `now`; a fail stays a fail (a broken rule wins).
   */
  read(entry: number, name: string | undefined, now: number): PolicyVerdictRead {
    if (entry >= this.#default.length) return { state: 'pending' };
    const i = name === undefined ? this.#default[entry] : this.indexOf(name);
    if (i === NO_POLICY || i < 0) return { state: 'none' };
    const k = entry * this.#p + i;
    const verdict = CODE_VERDICT[this.#verdict[k]];
    if (verdict === undefined) return { state: 'pending' };
    const policy = this.set.policies[i];
    const score = this.#score[k] === NO_SCORE ? null : this.#score[k] / 10;
    const reasons = this.#lines[this.#reason[k]] || (verdict === 'pass' ? '' : `${verdict} (reasons not kept: too many distinct ones)`);
    if (verdict !== 'fail' && policy.maxAgeMs !== undefined && this.#time[entry] !== 0) {
      const age = now - this.#time[entry] * 1000;
      if (age > policy.maxAgeMs) {
        const days = Math.floor(age / 86_400_000);
        const stale = `the newest result is ${days >= 2 ? `${days} days` : `${Math.floor(age / 3_600_000)} hours`} old, older than ${policy.maxAge}`;
        return { state: 'judged', policy: policy.name, verdict: 'unknown', score, reasons: reasons ? `${reasons}; ${stale}` : stale };
      }
    }
    return { state: 'judged', policy: policy.name, verdict, score, reasons };
  }
}
