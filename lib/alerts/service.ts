// The alerts service: one change event in, at most one alert per target out, whatever the
// number of deliveries of the event (at-least-once in from Knative or `posture up`). The
// decision and the deliveries to make are stored in one transaction keyed by the event id
// (lib/db/alerts.ts); then each pending or failed delivery is attempted with retries, and its
// outcome recorded and counted. A redelivered event retries only what is not delivered yet.
import { type AlertEventRecord, type Db, type DeliveryRecord, recordAlertEvent, recordDelivery, undeliveredOf } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import { type AlertInput, decide, type OpenAlert } from './decide.ts';
import { applyToIssue, GitHubRequestError, homeOf, type IssuesMode, type IssueTracker } from './issues.ts';
import { alertMessage } from './message.ts';
import { repoAllows, type TargetLimiter } from './rate.ts';
import { backoffDelay, deliverWebhook, type WebhookOptions } from './webhook.ts';

export const WEBHOOK_TARGET = 'webhook';
export const ISSUES_TARGET = 'github-issues';

const deliveries = counter(
  'posture_alert_deliveries_total',
  'Alert deliveries by target and outcome (delivered, failed after its retries, suppressed by the per-repository limit)',
  ['target', 'outcome'],
);
const actions = counter('posture_alert_events_total', 'Change events the alerts acted on, by decision (open, update, close, none, duplicate)', ['action']);

export interface AlertServiceDeps {
  db: Db;
  log: Logger;
  /** POSTURE_SCORE_CHANGE_THRESHOLD. */
  threshold: number;
  publicUrl?: string;
  webhook?: Omit<WebhookOptions, 'attempts'>;
  issues?: { mode: IssuesMode; tracker: IssueTracker };
  /** Attempts per delivery (POSTURE_ALERTS_WEBHOOK_ATTEMPTS). */
  attempts: number;
  repoIntervalMs: number;
  limiter: TargetLimiter;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

export interface AlertOutcome {
  eventId: string;
  repo: string;
  action: string;
  /** false: the event was acted on before (a redelivery). */
  fresh: boolean;
  deliveries: Array<{ target: string; status: string; attempts: number; error?: string; detail?: string }>;
}

function targetsOf(deps: AlertServiceDeps, repo: string): string[] {
  const t: string[] = [];
  if (deps.webhook) t.push(WEBHOOK_TARGET);
  if (deps.issues && homeOf(deps.issues.mode, repo)) t.push(ISSUES_TARGET);
  return t;
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A GitHub call worth another try: 5xx, 429, a 403 rate limit, or no answer at all. */
function retriable(err: unknown): boolean {
  if (err instanceof GitHubRequestError) return err.status >= 500 || err.status === 429 || (err.status === 403 && /rate limit/i.test(err.message));
  return true;
}

async function deliverIssue(
  deps: AlertServiceDeps,
  ev: AlertEventRecord,
): Promise<{ ok: boolean; attempts: number; status?: number; error?: string; detail?: string }> {
  const { mode, tracker } = deps.issues!;
  const home = homeOf(mode, ev.repo)!;
  const sleep = deps.sleep ?? sleepMs;
  let last: { ok: boolean; attempts: number; status?: number; error?: string } = { ok: false, attempts: 0 };
  for (let n = 0; n < deps.attempts; n++) {
    try {
      const detail = await applyToIssue(tracker, home, {
        repo: ev.repo,
        eventId: ev.eventId,
        action: ev.action as 'open' | 'update' | 'close',
        title: ev.title,
        markdown: ev.markdown,
      });
      return { ok: true, attempts: n + 1, detail };
    } catch (err) {
      last = { ok: false, attempts: n + 1, error: (err as Error).message, ...(err instanceof GitHubRequestError ? { status: err.status } : {}) };
      if (!retriable(err)) return last;
    }
    if (n + 1 < deps.attempts) await sleep(backoffDelay(n, deps.webhook?.backoffMs ?? 1000, deps.webhook?.maxBackoffMs ?? 60_000));
  }
  return last;
}

type Attempted = { ok: boolean; attempts: number; status?: number; error?: string; detail?: string };

async function deliverOne(deps: AlertServiceDeps, ev: AlertEventRecord, d: DeliveryRecord): Promise<Attempted> {
  await deps.limiter.take(d.target);
  if (d.target === WEBHOOK_TARGET && deps.webhook) {
    return deliverWebhook(
      {
        text: ev.text,
        id: ev.eventId,
        action: ev.action as 'open',
        repo: ev.repo,
        reasons: ev.reasons,
        title: ev.title,
        markdown: ev.markdown,
        ...(ev.link ? { link: ev.link } : {}),
      },
      { ...deps.webhook, attempts: deps.attempts, ...(deps.sleep ? { sleep: deps.sleep } : {}) },
    );
  }
  if (d.target === ISSUES_TARGET && deps.issues) return deliverIssue(deps, ev);
  // The target was configured when the event was recorded and is not any more.
  return { ok: false, attempts: 0, error: `target ${d.target} is not configured` };
}

/** Acts on one change event (already parsed): decides, records, delivers. */
export async function handleAlert(deps: AlertServiceDeps, input: AlertInput, type: string): Promise<AlertOutcome> {
  const now = deps.now ?? (() => new Date());
  let suppressed: string[] = [];
  const { fresh, event } = await recordAlertEvent<OpenAlert>(deps.db, {
    eventId: input.id,
    repo: input.repo,
    type,
    decide: (state, lastSentAt) => {
      const d = decide(state, input, deps.threshold);
      if (d.action === 'none') return { action: 'none', reasons: [], next: d.next, title: '', text: '', markdown: '', deliveries: [] };
      const msg = alertMessage(input, d.action, d.reasons, deps.publicUrl ? { publicUrl: deps.publicUrl } : {});
      const status = repoAllows(d.action, lastSentAt, now(), deps.repoIntervalMs) ? 'pending' : 'suppressed';
      const targets = targetsOf(deps, input.repo);
      suppressed = status === 'suppressed' ? targets : [];
      return { action: d.action, reasons: d.reasons, next: d.next, ...msg, deliveries: targets.map((target) => ({ target, status })) };
    },
  });
  actions.inc({ action: fresh ? event.action : 'duplicate' });
  const out: AlertOutcome = { eventId: event.eventId, repo: event.repo, action: event.action, fresh, deliveries: [] };
  // The transaction may have run more than once (a retry): what counts is its last run's, which is the stored one.
  if (fresh) for (const t of suppressed) deliveries.inc({ target: t, outcome: 'suppressed' });
  for (const d of await undeliveredOf(deps.db, event.eventId)) {
    const r = await deliverOne(deps, event, d);
    const detail = r.detail;
    await recordDelivery(deps.db, d.id, { ...r, ...(detail ? { detail } : {}) });
    deliveries.inc({ target: d.target, outcome: r.ok ? 'delivered' : 'failed' });
    if (!r.ok) deps.log.warn({ repo: event.repo, event: event.eventId, target: d.target, attempts: r.attempts, err: r.error }, 'alert not delivered');
    else deps.log.info({ repo: event.repo, event: event.eventId, target: d.target, action: event.action }, 'alert delivered');
    out.deliveries.push({
      target: d.target,
      status: r.ok ? 'delivered' : 'failed',
      attempts: r.attempts,
      ...(r.error && !r.ok ? { error: r.error } : {}),
      ...(detail ? { detail } : {}),
    });
  }
  return out;
}
