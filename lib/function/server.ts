// A small HTTP server for functions: the faas-js-runtime contract without its traps (an invalid
// CloudEvent is a 400, not a 500; errors never leak as retryable codes by accident; ephemeral
// ports work; a stack is logged, never sent). Health, readiness and metrics beside it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import type { Logger } from '../log/index.ts';
import { collectDefaultMetrics, DEFAULT_BUCKETS, metricsText } from '../metrics/index.ts';
import { type QueuedCounter, queuedCounter, queuedHistogram } from '../metrics/queued.ts';
import { type Context, type Handle, type HandlerResult, isStreamed } from './handle.ts';
import { parseCloudEvent } from './parse-cloudevent.ts';

export interface ServeOptions {
  name: string;
  handle: Handle;
  log: Logger;
  port?: number;
  host?: string;
  /**
   * Largest request body read, in bytes, per request (method and path as sent); 0: the request
   * takes no body, and one that comes with a body is refused (413) before any of it is read.
   * Default: BODY_LIMIT for the methods that carry a body, 0 for GET, HEAD, OPTIONS and DELETE.
   */
  bodyLimit?: number | ((method: string, path: string) => number);
  /** Readiness: false answers 503 (e.g. database not reachable yet). */
  ready?: () => boolean | Promise<boolean>;
  /** What /readyz says besides: when it gives an object, the answer is JSON `{ready, ...detail}` (e.g. the policy file's state). */
  readyDetail?: () => Record<string, unknown> | undefined;
  /** Serve /metrics on this server (default true). The public score API serves it on its own port instead. */
  metrics?: boolean;
}

/**
 * The request's path exactly as sent, without the query: WHATWG URL parsing would resolve
 * `..` and read `//host/...` as an authority, so a router would see another path than the
 * client asked for. An absolute-form target (`GET http://h/p`) gives its path.
 */
export function rawPath(url: string | undefined): string {
  const u = url ?? '/';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) return u.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/)[0] || '/';
  return u.split(/[?#]/)[0];
}

// Queued (lib/metrics/queued.ts): an ignored Job event is most of what a harvester answers, and prom-client's
// inc and observe hash their label set on every call; the scrape still shows exact figures.
const invocations = queuedCounter('posture_function_invocations_total', 'Function invocations by function and status code', ['function', 'code']);
const latency = queuedHistogram('posture_function_duration_seconds', 'Function handling time', ['function'], DEFAULT_BUCKETS);

/** The default cap of a body where a function takes one (a CloudEvent, an AdmissionReview-sized object). */
export const BODY_LIMIT = 10 * 1024 * 1024;
const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

/** The default per-request cap: none for the methods that carry no body. */
export function defaultBodyLimit(method: string): number {
  return NO_BODY_METHODS.has(method.toUpperCase()) ? 0 : BODY_LIMIT;
}

/**
 * Whether a request must be refused before its body is read: it says it is longer than the cap
 * (Content-Length), or it has a body (any length, or chunked) where none is taken.
 */
export function bodyRefused(headers: IncomingMessage['headers'], limit: number): boolean {
  const length = headers['content-length'];
  if (length !== undefined && Number(length) > limit) return true;
  return limit === 0 && headers['transfer-encoding'] !== undefined;
}

/**
 * The request's body, or 'too-large' past `limit` bytes (the rest is not kept). Read with 'data'
 * events, not an async iterator: one promise per request instead of one per chunk and the
 * iterator's own.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // The 413 is sent; the rest is drained, not kept. A reset while draining needs no listener:
        // Node drops a request's error when none listens (server.test proves it on this Node).
        req.off('data', onData).off('end', onEnd).off('error', onError);
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    const onError = (err: Error) => reject(err);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

const EMPTY = Buffer.alloc(0);

const tooLarge = (limit: number) => (limit === 0 ? 'this request takes no body' : `request body larger than ${limit} bytes`);

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

/** Whether a request carries a CloudEvent (CloudEvents HTTP binding: binary, structured or batched mode). */
export function isCloudEventRequest(headers: IncomingMessage['headers']): boolean {
  if (headers['ce-specversion'] !== undefined) return true;
  const ct = String(headers['content-type'] ?? '')
    .trimStart()
    .toLowerCase();
  return ct.startsWith('application/cloudevents+json') || ct.startsWith('application/cloudevents-batch+json');
}

/**
 * The query's parameters; one given more than once keeps every value, in order (an array), so a
 * route that takes it once can refuse the request instead of silently using one of them.
 */
export function queryOf(target: string): Record<string, string | string[]> {
  // A Map, then fromEntries: a parameter named __proto__ stays a parameter.
  const values = new Map<string, string[]>();
  for (const [k, v] of new URL(target, 'http://localhost').searchParams) {
    const had = values.get(k);
    if (had) had.push(v);
    else values.set(k, [v]);
  }
  return Object.fromEntries([...values].map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
}

/** Builds the Context and second argument for a request, like faas-js-runtime does. */
export function toInvocation(req: IncomingMessage, raw: Buffer, log: Logger): { context: Context; event: unknown } | { error: string } {
  const target = req.url ?? '/';
  const headers = req.headers;
  const context: Context = {
    log,
    method: req.method ?? 'GET',
    path: rawPath(target),
    headers,
    // Most requests (every event) have no query: no URL is parsed for them.
    query: target.includes('?') ? queryOf(target) : {},
    rawBody: raw,
  };
  const text = raw.toString('utf8');
  // A CloudEvent is told by its headers (binary mode: ce-specversion; structured or batched: a
  // cloudevents content type) and parsed once: the SDK's HTTP.isEvent is a whole parse that throws
  // and catches, and every Job change reaches the harvester as one.
  if (isCloudEventRequest(headers)) {
    try {
      const ev = parseCloudEvent(headers, text);
      const event = (Array.isArray(ev) ? ev[0] : ev) as CloudEvent<unknown> | undefined;
      if (!event) return { error: 'malformed CloudEvent: an empty batch' };
      event.validate();
      context.body = text;
      context.cloudevent = event;
      return { context, event };
    } catch (err) {
      return { error: `malformed CloudEvent: ${(err as Error).message}` };
    }
  }
  if (/json/i.test(String(headers['content-type'] ?? '')) && text.length > 0) {
    try {
      context.body = JSON.parse(text);
    } catch {
      return { error: 'request body is not valid JSON' };
    }
  } else {
    context.body = text;
  }
  return { context, event: context.body };
}

/**
 * Writes a streamed body: a piece is pulled only after the socket took the previous one (write
 * returned true, or 'drain'), so a slow reader holds one piece, not the whole body. A client that
 * goes away ends the stream (its generator's finally runs); a stream that fails ends the
 * response abruptly (the client sees a truncated chunked body, never a partial one passed off
 * as whole).
 */
export async function writeStream(res: ServerResponse, stream: AsyncIterable<string | Buffer>, log: Logger): Promise<void> {
  let gone = res.destroyed;
  let wake: (() => void) | undefined;
  const onGone = () => {
    gone = true;
    wake?.();
  };
  const onDrain = () => wake?.();
  res.on('close', onGone).on('drain', onDrain);
  try {
    for await (const piece of stream) {
      if (gone) break;
      if (!res.write(piece) && !gone) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (gone) break;
      }
    }
    if (!gone) res.end();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'streamed response failed');
    res.destroy();
  } finally {
    res.off('close', onGone).off('drain', onDrain);
  }
}

export function writeResult(res: ServerResponse, result: HandlerResult): number {
  if (result instanceof CloudEvent) {
    const msg = HTTP.binary(result);
    const body = typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body ?? '');
    send(res, 200, msg.headers as Record<string, string>, body);
    return 200;
  }
  if (!result) {
    send(res, 204, {}, '');
    return 204;
  }
  const status = result.statusCode ?? 200;
  const b = result.body;
  if (isStreamed(b)) throw new Error('a streamed body is written by writeStream');
  const body = b === undefined ? '' : Buffer.isBuffer(b) || typeof b === 'string' ? b : JSON.stringify(b);
  const headers = { 'content-type': typeof b === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', ...(result.headers ?? {}) };
  send(res, status, headers, body);
  return status;
}

export function createFunctionServer(options: ServeOptions): Server {
  collectDefaultMetrics();
  const limitOf = typeof options.bodyLimit === 'function' ? options.bodyLimit : (m: string) => (options.bodyLimit as number | undefined) ?? defaultBodyLimit(m);
  const duration = latency.labels(options.name);
  const byCode = new Map<number, QueuedCounter>();
  const count = (code: number) => {
    let c = byCode.get(code);
    if (!c) {
      c = invocations.labels(options.name, String(code));
      byCode.set(code, c);
    }
    c.inc();
  };
  const server = createServer(async (req, res) => {
    try {
      // HEAD as GET (Node sends no body for HEAD); the path as sent, so `/x/../healthz` is not health.
      const read = req.method === 'GET' || req.method === 'HEAD';
      const path = rawPath(req.url);
      if (read && (path === '/health/liveness' || path === '/healthz')) return send(res, 200, { 'content-type': 'text/plain' }, 'ok');
      if (read && (path === '/health/readiness' || path === '/readyz')) {
        const ok = options.ready ? await options.ready() : true;
        const detail = options.readyDetail?.();
        if (detail) return send(res, ok ? 200 : 503, { 'content-type': 'application/json' }, JSON.stringify({ ready: ok, ...detail }));
        return send(res, ok ? 200 : 503, { 'content-type': 'text/plain' }, ok ? 'ok' : 'not ready');
      }
      if (read && path === '/metrics' && options.metrics !== false) {
        const m = await metricsText();
        return send(res, 200, { 'content-type': m.contentType }, m.body);
      }
      const limit = limitOf(req.method ?? 'GET', path);
      // Refused on its headers alone: nothing of such a body is read into memory (Node discards
      // what the client still sends, and the connection closes after the answer).
      if (bodyRefused(req.headers, limit)) {
        count(413);
        return send(res, 413, { 'content-type': 'application/json', connection: 'close' }, errorBody(tooLarge(limit)));
      }
      const raw = limit === 0 ? EMPTY : await readBody(req, limit);
      if (raw === 'too-large') {
        count(413);
        return send(res, 413, { 'content-type': 'application/json', connection: 'close' }, errorBody(tooLarge(limit)));
      }
      const inv = toInvocation(req, raw, options.log);
      if ('error' in inv) {
        count(400);
        return send(res, 400, { 'content-type': 'application/json' }, errorBody(inv.error));
      }
      const started = performance.now();
      let status: number;
      try {
        const result = await options.handle(inv.context, inv.event);
        if (result && !(result instanceof CloudEvent) && isStreamed(result.body)) {
          status = result.statusCode ?? 200;
          res.writeHead(status, result.headers ?? {});
          // HEAD: the headers only; the stream is never started, so nothing of the body is built.
          if (req.method === 'HEAD') res.end();
          else await writeStream(res, result.body.stream, options.log);
        } else status = writeResult(res, result);
      } catch (err) {
        // Handlers map their own errors; anything that escapes is transient from the caller's view.
        options.log.error({ err }, 'unhandled error in function');
        status = 503;
        send(res, 503, { 'content-type': 'application/json' }, errorBody('internal error; retry later'));
      }
      duration.observe((performance.now() - started) / 1000);
      count(status);
    } catch (err) {
      options.log.error({ err }, 'request failed');
      if (!res.headersSent) send(res, 500, { 'content-type': 'application/json' }, errorBody('internal error'));
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  return server;
}

/** A server that answers only GET/HEAD /metrics: for a port the public route does not expose. */
export function createMetricsServer(): Server {
  collectDefaultMetrics();
  return createServer(async (req, res) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && rawPath(req.url) === '/metrics') {
      const m = await metricsText();
      return send(res, 200, { 'content-type': m.contentType }, m.body);
    }
    send(res, 404, { 'content-type': 'text/plain' }, 'only /metrics here');
  });
}

export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
