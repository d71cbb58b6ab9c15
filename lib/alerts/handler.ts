// The alerts function's logic behind handle(): a `dev.posture.score.changed` or
// `dev.posture.policy.changed` CloudEvent in; the alert decided, recorded and delivered.
// Replies follow Knative's retry rules: 2xx done (or nothing to do), 400 never retried, 503
// retried (the database is unreachable, or a delivery failed after its own retries: the
// redelivered event retries only what is not delivered yet).
import type { Dispatcher } from 'undici';
import type { Config } from '../config/index.ts';
import { describeDatabaseError, publicFailure } from '../db/errors.ts';
import type { Db } from '../db/index.ts';
import { type Context, type Handle, reply } from '../function/handle.ts';
import type { Logger } from '../log/index.ts';
import { alertInputOf } from './decide.ts';
import { type IssueTracker, issuesModeOf, RestIssueTracker } from './issues.ts';
import { TargetLimiter } from './rate.ts';
import { type AlertServiceDeps, handleAlert } from './service.ts';

export interface AlertsRuntime {
  config: Config;
  db: Db;
  log: Logger;
}

/** The service's dependencies from the configuration (tests pass a dispatcher trusting the fake's CA, or their own tracker). */
export function alertDepsOf(
  r: AlertsRuntime,
  o: { dispatcher?: Dispatcher; tracker?: IssueTracker; limiter?: TargetLimiter; sleep?: (ms: number) => Promise<void>; backoffMs?: number } = {},
): AlertServiceDeps {
  const c = r.config;
  const mode = issuesModeOf(c.alertsGithubIssues);
  return {
    db: r.db,
    log: r.log,
    threshold: c.scoreChangeThreshold,
    ...(c.publicUrl ? { publicUrl: c.publicUrl } : {}),
    ...(c.alertsWebhookUrl
      ? {
          webhook: {
            url: c.alertsWebhookUrl,
            ...(c.alertsWebhookSecret ? { secret: c.alertsWebhookSecret } : {}),
            ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
            ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
          },
        }
      : {}),
    ...(mode.kind !== 'off'
      ? {
          issues: {
            mode,
            tracker:
              o.tracker ??
              new RestIssueTracker({
                apiUrl: c.alertsGithubApiUrl,
                ...(c.alertsGithubToken ? { token: c.alertsGithubToken } : {}),
                ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
              }),
          },
        }
      : {}),
    attempts: c.alertsWebhookAttempts,
    repoIntervalMs: c.alertsRepoIntervalSeconds * 1000,
    limiter: o.limiter ?? new TargetLimiter(c.alertsTargetPerMinute, 60_000),
    ...(o.sleep ? { sleep: o.sleep } : {}),
  };
}

/** What a process starting the alerts says about its targets (never the URL or secrets). */
export function describeTargets(c: Config): { webhook: string; githubIssues: string; warnings: string[] } {
  const warnings: string[] = [];
  if (c.alertsWebhookUrl && !c.alertsWebhookSecret) warnings.push('POSTURE_ALERTS_WEBHOOK_SECRET is not set: webhook deliveries are not signed');
  if (c.alertsGithubIssues !== 'off' && !c.alertsGithubToken) warnings.push('POSTURE_ALERTS_GITHUB_TOKEN is not set: GitHub will refuse to open issues');
  return { webhook: c.alertsWebhookUrl ? 'on' : 'off', githubIssues: c.alertsGithubIssues, warnings };
}

export function createAlertsHandle(deps: () => Promise<AlertServiceDeps>): Handle {
  return async (context: Context) => {
    const ev = context.cloudevent;
    if (!ev) return reply(400, { error: 'expected a CloudEvent (dev.posture.score.changed or dev.posture.policy.changed)' });
    const input = alertInputOf(ev);
    if (typeof input === 'string') return reply(400, { error: input });
    let d: AlertServiceDeps;
    try {
      d = await deps();
    } catch (err) {
      context.log.warn({ err: describeDatabaseError(err) }, 'alerts unavailable');
      return reply(503, { error: `unavailable: ${publicFailure(err)}` });
    }
    try {
      const out = await handleAlert(d, input, ev.type);
      const failed = out.deliveries.filter((x) => x.status === 'failed');
      return reply(failed.length ? 503 : 200, out);
    } catch (err) {
      context.log.warn({ err: describeDatabaseError(err), event: ev.id }, 'alert not recorded; asking for a retry');
      return reply(503, { error: `unavailable: ${publicFailure(err)}` });
    }
  };
}
