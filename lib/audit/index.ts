// The audit of what already runs, wired to the cluster and the database: what `posture audit`
// and the auditor function (a PingSource tick) call.
import * as k8s from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { type AuditFindingRow, replaceAuditFindings } from '../db/audit.ts';
import type { Db } from '../db/index.ts';
import { latestScoresOf } from '../db/scores.ts';
import { defaultKubeConfig, transportOptionsOf } from '../kube/cluster.ts';
import { minimumScoreJudge } from './judge.ts';
import { kubeAuditApi } from './kube.ts';
import { type AuditApi, type AuditOutcome, runAudit } from './run.ts';

export { type AuditOutcome, runAudit } from './run.ts';

/** The kubeconfig of an environment: $KUBECONFIG's first file, else kubectl's defaults (in-cluster included). */
export function kubeConfigOf(env: Record<string, string | undefined>): k8s.KubeConfig {
  const file = env.KUBECONFIG?.split(':').find((f) => f !== '');
  if (!file) return defaultKubeConfig();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export interface ClusterAuditOptions {
  config: Config;
  db: Db;
  api?: AuditApi;
  kc?: k8s.KubeConfig;
  write: boolean;
  pageSize?: number;
  maxResults?: number;
}

/**
 * One audit of the cluster against the database's latest scores, judged by the gate's minimum
 * score. With write, the PolicyReports that changed are written and the findings that are not
 * passes replace the last audit's in the database (the dashboard's page).
 */
export async function auditCluster(o: ClusterAuditOptions): Promise<AuditOutcome> {
  const api = o.api ?? kubeAuditApi(o.kc ?? defaultKubeConfig(), transportOptionsOf(o.config));
  const outcome = await runAudit({
    api,
    scores: (keys) => latestScoresOf(o.db, keys),
    // The gate's rule today; a namespace's policy plugs in here as another JudgeFor.
    judgeFor: (scores) => minimumScoreJudge(scores, o.config.gateThreshold),
    allowedHosts: o.config.allowedHosts,
    write: o.write,
    pageSize: o.pageSize,
    maxResults: o.maxResults,
  });
  if (o.write) {
    const rows: AuditFindingRow[] = [];
    for (const f of outcome.findings) {
      if (f.result !== 'fail' && f.result !== 'warn' && f.result !== 'error') continue;
      const w = f.workload;
      rows.push({ namespace: w.namespace, kind: w.kind, name: w.name, uid: w.uid, repo: f.repo, score: f.score ?? null, result: f.result, message: f.message });
    }
    await replaceAuditFindings(
      o.db,
      new Date(),
      { ...outcome.summary, workloads: outcome.workloads, listed: outcome.listed, namespaces: outcome.reports.namespaces },
      rows,
    );
  }
  return outcome;
}
