// What the audit concludes of one workload: the repositories it declares (read as the gate reads
// them), each parsed and judged; the worst of them is the workload's result.
import { declaredRepos } from '../repo/declared.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import type { Judge } from './judge.ts';
import type { AuditedKind } from './kinds.ts';

/** PolicyReport result values (wgpolicyk8s.io/v1alpha2). */
export type ResultValue = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface Workload {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  /** The declared repositories as written. */
  declared: string[];
}

export interface Finding {
  workload: Workload;
  result: ResultValue;
  /** The repository the result is about (canonical, or the declared value when it does not parse). */
  repo: string;
  score?: number;
  message: string;
}

/** The longest declared value the audit parses (the gate's limit). */
export const MAX_DECLARED_CHARS = 300;

/** A listed object as a workload that declares a repository, or undefined when it declares none. */
export function workloadOf(k: AuditedKind, o: unknown): Workload | undefined {
  const declared = declaredRepos(o);
  if (declared.length === 0) return undefined;
  const m = (o as { metadata?: { name?: string; namespace?: string; uid?: string } }).metadata ?? {};
  return { apiVersion: k.apiVersion, kind: k.kind, namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', declared };
}

/** Parses a declared value (undefined with a reason when posture cannot judge it). */
export function parseDeclared(value: string, allowedHosts: readonly string[]): { repo: RepoId } | { reason: string } {
  if (value.length > MAX_DECLARED_CHARS) return { reason: `longer than ${MAX_DECLARED_CHARS} characters` };
  const r = parseRepo(value, allowedHosts);
  return r.ok ? { repo: r.repo } : { reason: r.reason };
}

const RANK: Record<ResultValue, number> = { error: 0, fail: 1, warn: 2, pass: 3, skip: 4 };

/** Judges a workload: the worst result among its repositories (error, fail, warn, pass). */
export function judgeWorkload(w: Workload, judge: Judge, allowedHosts: readonly string[]): Finding {
  let worst: Finding | undefined;
  for (const value of w.declared) {
    const parsed = parseDeclared(value, allowedHosts);
    let f: Finding;
    if ('reason' in parsed) {
      f = {
        workload: w,
        result: 'error',
        repo: value.slice(0, 200),
        message: `annotation posture.dev/source-repo=${JSON.stringify(value.slice(0, 200))} is not a repository posture can judge: ${parsed.reason}`,
      };
    } else {
      const j = judge(parsed.repo);
      const result: ResultValue = j.verdict === 'fail' ? 'fail' : j.verdict === 'unknown' ? 'warn' : 'pass';
      f = { workload: w, result, repo: parsed.repo.canonical, ...(j.score !== undefined ? { score: j.score } : {}), message: j.reasons.join('; ') };
    }
    if (!worst || RANK[f.result] < RANK[worst.result]) worst = f;
  }
  return worst!;
}
