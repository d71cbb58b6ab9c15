// One PolicyReport (wgpolicyk8s.io/v1alpha2) per namespace: a summary of every audited workload
// and the results that are not passes, bounded (reports filled etcd for Kyverno: kyverno#2674),
// built deterministically so an unchanged cluster gives an identical report and nothing is written.
import type { Finding, ResultValue } from './findings.ts';

export const REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';
export const REPORT_NAME = 'posture-scorecard';
export const POLICY = 'posture-scorecard';
export const RULE = 'minimum-score';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'posture' } as const;
/** Results left out of a report because of its bound (the summary still counts them). */
export const OMITTED_ANNOTATION = 'posture.dev/results-omitted';
/** Default bound on the results of one report. */
export const DEFAULT_MAX_RESULTS = 200;
/** A result message's longest length. */
export const MAX_MESSAGE_CHARS = 512;

export type Summary = Record<ResultValue, number>;

export interface PolicyReport {
  apiVersion: string;
  kind: 'PolicyReport';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string };
  summary: Summary;
  results: ReportResult[];
}

export interface ReportResult {
  policy: string;
  rule: string;
  result: ResultValue;
  message: string;
  source: string;
  category: string;
  severity: 'high' | 'medium' | 'low' | 'info';
  resources: Array<{ apiVersion: string; kind: string; namespace: string; name: string; uid: string }>;
  properties: Record<string, string>;
}

const ORDER: Record<ResultValue, number> = { error: 0, fail: 1, warn: 2, pass: 3, skip: 4 };
const SEVERITY: Record<ResultValue, ReportResult['severity']> = { error: 'medium', fail: 'high', warn: 'low', pass: 'info', skip: 'info' };

function emptySummary(): Summary {
  return { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
}

/** Findings in report order: worst first, then kind, name, uid (stable from run to run). */
export function byReportOrder(a: Finding, b: Finding): number {
  return (
    ORDER[a.result] - ORDER[b.result] ||
    (a.score ?? 11) - (b.score ?? 11) ||
    a.workload.kind.localeCompare(b.workload.kind) ||
    a.workload.name.localeCompare(b.workload.name) ||
    a.workload.uid.localeCompare(b.workload.uid)
  );
}

/** The PolicyReport of one namespace's findings. */
export function policyReport(namespace: string, findings: readonly Finding[], maxResults = DEFAULT_MAX_RESULTS): PolicyReport {
  const summary = emptySummary();
  for (const f of findings) summary[f.result]++;
  const shown = findings.filter((f) => f.result !== 'pass' && f.result !== 'skip').sort(byReportOrder);
  const results = shown.slice(0, maxResults).map(
    (f): ReportResult => ({
      policy: POLICY,
      rule: RULE,
      result: f.result,
      message: f.message.slice(0, MAX_MESSAGE_CHARS),
      source: 'posture',
      category: 'OpenSSF Scorecard',
      severity: SEVERITY[f.result],
      resources: [{ apiVersion: f.workload.apiVersion, kind: f.workload.kind, namespace, name: f.workload.name, uid: f.workload.uid }],
      properties: { repository: f.repo, ...(f.score !== undefined ? { score: String(f.score) } : {}) },
    }),
  );
  const omitted = shown.length - results.length;
  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'PolicyReport',
    metadata: { name: REPORT_NAME, namespace, labels: { ...MANAGED_BY }, ...(omitted > 0 ? { annotations: { [OMITTED_ANNOTATION]: String(omitted) } } : {}) },
    summary,
    results,
  };
}

/** What of a report posture owns (the rest is the API server's: resourceVersion, managedFields...). */
function owned(r: Partial<PolicyReport> | undefined): unknown {
  const a = r?.metadata?.annotations?.[OMITTED_ANNOTATION];
  return {
    labels: r?.metadata?.labels?.['app.kubernetes.io/managed-by'] ?? null,
    omitted: a ?? null,
    summary: { ...emptySummary(), ...(r?.summary ?? {}) },
    results: r?.results ?? [],
  };
}

/** Canonical JSON (sorted keys) for comparing what posture owns. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (x && typeof x === 'object')
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(x ?? null);
}

/** Whether the stored report differs from the wanted one in anything posture owns. */
export function reportChanged(stored: Partial<PolicyReport> | undefined, wanted: PolicyReport): boolean {
  if (!stored) return true;
  return canonical(owned(stored)) !== canonical(owned(wanted));
}

export type ReportAction =
  | { action: 'create'; report: PolicyReport }
  | { action: 'replace'; report: PolicyReport }
  | { action: 'delete'; namespace: string; name: string };

/**
 * What to write: create the missing reports, replace the changed ones (with the stored
 * resourceVersion, so a concurrent writer's change is not overwritten blindly), delete posture's
 * reports of namespaces where nothing declares a repository any more. Unchanged: nothing.
 */
export function planReports(stored: readonly PolicyReport[], wanted: ReadonlyMap<string, PolicyReport>): ReportAction[] {
  const byNs = new Map(stored.filter((r) => r.metadata.name === REPORT_NAME).map((r) => [r.metadata.namespace, r]));
  const out: ReportAction[] = [];
  for (const [ns, report] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
    const s = byNs.get(ns);
    if (!s) out.push({ action: 'create', report });
    else if (reportChanged(s, report))
      out.push({ action: 'replace', report: { ...report, metadata: { ...report.metadata, resourceVersion: s.metadata.resourceVersion } } });
  }
  for (const [ns, s] of [...byNs].sort(([a], [b]) => a.localeCompare(b)))
    if (!wanted.has(ns)) out.push({ action: 'delete', namespace: ns, name: s.metadata.name });
  return out;
}
