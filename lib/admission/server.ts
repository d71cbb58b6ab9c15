// The admission HTTPS server: node:https around the dispatcher. The serving certificate and key
// are re-read when they change on disk (watch plus a poll, since Secret volumes swap a symlink)
// and swapped in with setSecureContext, so rotation needs no restart. Idle keep-alive outlives
// the API server's (90 s), so it never writes into a socket we just closed (the EOF errors of
// kyverno#5062 and Pepr#3056). Health, readiness and metrics are on the same port.
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { type Logger, silentLogger } from '../log/index.ts';
import { counter, gauge, metricsText } from '../metrics/index.ts';
import { type Dispatcher, type HttpResponseLike, JSON_HEADERS } from './dispatcher.ts';
import { bodyHeaders } from './raw-headers.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface AdmissionServerOptions extends TlsFiles {
  dispatcher: Dispatcher<unknown>;
  port: number;
  host?: string;
  maxBodyBytes: number;
  /** Poll interval of the certificate files (they are also watched). */
  reloadMs: number;
  logger?: Logger;
  /** Extra readiness detail and veto (e.g. the score cache's state); never blocks on I/O. */
  readiness?: () => { ready: boolean; detail?: unknown };
  /** POST /events: CloudEvents (score.updated) for the webhooks' caches. */
  onEvent?: (headers: IncomingMessage['headers'], body: Buffer) => HttpResponseLike;
  /** Default 120 s: longer than the API server's 90 s idle connection timeout. */
  keepAliveTimeoutMs?: number;
  /** Bodies longer than this are large: they share largeBodiesInFlightBytes. Default LARGE_BODY_BYTES. */
  largeBodyBytes?: number;
  /** What large bodies being read may hold at once; one more is answered 503 unread. Default twice maxBodyBytes. */
  largeBodiesInFlightBytes?: number;
  /** A large body not read by then is dropped. Default: the longest webhook timeout plus a second. */
  largeBodyDeadlineMs?: number;
}

/**
 * What nearly every review is under (a Pod, a Deployment with its managedFields: tens of KiB). A
 * body this size or smaller is read at once; larger ones share a budget, so a few senders of
 * junk near the body limit cannot hold the memory, or the parsing time, that real reviews need.
 */
export const LARGE_BODY_BYTES = 64 * 1024;
/** A CloudEvent on /events is a few hundred bytes; no reason to read one larger. */
export const MAX_EVENT_BYTES = 64 * 1024;

const tlsReloads = counter('posture_admission_tls_reloads_total', 'Serving certificate reloads by result.', ['result']);
const largeRefused = counter(
  'posture_admission_large_bodies_refused_total',
  'Requests answered 503 unread, or dropped, because large bodies already held their budget or took too long to arrive.',
  ['reason'],
);
const certExpiry = gauge('posture_admission_tls_not_after_timestamp_seconds', 'Expiry of the serving certificate in use.');

interface LoadedTls {
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
  notAfter: Date;
}

/** Reads and checks a certificate and key pair; throws naming what is wrong. */
export function readTls(files: TlsFiles): LoadedTls {
  const cert = readFileSync(files.certFile);
  const key = readFileSync(files.keyFile);
  return checkTls(files, cert, key);
}

/** SHA-256 of a certificate and key pair as read from disk. */
function fingerprintOf(cert: Buffer, key: Buffer): string {
  return createHash('sha256').update(cert).update(key).digest('hex');
}

function checkTls(files: TlsFiles, cert: Buffer, key: Buffer): LoadedTls {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${files.certFile} is not a PEM certificate: ${(err as Error).message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${files.keyFile} is not a PEM private key: ${(err as Error).message}`);
  }
  // A rotation writes two files: until both are new, the pair does not match and we keep the old one.
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${files.keyFile} is not the key of ${files.certFile}`);
  return { cert, key, fingerprint: fingerprintOf(cert, key), notAfter: new Date(x509.validTo) };
}

function send(res: ServerResponse, r: HttpResponseLike): void {
  // An explicit length keeps replies un-chunked: one write, and simple framing for the API server.
  // A review's answer gets a literal of one shape: spreading the headers into a literal costs a
  // runtime call per reply, and Node's header writer then meets objects of many shapes.
  const length = Buffer.byteLength(r.body);
  res.writeHead(
    r.statusCode,
    r.headers === JSON_HEADERS ? { 'content-type': 'application/json', 'content-length': length } : { ...r.headers, 'content-length': length },
  );
  res.end(r.body);
}

export class AdmissionServer {
  readonly #o: AdmissionServerOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  #tls: LoadedTls | undefined;
  #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #draining = false;
  /** Digits of the largest body length read at all (four times the limit). */
  readonly #capDigits: number;
  readonly #largeBody: number;
  /** Digits of largeBodyBytes: a declared length with fewer is small, no number to parse. */
  readonly #largeDigits: number;
  readonly #largeBudget: number;
  readonly #largeDeadlineMs: number;
  #largeInFlight = 0;

  constructor(options: AdmissionServerOptions) {
    this.#o = options;
    this.#capDigits = String(options.maxBodyBytes * 4).length;
    this.#largeBody = options.largeBodyBytes ?? LARGE_BODY_BYTES;
    this.#largeDigits = String(this.#largeBody).length;
    this.#largeBudget = options.largeBodiesInFlightBytes ?? 2 * options.maxBodyBytes;
    const longest = Math.max(1, ...options.dispatcher.registry.webhooks.map((w) => w.declaration.timeoutSeconds));
    this.#largeDeadlineMs = options.largeBodyDeadlineMs ?? (longest + 1) * 1000;
    this.#log = options.logger ?? silentLogger;
  }

  /** Bytes the large bodies being read hold now (tests). */
  get largeBodiesInFlight(): number {
    return this.#largeInFlight;
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** SHA-256 of the certificate and key in use (tests watch it change). */
  get fingerprint(): string | undefined {
    return this.#tls?.fingerprint;
  }

  async start(): Promise<number> {
    this.#tls = readTls(this.#o);
    certExpiry.set(this.#tls.notAfter.getTime() / 1000);
    const server = createServer(
      {
        cert: this.#tls.cert,
        key: this.#tls.key,
        minVersion: 'TLSv1.2',
        // Webhook timeouts are at most 30 s; a request still arriving after that is abandoned.
        requestTimeout: 35_000,
        headersTimeout: 30_000,
        keepAliveTimeout: this.#o.keepAliveTimeoutMs ?? 120_000,
      },
      (req, res) => this.#route(req, res),
    );
    server.keepAliveTimeout = this.#o.keepAliveTimeoutMs ?? 120_000;
    server.on('tlsClientError', (err) => this.#log.debug({ err }, 'TLS handshake failed'));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#watch();
    this.#log.info(
      { port: this.port, webhooks: this.#o.dispatcher.registry.webhooks.map((w) => w.name), certExpires: this.#tls.notAfter },
      'admission server listening',
    );
    return this.port;
  }

  /** Re-reads the certificate files; swaps them in when they changed and are a valid pair. */
  reloadTls(): 'unchanged' | 'reloaded' | 'invalid' {
    let next: LoadedTls;
    try {
      const cert = readFileSync(this.#o.certFile);
      const key = readFileSync(this.#o.keyFile);
      // The same bytes as the pair in use: nothing to parse. Parsing both (and checking that the
      // key is the certificate's) on every poll is most of an idle server's work: bench/admission-idle.ts.
      if (this.#tls && fingerprintOf(cert, key) === this.#tls.fingerprint) return 'unchanged';
      next = checkTls(this.#o, cert, key);
    } catch (err) {
      tlsReloads.labels('invalid').inc();
      this.#log.warn({ err: (err as Error).message }, 'serving certificate on disk is not usable; keeping the current one');
      return 'invalid';
    }
    this.#server?.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
    this.#tls = next;
    certExpiry.set(next.notAfter.getTime() / 1000);
    tlsReloads.labels('reloaded').inc();
    this.#log.info({ certExpires: next.notAfter }, 'serving certificate reloaded');
    return 'reloaded';
  }

  /**
   * Graceful stop: readiness fails at once (so endpoints drop the pod), new connections are
   * refused, in-flight reviews finish, keep-alive sockets are told to close; after drainMs the
   * rest are cut.
   */
  async stop(drainMs = 10_000): Promise<void> {
    this.#draining = true;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    const server = this.#server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), drainMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    this.#log.info('admission server stopped');
  }

  #watch(): void {
    const onChange = () => {
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.reloadTls(), 100);
      this.#debounce.unref();
    };
    for (const dir of new Set([dirname(this.#o.certFile), dirname(this.#o.keyFile)])) {
      try {
        const w = watch(dir, onChange);
        w.on('error', () => {}); // the poll below still runs
        this.#watchers.push(w);
      } catch (err) {
        this.#log.warn({ err, dir }, 'cannot watch the certificate folder; polling only');
      }
    }
    this.#poll = setInterval(() => this.reloadTls(), this.#o.reloadMs);
    this.#poll.unref();
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    if (this.#draining) res.setHeader('connection', 'close');
    const url = req.url ?? '/';
    if (url === '/healthz') {
      send(res, { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: 'ok\n' });
      return;
    }
    if (url === '/readyz') {
      this.#ready(res);
      return;
    }
    if (url === '/metrics') {
      void metricsText().then(
        (m) => send(res, { statusCode: 200, headers: { 'content-type': m.contentType }, body: m.body }),
        () => send(res, { statusCode: 500, headers: { 'content-type': 'text/plain' }, body: 'metrics unavailable\n' }),
      );
      return;
    }
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const isEvents = path === '/events' && this.#o.onEvent;
    const route = isEvents ? undefined : this.#o.dispatcher.route(path);
    // Unknown paths are answered before reading a body that nobody wants.
    if (!isEvents && !route) {
      send(res, this.#o.dispatcher.dispatch({ method: req.method ?? 'GET', path, contentType: undefined, body: undefined }));
      return;
    }
    const max = isEvents ? Math.min(MAX_EVENT_BYTES, this.#o.maxBodyBytes) : this.#o.maxBodyBytes;
    // Past four times the limit the request is cut off: no AdmissionReview is that large.
    const hardCap = max * 4;
    const { contentLength, contentType } = bodyHeaders(req.rawHeaders);
    // A length with fewer digits than the cap is below it: no number to parse for a review.
    if (contentLength !== undefined && contentLength.length >= this.#capDigits && Number(contentLength) > hardCap) {
      res.setHeader('connection', 'close');
      send(res, { statusCode: 413, headers: { 'content-type': 'text/plain' }, body: `the body is larger than ${hardCap} bytes\n` });
      return;
    }
    // A large body (declared, or found while reading a chunked one) first takes its share of the
    // large bodies' budget, or is answered 503 at once: the API server then applies the webhook's
    // failure policy, as for any unreachable webhook, instead of every review waiting behind junk.
    let reserved = 0;
    let refused = false;
    let deadline: NodeJS.Timeout | undefined;
    const release = () => {
      this.#largeInFlight -= reserved;
      reserved = 0;
      clearTimeout(deadline);
    };
    const reserve = (bytes: number): boolean => {
      if (this.#largeInFlight + bytes > this.#largeBudget) {
        largeRefused.labels('busy').inc();
        refused = true;
        res.setHeader('connection', 'close');
        send(res, {
          statusCode: 503,
          headers: { 'content-type': 'text/plain', 'retry-after': '1' },
          body: 'too many large requests are being read at once; try again\n',
        });
        return false;
      }
      this.#largeInFlight += bytes;
      reserved = bytes;
      req.once('close', release);
      // The API server has given up on it by then (the longest webhook timeout).
      deadline = setTimeout(() => {
        largeRefused.labels('deadline').inc();
        release();
        req.destroy();
      }, this.#largeDeadlineMs);
      deadline.unref();
      return true;
    };
    if (contentLength !== undefined && contentLength.length >= this.#largeDigits) {
      const declared = Number(contentLength);
      if (declared > this.#largeBody && !reserve(Math.min(declared, max))) return;
    }
    let chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (refused) {
        if (size > hardCap) req.destroy();
        return;
      }
      if (reserved === 0 && size > this.#largeBody && !reserve(max)) return;
      if (size > max) {
        chunks.push(c);
        const head = Buffer.concat(chunks).subarray(0, 65_536).toString('utf8');
        chunks = [];
        // Answered from the first bytes (the uid is there), on a connection closed after the
        // answer: the rest of the body is never read.
        refused = true;
        release();
        res.setHeader('connection', 'close');
        send(
          res,
          isEvents ? { statusCode: 413, headers: { 'content-type': 'text/plain' }, body: 'event too large\n' } : this.#o.dispatcher.tooLarge(url, head, max),
        );
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      if (isEvents) {
        return send(res, this.#o.onEvent!(req.headers, Buffer.concat(chunks)));
      }
      send(
        res,
        this.#o.dispatcher.dispatchTo(route!, {
          method: req.method ?? 'POST',
          path: url,
          contentType,
          body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
        }),
      );
    });
    req.on('error', () => res.destroy());
  }

  #ready(res: ServerResponse): void {
    const extra = this.#o.readiness?.() ?? { ready: true };
    const ready = !this.#draining && this.#tls !== undefined && extra.ready;
    send(res, {
      statusCode: ready ? 200 : 503,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ready,
        draining: this.#draining,
        webhooks: this.#o.dispatcher.registry.webhooks.length,
        certExpires: this.#tls?.notAfter,
        detail: extra.detail,
      }),
    });
  }
}
