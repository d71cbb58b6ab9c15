// The one HTTP layer under every Kubernetes call posture makes. client-node 2.x builds a new
// undici Agent (so a new TLS handshake) for every request; this keeps one keep-alive Agent per
// process and kubeconfig, bounds each call in time (a timeout and the caller's abort signal),
// spaces calls with a token bucket (client-go's QPS/burst), and reads the API server's
// Retry-After hints so retries wait as long as the server asked (capped).

import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { Agent, type Dispatcher, request } from 'undici';

export interface TransportOptions {
  /** Sustained requests per second (token bucket refill). */
  qps: number;
  /** Requests allowed at once above the sustained rate (bucket size). */
  burst: number;
  /** Whole-call timeout of a JSON call; for a stream, the wait for headers and between body chunks. */
  timeoutMs: number;
}

export const DEFAULT_TRANSPORT: TransportOptions = { qps: 50, burst: 100, timeoutMs: 30000 };

/** A failed Kubernetes call, classified for retry decisions. */
export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  /** How long the server asked us to wait before retrying (Retry-After or details.retryAfterSeconds). */
  readonly retryAfterSeconds: number | undefined;
  /** For 410 on a list: the inconsistent continue token the server offers, if any. */
  readonly continueToken: string | undefined;
  constructor(status: number, message: string, reason = '', extra: { retryAfterSeconds?: number; continueToken?: string } = {}) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.continueToken = extra.continueToken;
  }
  /** 429, 5xx and transport failures (status 0) may succeed later. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path from the server root, e.g. /apis/batch/v1/namespaces/x/jobs. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Accept header; default application/json. */
  accept?: string;
  signal?: AbortSignal;
  /** Overrides the transport's timeout for this call. */
  timeoutMs?: number;
}

export interface TransportStats {
  requests: number;
  /** New connections opened (each one TLS handshake on an https server). */
  connections: number;
  /** Response body bytes received. */
  bytesIn: number;
  /** Milliseconds spent waiting for the rate limiter. */
  throttledMs: number;
}

/** A token bucket: `take()` resolves when a token is available; FIFO among waiters. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  #tail: Promise<void> = Promise.resolve();
  readonly qps: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  constructor(qps: number, burst: number, clock: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {}) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError(`rate limit needs qps > 0 and burst >= 1, got ${qps}/${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.#now = clock.now ?? (() => performance.now());
    this.#sleep = clock.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#tokens = burst;
    this.#last = this.#now();
  }
  /** Waits for a token; returns the milliseconds waited. */
  take(): Promise<number> {
    const mine = this.#tail.then(async () => {
      let waited = 0;
      for (;;) {
        const t = this.#now();
        this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.qps);
        this.#last = t;
        if (this.#tokens >= 1) {
          this.#tokens -= 1;
          return waited;
        }
        const ms = Math.ceil(((1 - this.#tokens) / this.qps) * 1000);
        waited += ms;
        await this.#sleep(ms);
      }
    });
    this.#tail = mine.then(
      () => undefined,
      () => undefined,
    );
    return mine;
  }
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function firstLine(s: string): string {
  return String(s).split('\n')[0].slice(0, 500);
}

/** A KubeError from an HTTP status, headers and body (a metav1.Status when the API server answered). */
export function errorFromResponse(status: number, headers: Record<string, string | string[] | undefined>, text: string): KubeError {
  let body: { message?: string; reason?: string; details?: { retryAfterSeconds?: number }; metadata?: { continue?: string } } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    /* not a Status */
  }
  const header = parseRetryAfter(headers['retry-after']);
  const detail = typeof body?.details?.retryAfterSeconds === 'number' ? body.details.retryAfterSeconds : undefined;
  const message = body?.message ?? (text.trim() || `HTTP ${status}`);
  return new KubeError(status, `HTTP ${status}: ${firstLine(message)}`, body?.reason ?? '', {
    retryAfterSeconds: header ?? detail,
    continueToken: body?.metadata?.continue || undefined,
  });
}

function transportError(err: unknown, what: string): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') {
    return new KubeError(0, `the Kubernetes API did not answer ${what} in time`, 'Timeout');
  }
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') return new KubeError(0, `${what} was aborted`, 'Aborted');
  return new KubeError(0, `cannot reach the Kubernetes API: ${firstLine(e?.cause?.code ?? e?.code ?? e?.message ?? String(err))}`);
}

/** TLS settings from the kubeconfig's current cluster and user, as client-node reads them. */
function tlsOptions(kc: k8s.KubeConfig): Record<string, unknown> {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  const read = (file?: string, data?: string) => (file ? readFileSync(file) : data ? Buffer.from(data, 'base64') : undefined);
  const out: Record<string, unknown> = {};
  const ca = read(cluster?.caFile, cluster?.caData);
  if (ca) out.ca = ca;
  const cert = read(user?.certFile, user?.certData);
  if (cert) out.cert = cert;
  const key = read(user?.keyFile, user?.keyData);
  if (key) out.key = key;
  if (cluster?.skipTLSVerify) out.rejectUnauthorized = false;
  if (cluster?.tlsServerName) out.servername = cluster.tlsServerName;
  return out;
}

/** The tick creates 8 Jobs at a time: as many HTTP/1.1 connections are enough. */
const MAX_CONNECTIONS = 8;

/** Auth headers are asked of the kubeconfig at most this often (client-go re-reads a token file each minute). */
const AUTH_REFRESH_MS = 60000;

export class KubeTransport {
  readonly stats: TransportStats = { requests: 0, connections: 0, bytesIn: 0, throttledMs: 0 };
  readonly options: TransportOptions;
  readonly #kc: k8s.KubeConfig;
  readonly #server: string;
  #dispatcher: Dispatcher | undefined;
  readonly #proxied: boolean;
  readonly #limiter: TokenBucket;
  #auth: { headers: Record<string, string>; at: number } | undefined;

  constructor(kc: k8s.KubeConfig, options: Partial<TransportOptions> = {}) {
    this.#kc = kc;
    this.options = { ...DEFAULT_TRANSPORT, ...options };
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeError(0, 'no current cluster in the kubeconfig');
    this.#server = cluster.server.replace(/\/+$/, '');
    this.#limiter = new TokenBucket(this.options.qps, this.options.burst);
    // Proxies (http, socks) are client-node's business: its dispatcher is taken once and kept.
    this.#proxied = Boolean(cluster.proxyUrl);
    if (!this.#proxied) {
      // HTTP/2 when the server offers it (the API server does, as client-go uses it): every call
      // multiplexed on one connection. Over HTTP/1.1, at most MAX_CONNECTIONS at once. Idle
      // connections stay open 30 s (the tick and the harvester call in bursts).
      this.#use(
        new Agent({
          connect: { ...tlsOptions(kc), keepAlive: true, keepAliveInitialDelay: 30000 },
          allowH2: true,
          keepAliveTimeout: 30000,
          keepAliveMaxTimeout: 60000,
          connections: MAX_CONNECTIONS,
        }),
      );
    }
  }

  #use(d: Dispatcher): Dispatcher {
    this.#dispatcher = d;
    d.on('connect', () => {
      this.stats.connections++;
    });
    return d;
  }

  async #headers(): Promise<Record<string, string>> {
    if (this.#auth && performance.now() - this.#auth.at < AUTH_REFRESH_MS) return this.#auth.headers;
    const ctx = new k8s.RequestContext(this.#server, k8s.HttpMethod.GET);
    await this.#kc.applySecurityAuthentication(ctx);
    // client-node made a dispatcher for this context too: kept once behind a proxy, otherwise
    // closed at once (it never connected, so that is free).
    const made = ctx.getDispatcher() as Dispatcher | undefined;
    if (this.#proxied && !this.#dispatcher) this.#use(made ?? new Agent());
    else if (made) void made.close().catch(() => {});
    this.#auth = { headers: { ...ctx.getHeaders() }, at: performance.now() };
    return this.#auth.headers;
  }

  #url(req: KubeRequest): string {
    const u = new URL(this.#server + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
    return u.toString();
  }

  async #send(req: KubeRequest, signal: AbortSignal, timeoutMs: number): Promise<Dispatcher.ResponseData> {
    signal.throwIfAborted();
    this.stats.requests++;
    const headers: Record<string, string> = { ...(await this.#headers()), accept: req.accept ?? 'application/json' };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    return request(this.#url(req), {
      dispatcher: this.#dispatcher!,
      method: req.method,
      headers,
      body,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // undici closes a connection after a body on a method that "does not expect one"; the API
      // server reads DeleteOptions from a DELETE's body, so the connection stays good.
      ...(body !== undefined && req.method === 'DELETE' ? { reset: false } : {}),
    });
  }

  /** One call whose answer is JSON; throws KubeError on any non-2xx answer or transport failure. */
  async json<T>(req: KubeRequest): Promise<T> {
    // The rate limiter's wait is not the call's: its timeout starts when the call can go.
    this.stats.throttledMs += await this.#limiter.take();
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    // One timer per call, cleared when it ends (AbortSignal.timeout's would stay scheduled for
    // the whole timeout after every call).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, controller.signal]) : controller.signal;
    const what = `${req.method} ${req.path}`;
    try {
      const res = await this.#send(req, signal, timeoutMs);
      const text = await res.body.text();
      this.stats.bytesIn += Buffer.byteLength(text);
      if (res.statusCode < 200 || res.statusCode >= 300) throw errorFromResponse(res.statusCode, res.headers, text);
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (err) {
      throw transportError(signal.aborted && signal.reason instanceof Error ? signal.reason : err, what);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A streamed answer (a pod log): the timeout bounds the wait for headers and each gap between chunks. */
  async stream(req: KubeRequest): Promise<{ chunks: AsyncIterable<Buffer>; abort(): void }> {
    this.stats.throttledMs += await this.#limiter.take();
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const controller = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, controller.signal]) : controller.signal;
    const what = `${req.method} ${req.path}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#send(req, signal, timeoutMs);
    } catch (err) {
      throw transportError(err, what);
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      throw errorFromResponse(res.statusCode, res.headers, text);
    }
    const body = res.body as unknown as Readable;
    body.on('error', () => {}); // an abort after the cap is expected, not a failure
    const stats = this.stats;
    // Leaving the consumer's for-await early returns this generator, which destroys the body.
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const c of body) {
        stats.bytesIn += (c as Buffer).length;
        yield c as Buffer;
      }
    }
    return {
      chunks: counted(),
      abort() {
        controller.abort();
        body.destroy();
      },
    };
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }
}

const shared = new WeakMap<k8s.KubeConfig, KubeTransport>();

/** The process's transport for a kubeconfig: one connection pool and one rate limiter per identity. */
export function sharedTransport(kc: k8s.KubeConfig, options: Partial<TransportOptions> = {}): KubeTransport {
  let t = shared.get(kc);
  if (!t) {
    t = new KubeTransport(kc, options);
    shared.set(kc, t);
  }
  return t;
}
