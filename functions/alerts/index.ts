// Knative function: a change event (dev.posture.score.changed, dev.posture.policy.changed) →
// the alert decided, recorded once and delivered (signed webhook, GitHub issue).

import { alertDepsOf, createAlertsHandle, describeTargets } from '../../lib/alerts/handler.ts';
import type { AlertServiceDeps } from '../../lib/alerts/service.ts';
import { closeRuntime, sharedDatabaseRuntime } from '../../lib/function/runtime.ts';

const runtime = sharedDatabaseRuntime('alerts');
let deps: AlertServiceDeps | undefined;

export const handle = createAlertsHandle(async () => {
  if (deps) return deps;
  const r = await runtime();
  const targets = describeTargets(r.config);
  for (const w of targets.warnings) r.log.warn(w);
  r.log.info({ webhook: targets.webhook, githubIssues: targets.githubIssues }, 'alert targets');
  deps = alertDepsOf(r);
  return deps;
});

export async function shutdown(): Promise<void> {
  await closeRuntime();
}
