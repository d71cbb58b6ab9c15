// The request path shared by the HTTPS server, the functions' handle(), the offline review and the
// test harness: HTTP request in, HTTP response out, synchronously. Every AdmissionReview with a
// uid gets HTTP 200 with that uid; failures are decided here by the webhook's failurePolicy and
// enforcement, never left to an HTTP error the API server would interpret on its own.
import { performance } from 'node:perf_hooks';
import { type Logger, silentLogger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import { type QueuedCounter, type QueuedObserver, queuedCounter, queuedHistogram } from '../metrics/queued.ts';
import { type AnyWebhook, UNAUTHENTICATED_GROUP, type WebhookEntry } from './define.ts';
import { parseJson } from './json-realm.ts';
import { capWarnings, parseReview, peekReview, reviewBody } from './protocol.ts';
import type { Registry } from './registry.ts';
import type { AdmissionRequest, AdmissionResponse, ReviewApiVersion, Verdict } from './types.ts';
import { Undecided } from './verdict.ts';

export interface HttpRequestLike {
  method: string;
  /** Path, possibly with a query string (ignored). */
  path: string;
  contentType: string | undefined;
  /** Raw bytes or text, or JSON a runtime already parsed. */
  body: Buffer | string | object | undefined;
}

export interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** How a review ended, for the decisions counter and logs. */
export type Outcome = 'allowed' | 'denied' | 'warned' | 'dry-run' | 'exempt' | 'error-allowed' | 'error-denied';

export interface Decision {
  webhook: string;
  outcome: Outcome;
  response: AdmissionResponse;
}

export interface DispatcherOptions<S> {
  registry: Registry<S>;
  services: S;
  logger?: Logger;
  /** Milliseconds since the epoch (tests pin it). */
  now?: () => number;
  /** Called after every decision (tests and the CLI observe verdicts through it). */
  onDecision?: (d: Decision) => void;
}

/** The headers of every AdmissionReview answer (the HTTPS server writes this case without copying them). */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });
const TEXT_HEADERS = Object.freeze({ 'content-type': 'text/plain; charset=utf-8' });

// Every review observes these two: queued (lib/metrics/queued.ts) so a review writes a number, not a label hash.
const latency = queuedHistogram(
  'posture_admission_review_duration_seconds',
  'Time to decide one AdmissionReview (parse, authorize, serialise), by webhook.',
  ['webhook'],
  [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
);
const decisions = queuedCounter('posture_admission_decisions_total', 'AdmissionReview decisions by webhook and outcome.', ['webhook', 'outcome']);
const failures = counter(
  'posture_admission_webhook_errors_total',
  'Reviews a webhook could not decide (exception, unavailable dependency, malformed review), by webhook and kind.',
  ['webhook', 'kind'],
);
const rejected = counter('posture_admission_rejected_requests_total', 'HTTP requests that were not AdmissionReviews for a known webhook, by HTTP status.', [
  'code',
]);

function text(statusCode: number, message: string, extra: Record<string, string> = {}): HttpResponseLike {
  rejected.labels(String(statusCode)).inc();
  return { statusCode, headers: { ...TEXT_HEADERS, ...extra }, body: message.endsWith('\n') ? message : `${message}\n` };
}

function isJsonContentType(ct: string | undefined): boolean {
  if (ct === 'application/json') return true; // what the API server sends: no slicing, no case folding
  if (!ct) return false;
  const semi = ct.indexOf(';');
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

function isExempt(w: AnyWebhook, request: AdmissionRequest): boolean {
  if (w.exemptUsers.size === 0 && w.exemptGroups.size === 0) return false;
  const groups = request.userInfo.groups;
  let exempt = w.exemptUsers.has(request.userInfo.username);
  for (let i = 0; i < groups.length; i++) {
    if (groups[i] === UNAUTHENTICATED_GROUP) return false;
    if (!exempt && w.exemptGroups.has(groups[i])) exempt = true;
  }
  return exempt;
}

function isVerdict(v: unknown): v is Verdict {
  return typeof v === 'object' && v !== null && typeof (v as Verdict).allowed === 'boolean';
}

function message(err: unknown): string {
  // Not `instanceof Error`: parseJson's errors come from a context of their own (json-realm.ts).
  const m = typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : undefined;
  return typeof m === 'string' ? m : String(err);
}

const OUTCOMES: readonly Outcome[] = ['allowed', 'denied', 'warned', 'dry-run', 'exempt', 'error-allowed', 'error-denied'];

/** What a path serves, with its metric children resolved: one lookup per review finds all of it. */
export interface Route {
  webhook: AnyWebhook;
  entry: WebhookEntry;
  latency: QueuedObserver;
  outcomes: Record<Outcome, QueuedCounter>;
}

export class Dispatcher<S> {
  readonly registry: Registry<S>;
  readonly #services: S;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #onDecision?: (d: Decision) => void;
  readonly #routes = new Map<string, Route>();

  constructor(options: DispatcherOptions<S>) {
    this.registry = options.registry;
    this.#services = options.services;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#onDecision = options.onDecision;
    // Label children are resolved once: the hot path only observes.
    for (const w of this.registry.webhooks) {
      const observer = latency.labels(w.name);
      const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, decisions.labels(w.name, o)])) as Record<Outcome, QueuedCounter>;
      for (const entry of w.entries) this.#routes.set(entry.path, { webhook: w, entry, latency: observer, outcomes });
    }
  }

  /** The webhook served at a path (without its query), if any. */
  route(path: string): Route | undefined {
    return this.#routes.get(path);
  }

  /** Answers one HTTP request (body already read). Never throws. */
  dispatch(req: HttpRequestLike): HttpResponseLike {
    const q = req.path.indexOf('?');
    const path = q < 0 ? req.path : req.path.slice(0, q);
    const route = this.#routes.get(path);
    if (!route) return text(404, `no webhook is served at ${JSON.stringify(path.slice(0, 200))}`);
    return this.dispatchTo(route, req);
  }

  /** dispatch() for a request whose path the caller has already looked up with route(). Never throws. */
  dispatchTo(route: Route, req: HttpRequestLike): HttpResponseLike {
    const started = performance.now();
    if (req.method !== 'POST') return text(405, `${req.method} is not allowed: send the AdmissionReview with POST`, { allow: 'POST' });
    if (!isJsonContentType(req.contentType)) return text(415, `content type ${JSON.stringify(req.contentType ?? '')} is not supported: send application/json`);
    let body: unknown = req.body;
    if (body === undefined || body === null || ((typeof body === 'string' || Buffer.isBuffer(body)) && body.length === 0))
      return text(400, 'empty body: expected an AdmissionReview');
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      try {
        body = parseJson(typeof body === 'string' ? body : body.toString('utf8'));
      } catch (err) {
        return text(400, `the body is not JSON: ${message(err)}`);
      }
    }
    const parsed = parseReview(body);
    if (parsed.kind === 'not-a-review') return text(400, `not an AdmissionReview: ${parsed.problem}`);
    let response: AdmissionResponse;
    if (parsed.kind === 'malformed') {
      failures.labels(route.webhook.name, 'malformed').inc();
      response = this.#finish(route, parsed.uid, Undecided(`malformed AdmissionReview: ${parsed.problem}`, 400), undefined, true);
    } else {
      response = this.#decide(route, parsed.request);
    }
    const out = { statusCode: 200, headers: JSON_HEADERS, body: reviewBody(parsed.apiVersion, response) };
    route.latency.observe((performance.now() - started) / 1000);
    return out;
  }

  /**
   * Answers a request whose body was over the size limit: 200 with the uid (read from the first
   * bytes) and the webhook's failure policy when possible, 413 otherwise.
   */
  tooLarge(path: string, head: string, limit: number): HttpResponseLike {
    const q = path.indexOf('?');
    const route = this.#routes.get(q < 0 ? path : path.slice(0, q));
    if (!route) return text(404, `no webhook is served at ${JSON.stringify(path.slice(0, 200))}`);
    const peek = peekReview(head);
    const problem = `the AdmissionReview is larger than the server's limit of ${limit} bytes (admissionMaxBodyBytes)`;
    if (!peek) return text(413, problem);
    failures.labels(route.webhook.name, 'too-large').inc();
    const response = this.#finish(route, peek.uid, Undecided(problem, 413), undefined, true);
    return { statusCode: 200, headers: JSON_HEADERS, body: reviewBody(peek.apiVersion, response) };
  }

  #decide(route: Route, request: AdmissionRequest): AdmissionResponse {
    const { webhook, entry } = route;
    if (isExempt(webhook, request)) return this.#record(route, 'exempt', { uid: request.uid, allowed: true }, request);
    let verdict: Verdict;
    try {
      const v: unknown = webhook.declaration.authorize(request, {
        settings: webhook.settings,
        services: this.#services,
        namespaceLabel: entry.tier,
        now: this.#now(),
      });
      if (!isVerdict(v)) throw new Error(`authorize returned ${JSON.stringify(v)?.slice(0, 100)}, not a verdict`);
      verdict = v;
    } catch (err) {
      failures.labels(webhook.name, 'exception').inc();
      this.#logger.error({ webhook: webhook.name, uid: request.uid, err }, 'webhook threw; deciding by its failurePolicy');
      verdict = Undecided(`webhook ${webhook.name} failed: ${message(err)}`, 500);
    }
    if (verdict.error) failures.labels(webhook.name, 'unavailable').inc();
    return this.#finish(route, request.uid, verdict, request, false);
  }

  /** Applies failurePolicy (to errors) and enforcement (to denials), and builds the response. */
  #finish(route: Route, uid: string, verdict: Verdict, request: AdmissionRequest | undefined, malformed: boolean): AdmissionResponse {
    const webhook = route.webhook;
    // Most reviews are a plain allow: answered without the arrays and copies the others need
    // (a review runs with cold caches, where every allocation is memory fetched).
    if (verdict.allowed && !verdict.error && !malformed && verdict.warnings === undefined && verdict.auditAnnotations === undefined) {
      return this.#record(
        route,
        'allowed',
        verdict.message ? { uid, allowed: true, status: { code: 200, message: verdict.message } } : { uid, allowed: true },
        request,
      );
    }
    const warnings = verdict.warnings ? [...verdict.warnings] : [];
    const auditAnnotations = verdict.auditAnnotations ? { ...verdict.auditAnnotations } : undefined;
    const base = (allowed: boolean): AdmissionResponse => ({ uid, allowed });
    let outcome: Outcome;
    let response: AdmissionResponse;
    if (verdict.error || malformed) {
      const why = verdict.message ?? 'unknown error';
      // Enforcement caps the effect: a warn or dry-run webhook never denies, not even on error.
      if (webhook.failurePolicy === 'Fail') {
        outcome = 'error-denied';
        response = base(false);
        response.status = {
          code: verdict.code && verdict.code >= 400 ? verdict.code : 500,
          reason: 'InternalError',
          message: `posture webhook ${webhook.name} could not decide, and its failurePolicy is Fail: ${why}`,
        };
      } else {
        outcome = 'error-allowed';
        response = base(true);
        warnings.push(`posture webhook ${webhook.name} could not decide and let the request through: ${why}`);
      }
      this.#logger.warn({ webhook: webhook.name, uid, outcome, reason: why }, 'review not decided');
    } else if (!verdict.allowed) {
      const text = verdict.message ?? 'denied';
      if (webhook.enforcement === 'deny') {
        outcome = 'denied';
        response = base(false);
        response.status = { code: verdict.code && verdict.code >= 400 ? verdict.code : 403, reason: verdict.reason ?? 'Forbidden', message: text };
      } else if (webhook.enforcement === 'warn') {
        outcome = 'warned';
        response = base(true);
        warnings.unshift(text);
      } else {
        outcome = 'dry-run';
        response = base(true);
      }
      this.#logger.info(
        {
          webhook: webhook.name,
          uid,
          outcome,
          user: request?.userInfo.username,
          operation: request?.operation,
          namespace: request?.namespace,
          name: request?.name,
          message: text,
        },
        'review denied by policy',
      );
      if (outcome === 'dry-run') response.auditAnnotations = { ...auditAnnotations, 'dry-run-denied': text };
    } else {
      outcome = 'allowed';
      response = base(true);
      if (verdict.message) response.status = { code: 200, message: verdict.message };
    }
    if (warnings.length > 0) {
      const capped = capWarnings(warnings);
      if (capped.length > 0) response.warnings = capped;
    }
    if (auditAnnotations && !response.auditAnnotations && Object.keys(auditAnnotations).length > 0) response.auditAnnotations = auditAnnotations;
    return this.#record(route, outcome, response, request);
  }

  #record(route: Route, outcome: Outcome, response: AdmissionResponse, request: AdmissionRequest | undefined): AdmissionResponse {
    route.outcomes[outcome].inc();
    if (this.#onDecision) this.#onDecision({ webhook: route.webhook.name, outcome, response });
    if ((outcome === 'allowed' || outcome === 'exempt') && this.#logger.isLevelEnabled('debug'))
      this.#logger.debug({ webhook: route.webhook.name, uid: response.uid, outcome, user: request?.userInfo.username }, 'review allowed');
    return response;
  }
}

export type { ReviewApiVersion };
