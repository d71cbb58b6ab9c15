// The audit's last conclusions (migration 011): replaced whole by each audit, read by the dashboard.
import type { Db } from './connect.ts';
import { rowsOf } from './rows.ts';

export interface AuditFindingRow {
  namespace: string;
  kind: string;
  name: string;
  uid: string;
  repo: string;
  score: number | null;
  result: 'fail' | 'warn' | 'error';
  message: string;
}

export interface AuditSnapshot {
  finishedAt: Date;
  summary: Record<string, unknown>;
}

/** At most this many findings are kept (the worst first): the page shows the worst, the PolicyReports hold the rest's counts. */
export const MAX_AUDIT_FINDINGS = 10_000;

const ORDER: Record<AuditFindingRow['result'], number> = { error: 0, fail: 1, warn: 2 };

/** Replaces the last audit's findings (in one transaction: a reader sees the old set or the new one). */
export async function replaceAuditFindings(db: Db, finishedAt: Date, summary: Record<string, unknown>, findings: readonly AuditFindingRow[]): Promise<void> {
  const kept = [...findings].sort((a, b) => ORDER[a.result] - ORDER[b.result] || (a.score ?? 11) - (b.score ?? 11)).slice(0, MAX_AUDIT_FINDINGS);
  await db.transaction(async (trx) => {
    await trx('audit_findings').delete();
    for (let i = 0; i < kept.length; i += 500) await trx('audit_findings').insert(kept.slice(i, i + 500));
    await trx.raw(
      `INSERT INTO audit_runs (id, finished_at, summary) VALUES (1, ?, ?::jsonb)
       ON CONFLICT (id) DO UPDATE SET finished_at = EXCLUDED.finished_at, summary = EXCLUDED.summary`,
      [finishedAt, JSON.stringify({ ...summary, kept: kept.length })],
    );
  });
}

/** The last audit and its worst findings (fail and error before warn, lowest score first). */
export async function auditFindings(db: Db, limit: number): Promise<{ run?: AuditSnapshot; findings: AuditFindingRow[] }> {
  const run = rowsOf<{ finished_at: Date; summary: unknown }>(await db.raw('SELECT finished_at, summary FROM audit_runs WHERE id = 1'))[0];
  if (!run) return { findings: [] };
  const rows = rowsOf<AuditFindingRow & { score: string | number | null }>(
    await db.raw(
      `SELECT namespace, kind, name, uid, repo, score, result, message FROM audit_findings
        ORDER BY CASE result WHEN 'error' THEN 0 WHEN 'fail' THEN 1 ELSE 2 END, score NULLS LAST, namespace, name LIMIT ?`,
      [limit],
    ),
  );
  const summary = typeof run.summary === 'string' ? (JSON.parse(run.summary) as Record<string, unknown>) : (run.summary as Record<string, unknown>);
  return {
    run: { finishedAt: new Date(run.finished_at), summary },
    findings: rows.map((r) => ({ ...r, score: r.score === null ? null : Number(r.score) })),
  };
}
