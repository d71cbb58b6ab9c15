// Delivers one alert to POSTURE_ALERTS_WEBHOOK_URL: a signed JSON POST, retried with exponential
// backoff (and a Retry-After when the receiver sends one) on a network error, a timeout, 429 or
// 5xx; any other 4xx is the receiver refusing the alert and is not retried. The secret and the
// URL (a chat tool's webhook URL is itself a credential) are never logged or returned.
import { type Dispatcher, request } from 'undici';
import type { AlertAction } from './decide.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signature, TIMESTAMP_HEADER } from './sign.ts';

export interface WebhookBody {
  /** What chat tools display. */
  text: string;
  /** The CloudEvent id: a receiver that sees it twice has the alert already. */
  id: string;
  /** ISO time of this attempt (signed with the body: reject stale ones). */
  sentAt: string;
  action: AlertAction;
  repo: string;
  reasons: string[];
  title: string;
  markdown: string;
  link?: string;
}

export interface WebhookOptions {
  url: string;
  secret?: string;
  /** Attempts in all (default 4). */
  attempts?: number;
  /** First backoff; doubles each retry (default 1 s). */
  backoffMs?: number;
  /** Longest single wait, also for Retry-After (default 60 s). */
  maxBackoffMs?: number;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  /** The last HTTP status, if any answer came. */
  status?: number;
  /** Why the last attempt failed, without the URL. */
  error?: string;
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function backoffDelay(retry: number, baseMs: number, maxMs: number, retryAfter?: string | string[]): number {
  const ra = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  if (ra !== undefined && /^\d+$/.test(ra.trim())) return Math.min(maxMs, Number(ra) * 1000);
  return Math.min(maxMs, baseMs * 2 ** retry);
}

export async function deliverWebhook(body: Omit<WebhookBody, 'sentAt'>, o: WebhookOptions): Promise<DeliveryOutcome> {
  const attempts = o.attempts ?? 4;
  const sleep = o.sleep ?? sleepMs;
  let last: DeliveryOutcome = { ok: false, attempts: 0 };
  for (let n = 0; n < attempts; n++) {
    const sentAt = (o.now?.() ?? new Date()).toISOString();
    const raw = JSON.stringify({ ...body, sentAt });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'posture-alerts',
      [DELIVERY_HEADER]: body.id,
      [TIMESTAMP_HEADER]: String(Math.floor(Date.parse(sentAt) / 1000)),
    };
    if (o.secret) headers[SIGNATURE_HEADER] = signature(o.secret, raw);
    let retryAfter: string | string[] | undefined;
    try {
      const res = await request(o.url, {
        method: 'POST',
        headers,
        body: raw,
        headersTimeout: o.timeoutMs ?? 10_000,
        bodyTimeout: o.timeoutMs ?? 10_000,
        ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, attempts: n + 1, status: res.statusCode };
      last = { ok: false, attempts: n + 1, status: res.statusCode, error: `receiver answered ${res.statusCode}` };
      if (res.statusCode !== 429 && res.statusCode < 500) return last;
      retryAfter = res.headers['retry-after'];
    } catch (err) {
      // undici's messages name the host at most, never the path or query (where chat tools put their token).
      last = { ok: false, attempts: n + 1, error: `could not reach the receiver: ${(err as Error & { code?: string }).code ?? (err as Error).name}` };
    }
    if (n + 1 < attempts) await sleep(backoffDelay(n, o.backoffMs ?? 1000, o.maxBackoffMs ?? 60_000, retryAfter));
  }
  return last;
}
