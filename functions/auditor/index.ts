// Knative function: a PingSource event → one audit of the running workloads, which writes the
// namespaces' PolicyReports (lib/audit).
import { createAuditHandle } from '../../lib/audit/handler.ts';
import { closeRuntime, sharedDatabaseRuntime } from '../../lib/function/runtime.ts';

const runtime = sharedDatabaseRuntime('auditor');

export const handle = createAuditHandle(async () => {
  const r = await runtime();
  const { defaultKubeConfig } = await import('../../lib/kube/cluster.ts');
  return { ...r, kc: defaultKubeConfig() };
});

export const shutdown = closeRuntime;
