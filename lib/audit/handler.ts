// The auditor function's logic behind handle(): a PingSource event in, one audit that writes the
// namespaces' PolicyReports, a summary out. 503 on a failure Knative should retry (database or
// API server unavailable); the next ping redoes the whole audit anyway (it is idempotent).
import type * as k8s from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { describeDatabaseError, publicFailure } from '../db/errors.ts';
import type { Db } from '../db/index.ts';
import { type Context, type Handle, reply } from '../function/handle.ts';
import type { Logger } from '../log/index.ts';
import { counter, gauge } from '../metrics/index.ts';
import { auditCluster } from './index.ts';
import type { AuditApi } from './run.ts';

const audits = counter('posture_audit_runs_total', 'Audits of running workloads by status', ['status']);
const results = gauge('posture_audit_workloads', 'Audited workloads by PolicyReport result, as of the last audit', ['result']);
const writes = counter('posture_audit_report_writes_total', 'PolicyReport writes by action (nothing is written for an unchanged namespace)', ['action']);

export interface AuditorDeps {
  config: Config;
  db: Db;
  log: Logger;
  kc?: k8s.KubeConfig;
  api?: AuditApi;
}

export function createAuditHandle(deps: () => Promise<AuditorDeps>): Handle {
  return async (context: Context) => {
    if (!context.cloudevent) {
      audits.inc({ status: 'rejected' });
      return reply(400, { error: 'expected a CloudEvent (the PingSource of the auditor)' });
    }
    try {
      const d = await deps();
      const started = Date.now();
      const o = await auditCluster({ config: d.config, db: d.db, kc: d.kc, api: d.api, write: true });
      for (const r of ['pass', 'fail', 'warn', 'error'] as const) results.set({ result: r }, o.summary[r]);
      writes.inc({ action: 'create' }, o.reports.created);
      writes.inc({ action: 'replace' }, o.reports.replaced);
      writes.inc({ action: 'delete' }, o.reports.deleted);
      audits.inc({ status: 'done' });
      const { findings, actions, ...summary } = o;
      d.log.info({ audit: { ...summary, ms: Date.now() - started } }, 'audit');
      return reply(200, { ...summary, ms: Date.now() - started });
    } catch (err) {
      audits.inc({ status: 'unavailable' });
      context.log.error({ err: describeDatabaseError(err) }, 'audit failed');
      return reply(503, { error: `audit failed: ${publicFailure(err)}` });
    }
  };
}
