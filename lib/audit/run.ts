// One audit: list every audited kind cluster-wide a page at a time, keep only the workloads that
// declare a repository (a few strings each), read those repositories' latest scores in batches,
// judge, and write each namespace's PolicyReport only where it changed. The Kubernetes and score
// reads are behind small interfaces (lib/audit/kube.ts, the database in lib/cli/audit.ts).
import { type Finding, judgeWorkload, parseDeclared, type Workload, workloadOf } from './findings.ts';
import type { JudgeFor, LatestScore } from './judge.ts';
import { AUDITED_KINDS, type AuditedKind, auditedItself } from './kinds.ts';
import { DEFAULT_MAX_RESULTS, type PolicyReport, planReports, policyReport, type ReportAction } from './report.ts';

export interface Page<T> {
  items: T[];
  continue?: string;
}

export interface AuditApi {
  /** One page of a kind, cluster-wide. */
  listWorkloads(kind: AuditedKind, page: { limit: number; continue?: string }): Promise<Page<unknown>>;
  /** Every namespace's name and labels (paged inside). */
  listNamespaces(): Promise<Array<{ name: string; labels: Record<string, string> }>>;
  /** posture's PolicyReports, cluster-wide (paged inside). */
  listReports(): Promise<PolicyReport[]>;
  apply(action: ReportAction): Promise<void>;
  /** Requests made so far. */
  calls(): number;
}

/** Latest scores of repositories by key (absent: never scored). */
export type ScoreSource = (keys: readonly string[]) => Promise<Map<string, LatestScore>>;

export interface AuditOptions {
  api: AuditApi;
  scores: ScoreSource;
  /** Builds the judge from the scores read (see lib/audit/judge.ts). */
  judgeFor: (scores: ReadonlyMap<string, LatestScore>) => JudgeFor;
  allowedHosts: readonly string[];
  /** Write the reports (false: judge and plan only). */
  write: boolean;
  pageSize?: number;
  maxResults?: number;
}

export interface AuditOutcome {
  listed: number;
  workloads: number;
  findings: Finding[];
  summary: Record<Finding['result'], number>;
  reports: { namespaces: number; created: number; replaced: number; deleted: number; unchanged: number; largestBytes: number; totalBytes: number };
  actions: ReportAction[];
  apiCalls: number;
}

export const DEFAULT_PAGE_SIZE = 500;

export async function runAudit(o: AuditOptions): Promise<AuditOutcome> {
  const limit = o.pageSize ?? DEFAULT_PAGE_SIZE;
  const workloads: Workload[] = [];
  let listed = 0;
  for (const kind of AUDITED_KINDS) {
    let cont: string | undefined;
    do {
      const page = await o.api.listWorkloads(kind, { limit, continue: cont });
      for (const item of page.items) {
        listed++;
        if (!auditedItself(kind, item)) continue;
        const w = workloadOf(kind, item);
        if (w) workloads.push(w);
      }
      cont = page.continue || undefined;
    } while (cont);
  }
  const keys = new Set<string>();
  for (const w of workloads)
    for (const v of w.declared) {
      const p = parseDeclared(v, o.allowedHosts);
      if ('repo' in p) keys.add(p.repo.key);
    }
  const scores = await o.scores([...keys]);
  const judgeFor = o.judgeFor(scores);
  const namespaces = new Map((await o.api.listNamespaces()).map((n) => [n.name, n.labels]));
  const judges = new Map<string, ReturnType<JudgeFor>>();
  const findings: Finding[] = [];
  const byNamespace = new Map<string, Finding[]>();
  for (const w of workloads) {
    let judge = judges.get(w.namespace);
    if (!judge) {
      judge = judgeFor({ name: w.namespace, labels: namespaces.get(w.namespace) ?? {} });
      judges.set(w.namespace, judge);
    }
    const f = judgeWorkload(w, judge, o.allowedHosts);
    findings.push(f);
    const list = byNamespace.get(w.namespace) ?? [];
    list.push(f);
    byNamespace.set(w.namespace, list);
  }
  const wanted = new Map<string, PolicyReport>();
  for (const [ns, fs] of byNamespace) wanted.set(ns, policyReport(ns, fs, o.maxResults ?? DEFAULT_MAX_RESULTS));
  const actions = planReports(await o.api.listReports(), wanted);
  if (o.write) for (const a of actions) await o.api.apply(a);
  const sizes = [...wanted.values()].map((r) => Buffer.byteLength(JSON.stringify(r)));
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const f of findings) summary[f.result]++;
  const count = (a: ReportAction['action']) => actions.filter((x) => x.action === a).length;
  return {
    listed,
    workloads: workloads.length,
    findings,
    summary,
    reports: {
      namespaces: wanted.size,
      created: count('create'),
      replaced: count('replace'),
      deleted: count('delete'),
      unchanged: wanted.size - count('create') - count('replace'),
      largestBytes: sizes.length ? Math.max(...sizes) : 0,
      totalBytes: sizes.reduce((a, b) => a + b, 0),
    },
    actions,
    apiCalls: o.api.calls(),
  };
}
