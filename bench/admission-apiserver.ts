// Admission latency as kube-apiserver measures it. On the local control plane (test/cluster/),
// the generated configurations of the webhooks under test (posture's protected-namespaces and the
// Scorecard gate, served by `bin/serve.ts admission`) are registered beside copies of themselves
// pointed at a bare floor server (node:https that parses the review and answers allowed with its
// uid). Each copy is scoped by one extra match condition on a label of the object, so every request
// calls exactly one of them. A non-admin user sends requests that each call a webhook (server-side
// dry runs of namespace CREATE/UPDATE, and of Deployment CREATE/UPDATE for the gate), alternating
// between the targets request by request, so all of them see the same moments of a machine shared
// with other work: one at a time, then at fixed rates in all from an open-loop generator
// (process.hrtime.bigint, microsecond resolution; sends are never held back by slow replies).
// Before and after each round the API server's own histogram
// apiserver_admission_webhook_admission_duration_seconds{name=…} is read from /metrics: its
// sum ÷ count is the mean time the API server spent in the call of that webhook (encoding the
// review, the HTTP round trip, decoding the answer; match conditions are evaluated before the clock
// starts). Medians over rounds, and posture ÷ floor per round, median of those.
//
// Needs the control-plane binaries (npm run cluster:build) and PostgreSQL (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/posture_bench_apiserver, created if missing) for the gate's
// scores. Honours POSTURE_CLUSTER_DIR like the tests.
//
//   node bench/admission-apiserver.ts [--rounds 7] [--n 100] [--rates 0,100,1000] [--seconds 2] [--warmup 300]
//                                     [--scenarios namespaces,deployments] [--targets posture,floor,…]
// Two targets are no server: `policy` is protected-namespaces' generated ValidatingAdmissionPolicy
// (its CEL evaluated inside the API server; its time is the API server's
// apiserver_validating_admission_policy_check_duration_seconds), and `none` registers nothing (the
// client-side latency of a request no admission looks at). They run in the namespaces scenario.
// Rate 0 means one at a time (each request sent when the previous one returned), n requests per
// target; at a rate, rate × seconds requests in all. Targets beyond posture and floor are what was
// tried to go below the floor, and to find where posture's time goes (FLOORS, POSTURES, EXPERIMENTS).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { type ClientHttp2Session, createSecureServer, connect as h2connect, type SecureServerOptions } from 'node:http2';
import { createServer as httpsServer, type ServerOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { BENCH_V8_DEFAULTS_ENV, TURBOFAN_AFTER_CALLS, TURBOFAN_FLAGS } from '../lib/admission/v8-flags.ts';
import { admissionServerEnv, prepareBenchDatabase, startChild } from './_admission.ts';
import { arg, median, percentile } from './_util.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');
const TARGET_LABEL = 'bench.posture.dev/target';

// ---- floor servers (child processes) -----------------------------------------------------------

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** The fields of an AdmissionReview the floor reads. */
type FloorReview = { apiVersion: unknown; request: { uid: unknown } };
/** What any correct webhook server must at least do: read the body, parse it, answer its uid. */
let realmParse: (s: string) => FloorReview = JSON.parse;
function floorHandler(req: Req, res: Res): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const review = realmParse(Buffer.concat(chunks).toString('utf8'));
    const out = JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });
    (res as ServerResponse).writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
}

/**
 * The floor and its variants. `floor` is the bare node:https server of the issue; the others are
 * what the platform offers to go below it. With keep-alive the handshake happens once per
 * connection, so per-request costs are what can differ: HTTP/2 framing (the API server's client
 * speaks h2 when offered), record ciphers, Nagle, TLS session reuse on reconnects.
 */
const FLOORS: Record<string, { h2?: boolean; options?: ServerOptions & SecureServerOptions; node?: string[]; doc: string }> = {
  floor: { doc: 'node:https, defaults (keep-alive 120 s)' },
  // An A/A check of the method: the same server again. Its ratio to the floor is the spread an
  // identical server shows, against which posture's ratio is read.
  'floor-twin': { doc: 'a second, identical node:https floor (A/A: the spread of the method itself)' },
  // V8 collects garbage with helper threads by default; a small heap does not need them.
  'floor-stgc': { node: ['--single-threaded-gc'], doc: 'node:https, defaults, V8 --single-threaded-gc' },
  // The floor with the TurboFan thresholds the admission server sets (lib/admission/v8-flags.ts).
  'floor-turbofan': { node: [...TURBOFAN_FLAGS], doc: `node:https, defaults, TurboFan after ${TURBOFAN_AFTER_CALLS} calls as the admission server sets it` },
  'floor-h2': { h2: true, options: { allowHTTP1: true }, doc: 'node:http2 createSecureServer, allowHTTP1 (the API server negotiates h2)' },
  // Does the AdmissionServer's cost come from its server options rather than its request path?
  'floor-posture-options': {
    options: { minVersion: 'TLSv1.2', requestTimeout: 35_000, headersTimeout: 30_000 },
    doc: "node:https with the AdmissionServer's options (TLS 1.2 minimum, 35 s request and 30 s headers timeouts)",
  },
  'floor-aes128': {
    options: { ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384', honorCipherOrder: true },
    doc: 'node:https, TLS 1.3 AES-128-GCM preferred',
  },
  'floor-x25519': { options: { ecdhCurve: 'X25519', sessionTimeout: 3600 }, doc: 'node:https, X25519 only, 1 h session tickets' },
  'floor-h2-aes128': {
    h2: true,
    options: { allowHTTP1: true, ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384', honorCipherOrder: true },
    doc: 'node:http2 + AES-128-GCM preferred',
  },
};

async function serveFloor(variant: string, certFile: string, keyFile: string): Promise<void> {
  if (variant === 'posture-lib' || variant === 'posture-warm') {
    // posture's AdmissionServer and dispatcher with the shipped webhooks, in a bare process: no
    // database, no logger, nothing but the request path.
    const { createAdmissionApp } = await import('../lib/admission/app.ts');
    const { WEBHOOKS_DIR } = await import('../functions/admission/webhooks-dir.ts');
    const { defaultConfig } = await import('../lib/config/index.ts');
    const { StaticScoreFeed } = await import('../lib/admission/scores.ts');
    const app = await createAdmissionApp({
      config: defaultConfig(),
      webhooksDir: WEBHOOKS_DIR,
      scoreFeed: new StaticScoreFeed([
        { repoKey: 'github.com/bench/web', repo: 'github.com/bench/web', score: 7.1, date: '2026-11-01', updatedAt: new Date() },
      ]),
    });
    if (variant === 'posture-warm') {
      const { admissionReview, object, user } = await import('../lib/admission/testing.ts');
      const ns = (i: number) => object('Namespace', `warm-${i}`, { labels: { team: 'a' } });
      const dep = (i: number) =>
        object('Deployment', `web-${i}`, {
          namespace: 'warm',
          labels: { app: 'web' },
          annotations: { 'posture.dev/source-repo': 'github.com/bench/web' },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.example.com/web' }] } },
          },
        });
      const caller = user('warm', 'warmers');
      const reviews = [
        ['/protected-namespaces', admissionReview({ operation: 'CREATE', object: ns(1), caller })],
        ['/protected-namespaces', admissionReview({ operation: 'UPDATE', object: ns(2), oldObject: ns(2), caller })],
        ...app.registry
          .byName('scorecard-gate')!
          .entries.slice(0, 2)
          .flatMap((e) => [
            [e.path, admissionReview({ operation: 'CREATE', object: dep(1), caller })],
            [e.path, admissionReview({ operation: 'UPDATE', object: dep(2), oldObject: dep(2), caller })],
          ]),
      ].map(([path, r]) => ({ path: path as string, body: Buffer.from(JSON.stringify(r)) }));
      const n = Number(process.env.BENCH_WARM_REVIEWS ?? 20_000);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const r = reviews[i % reviews.length];
        app.dispatcher.dispatch({ method: 'POST', path: r.path, contentType: 'application/json', body: r.body });
      }
      process.stderr.write(`posture-warm: ${n} reviews in ${(performance.now() - t0).toFixed(0)} ms\n`);
    }
    const server = await app.serve({ port: 0, host: '127.0.0.1', certFile, keyFile });
    process.once('SIGTERM', () => process.exit(0));
    process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
    return;
  }
  if (variant in STEPS) {
    // posture's AdmissionServer with a dispatcher built up toward posture's, step by step.
    const { AdmissionServer } = await import('../lib/admission/server.ts');
    const { parseReview, reviewBody } = await import('../lib/admission/protocol.ts');
    const { createAdmissionApp } = await import('../lib/admission/app.ts');
    const { WEBHOOKS_DIR } = await import('../functions/admission/webhooks-dir.ts');
    const { defaultConfig } = await import('../lib/config/index.ts');
    const { StaticScoreFeed } = await import('../lib/admission/scores.ts');
    // The same registry and score cache as posture-lib (the gate's decision reads the cache).
    const app = await createAdmissionApp({
      config: defaultConfig(),
      webhooksDir: WEBHOOKS_DIR,
      scoreFeed: new StaticScoreFeed([
        { repoKey: 'github.com/bench/web', repo: 'github.com/bench/web', score: 7.1, date: '2026-11-01', updatedAt: new Date() },
      ]),
    });
    const registry = app.registry;
    const json = { 'content-type': 'application/json' };
    const dispatch = (req: { path: string; body: unknown }) => {
      const q = req.path.indexOf('?');
      const found = registry.byPath(q < 0 ? req.path : req.path.slice(0, q))!;
      const raw = JSON.parse(String(req.body));
      if (variant === 'server-floor')
        return {
          statusCode: 200,
          headers: json,
          body: JSON.stringify({ apiVersion: raw.apiVersion, kind: 'AdmissionReview', response: { uid: raw.request.uid, allowed: true } }),
        };
      const parsed = parseReview(raw);
      if (parsed.kind !== 'ok') throw new Error(`not a review: ${parsed.kind}`);
      let allowed = true;
      if (variant === 'posture-decision') {
        const v = found.webhook.declaration.authorize(parsed.request, {
          settings: found.webhook.settings,
          services: { scores: app.scores },
          namespaceLabel: found.entry.tier,
          now: Date.now(),
        }) as { allowed: boolean };
        allowed = v.allowed;
      }
      return { statusCode: 200, headers: json, body: reviewBody(parsed.apiVersion, { uid: parsed.request.uid, allowed }) };
    };
    const server = new AdmissionServer({
      dispatcher: { registry, dispatch } as never,
      certFile,
      keyFile,
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 3 * 1024 * 1024,
      reloadMs: 10_000,
    });
    await server.start();
    process.once('SIGTERM', () => process.exit(0));
    process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
    return;
  }
  if (variant === 'posture-nometrics') {
    // posture-lib with prom-client's observe and inc made no-ops: what the metrics cost.
    const client = (await import('prom-client')).default;
    (client.Histogram.prototype as unknown as { observe: () => void }).observe = () => {};
    (client.Counter.prototype as unknown as { inc: () => void }).inc = () => {};
    return serveFloor('posture-lib', certFile, keyFile);
  }
  if (variant === 'floor-loaded' || variant === 'floor-loaded-realm') {
    // The floor in a process that loaded everything `bin/serve.ts admission` loads.
    await import('../functions/admission/index.ts');
    await import('../lib/db/index.ts');
  }
  if (variant === 'floor-realm' || variant === 'floor-loaded-realm') {
    const { runInNewContext } = await import('node:vm');
    realmParse = runInNewContext('JSON.parse') as (s: string) => FloorReview;
  }
  const f = FLOORS[variant === 'floor-loaded' || variant === 'floor-loaded-realm' || variant === 'floor-realm' ? 'floor' : variant];
  if (!f) throw new Error(`unknown floor ${variant}`);
  const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  // BENCH_CAPTURE_DIR: the floor also keeps every review the API server sent it, one file each
  // (path, then the body), for bench/admission-replay.ts to send again without the API server.
  const captureDir = variant === 'floor' ? process.env.BENCH_CAPTURE_DIR : undefined;
  let captured = 0;
  const handler = captureDir
    ? (req: Req, res: Res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () =>
          writeFileSync(
            join(captureDir, `${String(captured++).padStart(6, '0')}.json`),
            JSON.stringify({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }),
          ),
        );
        floorHandler(req, res);
      }
    : floorHandler;
  const server = f.h2 ? createSecureServer({ ...tls, ...f.options }, handler) : httpsServer({ ...tls, keepAliveTimeout: 120_000, ...f.options }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
}

/** posture's AdmissionServer with its dispatcher built up step by step, toward posture-lib. */
const STEPS: Record<string, { doc: string }> = {
  'server-floor': { doc: "posture's AdmissionServer with the floor's parse-and-reply as its dispatcher" },
  'posture-shape': { doc: "posture's AdmissionServer, the review's shape check (parseReview) and reviewBody; no decision" },
  'posture-decision': { doc: "posture-shape plus the webhook's own decision (authorize); none of the dispatcher around it" },
};

/** Where posture's time goes: its request path without its process, and the floor inside posture's process. */
const EXPERIMENTS: Record<string, { doc: string }> = {
  ...STEPS,
  'posture-nometrics': { doc: "posture-lib with prom-client's observe and inc made no-ops" },
  'posture-warm': { doc: 'posture-lib after 20,000 reviews dispatched in-process before it listens (BENCH_WARM_REVIEWS): is the gap V8 still compiling?' },
  'posture-lib': { doc: "posture's AdmissionServer + dispatcher + shipped webhooks in a bare process (no database, no logger)" },
  'floor-loaded': { doc: 'the floor in a process that loaded all the modules of bin/serve.ts admission' },
  // JSON.parse from a V8 context of its own, as posture's dispatcher parses reviews (lib/admission/json-realm.ts).
  'floor-realm': { doc: "the floor, its JSON.parse from a context of its own (vm.runInNewContext('JSON.parse'))" },
  'floor-loaded-realm': { doc: 'floor-loaded, its JSON.parse from a context of its own' },
};

/** posture itself, as `bin/serve.ts admission` runs it, and variants of its settings. */
/** Targets that are no server: the API server's own engine, and nothing at all. */
const IN_APISERVER: Record<string, { doc: string }> = {
  policy: {
    doc: "protected-namespaces' generated ValidatingAdmissionPolicy: CEL inside the API server, no webhook call (requests it refuses: v1.37.2 times only refusals)",
  },
  none: { doc: 'no admission registered for these requests (client-side latency only)' },
};

const POSTURES: Record<string, { env: Record<string, string>; node?: string[]; doc: string }> = {
  posture: { env: {}, doc: 'bin/serve.ts admission' },
  // TurboFan after V8's default calls, not posture's (POSTURE_BENCH_V8_DEFAULTS, lib/admission/v8-flags.ts).
  'posture-v8defaults': { env: { [BENCH_V8_DEFAULTS_ENV]: 'turbofan' }, doc: "bin/serve.ts admission with V8's default TurboFan thresholds" },
  // V8's memory reducer as V8 sets it, not as posture does (POSTURE_BENCH_V8_DEFAULTS, lib/admission/v8-flags.ts).
  'posture-reducer': {
    env: { [BENCH_V8_DEFAULTS_ENV]: 'reducer' },
    doc: "bin/serve.ts admission with V8's memory reducer reducing memory (deoptimising the request path) when the server turns quiet",
  },
  // Does garbage collection explain what posture's request path costs under CPU contention?
  'posture-stgc': { env: {}, node: ['--single-threaded-gc'], doc: 'bin/serve.ts admission, V8 --single-threaded-gc (no parallel GC helpers to wait for)' },
  'posture-semi': { env: {}, node: ['--max-semi-space-size=64'], doc: 'bin/serve.ts admission, V8 --max-semi-space-size=64 (fewer scavenges)' },
  // Where its CPU goes: a V8 CPU profile written when it stops (BENCH_CPU_PROF_DIR, default the temp folder).
  // Another checkout's posture (BENCH_BASELINE_DIR, e.g. a git worktree of the code before a change), in the same rounds.
  'posture-baseline': { env: {}, doc: 'bin/serve.ts admission of the checkout in BENCH_BASELINE_DIR' },
  'posture-cpuprof': {
    env: {},
    node: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR ?? tmpdir()}`],
    doc: 'bin/serve.ts admission under V8 --cpu-prof',
  },
};

function baselineDir(): string {
  const d = process.env.BENCH_BASELINE_DIR;
  if (!d) throw new Error('posture-baseline needs BENCH_BASELINE_DIR: a checkout of the code to compare with (git worktree add <dir> <commit>)');
  return d;
}

// ---- the API server side -------------------------------------------------------------------------

interface Api {
  /** One request; resolves with the status once the whole reply is read. */
  call(method: string, path: string, body?: string, contentType?: string): Promise<{ status: number; body: string }>;
  close(): void;
}

/**
 * An HTTP/2 client for the API server (one connection, multiplexed, as kubectl and client-go do).
 * A connection the API server closes (GOAWAY, its idle timeout during a long warm-up) is opened
 * again before the next request, as client-go does, instead of failing the run.
 */
async function apiClient(server: string, tls: { ca: string; cert: string; key: string }): Promise<Api> {
  const open = async (): Promise<ClientHttp2Session> => {
    const s = h2connect(server, { ...tls });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    s.on('error', () => {});
    return s;
  };
  let session = await open();
  let reopening: Promise<ClientHttp2Session> | undefined;
  const current = async (): Promise<ClientHttp2Session> => {
    if (!session.closed && !session.destroyed) return session;
    reopening ??= open().finally(() => (reopening = undefined));
    session = await reopening;
    return session;
  };
  return {
    async call(method, path, body, contentType = 'application/json') {
      const h2 = await current();
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { ':method': method, ':path': path, accept: 'application/json' };
        if (body !== undefined) headers['content-type'] = contentType;
        const s = h2.request(headers, { endStream: body === undefined });
        let status = 0;
        const chunks: Buffer[] = [];
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
        s.on('error', reject);
        if (body !== undefined) s.end(body);
      });
    },
    close: () => session.close(),
  };
}

const METRIC = 'apiserver_admission_webhook_admission_duration_seconds';
const POLICY_METRIC = 'apiserver_validating_admission_policy_check_duration_seconds';

/**
 * Sum (s) and count of the API server's webhook histogram, per webhook name, over all labels; and
 * of its policy check histogram, per policy name (keyed `policy:<name>`).
 */
async function webhookTimes(admin: Api): Promise<Map<string, { sum: number; count: number }>> {
  const r = await admin.call('GET', '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
  const out = new Map<string, { sum: number; count: number }>();
  const re = new RegExp(`^(${METRIC}|${POLICY_METRIC})_(sum|count)\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const match of r.body.matchAll(re)) {
    const m = [match[0], match[2], match[3], match[4]] as const;
    const name = match[1] === METRIC ? /(?:^|,)name="([^"]+)"/.exec(m[2])?.[1] : /(?:^|,)policy="([^"]+)"/.exec(m[2])?.[1]?.replace(/^/, 'policy:');
    if (!name) continue;
    const e = out.get(name) ?? { sum: 0, count: 0 };
    if (m[1] === 'sum') e.sum += Number(m[3]);
    else e.count += Number(m[3]);
    out.set(name, e);
  }
  return out;
}

/** CPU time (user + system) a process has used so far, in µs (Linux /proc; 10 ms ticks). */
function cpuMicros(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

// ---- load: one at a time, or open loop at a fixed rate ------------------------------------------

interface LoadResult {
  /** Client-side latency of each request from its scheduled time, µs. */
  latencies: Float64Array;
  errors: number;
  /** Requests per second actually completed. */
  achieved: number;
  lastError?: string;
}

type Send = (i: number) => Promise<{ status: number; body: string }>;

/** rate 0: one at a time. Otherwise open loop: request i is due at start + i/rate. */
async function load(n: number, rate: number, send: Send): Promise<LoadResult> {
  const latencies = new Float64Array(n);
  let errors = 0;
  let lastError: string | undefined;
  const started = process.hrtime.bigint();
  const one = async (i: number, due: bigint) => {
    try {
      const r = await send(i);
      if (r.status < 200 || r.status >= 300) {
        errors++;
        lastError = `${r.status} ${r.body.slice(0, 300)}`;
      }
    } catch (err) {
      errors++;
      lastError = (err as Error).message;
    }
    latencies[i] = Number(process.hrtime.bigint() - due) / 1000;
  };
  if (rate === 0) {
    for (let i = 0; i < n; i++) await one(i, process.hrtime.bigint());
  } else {
    const interval = BigInt(Math.round(1e9 / rate));
    const pending: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      let sent = 0;
      const tick = () => {
        const now = process.hrtime.bigint();
        while (sent < n && started + BigInt(sent) * interval <= now) {
          pending.push(one(sent, started + BigInt(sent) * interval));
          sent++;
        }
        if (sent >= n) return resolve();
        // Sleep while the next send is far; spin (setImmediate) only for its last millisecond, so
        // the generator leaves the two cores to the API server and the webhooks.
        const wait = Number(started + BigInt(sent) * interval - now) / 1e6;
        if (wait > 1.5) setTimeout(tick, wait - 1);
        else setImmediate(tick);
      };
      tick();
    });
    await Promise.all(pending);
  }
  return { latencies, errors, achieved: n / (Number(process.hrtime.bigint() - started) / 1e9), lastError };
}

// ---- setup ------------------------------------------------------------------------------------

/** What the benchmark reads and rewrites in a generated ValidatingWebhookConfiguration; its other fields are copied as they are. */
interface GeneratedConfiguration {
  metadata: { name: string };
  webhooks: Array<{ name: string; clientConfig: { url: string }; matchConditions?: Array<{ name: string; expression: string }> }>;
}

interface Scenario {
  name: string;
  /** The generated configuration (metadata.name) and its webhook whose metric is read. */
  config: string;
  webhook: string;
  /** Request number `i` for `target` (even: CREATE, odd: UPDATE). */
  send(api: Api, target: string, i: number): Promise<{ status: number; body: string }>;
}

/** A reply refused by one of posture's policies, as the success the load counts; anything else as it came. */
async function refusedByPolicy(p: Promise<{ status: number; body: string }>): Promise<{ status: number; body: string }> {
  const r = await p;
  return r.status === 403 && r.body.includes("ValidatingAdmissionPolicy 'posture-protected-namespaces")
    ? { status: 200, body: r.body }
    : { status: r.status >= 300 ? r.status : 599, body: `not refused by the policy: ${r.body}` };
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '7'));
  const nSequential = Number(arg('n', '100'));
  const seconds = Number(arg('seconds', '2'));
  const warmup = Number(arg('warmup', '300'));
  const rates = arg('rates', '0,100,1000').split(',').map(Number);
  const targets = arg('targets', 'posture,floor').split(',');
  const scenarioNames = arg('scenarios', 'namespaces,deployments').split(',');
  for (const t of targets)
    if (!POSTURES[t] && !FLOORS[t] && !EXPERIMENTS[t] && !IN_APISERVER[t])
      throw new Error(`unknown target ${t}; have ${[...Object.keys(POSTURES), ...Object.keys(FLOORS), ...Object.keys(IN_APISERVER)].join(', ')}`);
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/posture_bench_apiserver';
  const RUN = `b${process.pid}`;

  const { getSharedControlPlane } = await import('../test/cluster/harness.ts');
  const { runCliCaptured } = await import('../lib/cli/testing.ts');
  const cp = await getSharedControlPlane();
  const dir = mkdtempSync(join(tmpdir(), 'posture-bench-apiserver-'));
  const children: ChildProcess[] = [];
  const vwcs: string[] = [];
  const policies: string[] = [];
  const namespaces: string[] = [];
  let admin: Api | undefined;
  let dev: Api | undefined;
  // Interrupted: still remove the configurations (they would send this run's requests nowhere) and stop the servers.
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await prepareBenchDatabase(databaseUrl);
    const sc = cp.servingCert(['127.0.0.1', 'localhost']);
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    const caFile = join(dir, 'ca.crt');
    writeFileSync(certFile, sc.cert);
    writeFileSync(keyFile, sc.key);
    writeFileSync(caFile, sc.ca);

    // The servers under test, each in its own process.
    const ports = new Map<string, number>();
    const pids = new Map<string, number>();
    for (const t of targets) {
      if (IN_APISERVER[t]) continue;
      const started = POSTURES[t]
        ? await startChild(
            [...(POSTURES[t].node ?? []), join(t === 'posture-baseline' ? baselineDir() : ROOT, 'bin/serve.ts'), 'admission'],
            admissionServerEnv({ databaseUrl, certFile, keyFile }, POSTURES[t].env),
            `${t} admission server`,
          )
        : await startChild([...(FLOORS[t]?.node ?? []), SELF, '--serve', t, certFile, keyFile], process.env, t);
      children.push(started.child);
      ports.set(t, started.port);
      pids.set(t, started.child.pid!);
    }

    // Clients: admin (system:masters, for setup and /metrics) and a non-admin developer.
    const kc = cp.kc;
    const user = kc.getCurrentUser()!;
    const clusterCa = kc.getCurrentCluster()!.caData
      ? Buffer.from(kc.getCurrentCluster()!.caData!, 'base64').toString()
      : readFileSync(kc.getCurrentCluster()!.caFile!, 'utf8');
    const creds = (u: typeof user) => ({
      cert: u.certData ? Buffer.from(u.certData, 'base64').toString() : readFileSync(u.certFile!, 'utf8'),
      key: u.keyData ? Buffer.from(u.keyData, 'base64').toString() : readFileSync(u.keyFile!, 'utf8'),
    });
    admin = await apiClient(cp.server, { ca: clusterCa, ...creds(user) });
    const devName = `bench-dev-${RUN}`;
    const devKc = await cp.asUser(devName, ['bench-devs'], {
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'create', 'update', 'patch'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'create', 'update', 'patch'] },
      ],
    });
    dev = await apiClient(cp.server, { ca: clusterCa, ...creds(devKc.getCurrentUser()!) });
    const must = async (p: Promise<{ status: number; body: string }>, what: string) => {
      const r = await p;
      if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 500)}`);
      return r;
    };

    // The generated configurations, each registered once per target: posture's as generated, the
    // floors' as copies pointing at them. One match condition scopes each copy to its target label.
    const manifest = await runCliCaptured(
      ['webhooks', 'manifest', '--engine', 'webhook', '--url', `https://127.0.0.1:${ports.get('posture') ?? 1}`, '--ca-bundle', caFile],
      {},
    );
    if (manifest.code !== 0) throw new Error(`posture webhooks manifest: ${manifest.stderr}`);
    const generated = parseAllDocuments(manifest.stdout).map((d) => d.toJS() as GeneratedConfiguration);
    const scenarios: Scenario[] = [];
    const gateNs = `bench-gate-${RUN}`;
    if (scenarioNames.includes('namespaces')) {
      scenarios.push({
        name: 'namespaces',
        config: 'posture-protected-namespaces',
        webhook: 'protected-namespaces.posture.dev',
        // Even i: CREATE of a new namespace; odd i: UPDATE (merge patch) of the target's namespace.
        // The API server (v1.37.2) times a policy only when it refuses: the policy target's
        // requests are refused (a protected name; a posture.dev/ label), which is reported as success.
        send: (api, target, i) =>
          target === 'policy'
            ? refusedByPolicy(
                i % 2 === 0
                  ? api.call(
                      'POST',
                      '/api/v1/namespaces?dryRun=All',
                      JSON.stringify({
                        apiVersion: 'v1',
                        kind: 'Namespace',
                        metadata: { name: `kube-bench-${RUN}-${i}`, labels: { [TARGET_LABEL]: `${target}-${RUN}`, team: 'a' } },
                      }),
                    )
                  : api.call(
                      'PATCH',
                      `/api/v1/namespaces/bench-${RUN}-${target}?dryRun=All`,
                      JSON.stringify({ metadata: { labels: { 'posture.dev/min-score': String(i % 10) } } }),
                      'application/merge-patch+json',
                    ),
              )
            : i % 2 === 0
              ? api.call(
                  'POST',
                  '/api/v1/namespaces?dryRun=All',
                  JSON.stringify({
                    apiVersion: 'v1',
                    kind: 'Namespace',
                    metadata: { name: `bench-${RUN}-${target}-${i}`, labels: { [TARGET_LABEL]: `${target}-${RUN}`, team: 'a' } },
                  }),
                )
              : api.call(
                  'PATCH',
                  `/api/v1/namespaces/bench-${RUN}-${target}?dryRun=All`,
                  JSON.stringify({ metadata: { annotations: { 'bench/i': String(i) } } }),
                  'application/merge-patch+json',
                ),
      });
    }
    const deployment = (name: string, target: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels: { [TARGET_LABEL]: `${target}-${RUN}`, app: 'web' }, annotations: { 'posture.dev/source-repo': 'github.com/bench/web' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: `registry.example.com/web@sha256:${'a'.repeat(64)}` }] } },
      },
    });
    if (scenarioNames.includes('deployments')) {
      scenarios.push({
        name: 'deployments (gate)',
        config: 'posture-scorecard-gate',
        webhook: 'scorecard-gate.posture.dev',
        send: (api, target, i) =>
          i % 2 === 0
            ? api.call('POST', `/apis/apps/v1/namespaces/${gateNs}/deployments?dryRun=All`, JSON.stringify(deployment(`web-${target}-${i}`, target)))
            : api.call(
                'PATCH',
                `/apis/apps/v1/namespaces/${gateNs}/deployments/web-${target}?dryRun=All`,
                JSON.stringify({ metadata: { annotations: { 'bench/i': String(i) } } }),
                'application/merge-patch+json',
              ),
      });
    }
    if (scenarios.length === 0) throw new Error('no scenario: --scenarios namespaces,deployments');

    const policyName = `posture-protected-namespaces-${RUN}`;
    const metricName = (s: Scenario, t: string) => (t === 'policy' ? `policy:${policyName}` : t === 'posture' ? s.webhook : `${t}-${s.webhook}`);
    /** The targets of a scenario: the API server's own only where a policy exists (namespaces). */
    const targetsOf = (s: Scenario) => targets.filter((t) => !IN_APISERVER[t] || s.name === 'namespaces');
    const targetCondition = (t: string) => ({
      name: 'bench-target',
      expression: `has(object.metadata.labels) && "${TARGET_LABEL}" in object.metadata.labels && object.metadata.labels["${TARGET_LABEL}"] == "${t}-${RUN}"`,
    });
    if (targets.includes('policy') && scenarioNames.includes('namespaces')) {
      // The generated policy, scoped like the webhook copies by the target label.
      const out = await runCliCaptured(['webhooks', 'manifest', '--engine', 'policy'], {});
      if (out.code !== 0) throw new Error(`posture webhooks manifest --engine policy: ${out.stderr}`);
      type Doc = { kind: string; metadata: { name: string }; spec: { matchConditions?: unknown[]; policyName?: string } };
      const docs = parseAllDocuments(out.stdout).map((d) => d.toJS() as Doc);
      const vap = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata.name === 'posture-protected-namespaces')!;
      const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding' && d.metadata.name === 'posture-protected-namespaces')!;
      vap.metadata.name = policyName;
      vap.spec.matchConditions = [...(vap.spec.matchConditions ?? []), targetCondition('policy')];
      binding.metadata.name = policyName;
      binding.spec.policyName = policyName;
      await must(admin.call('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', JSON.stringify(vap)), 'register the policy');
      await must(admin.call('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', JSON.stringify(binding)), 'bind the policy');
      policies.push(policyName);
    }
    for (const s of scenarios) {
      const base = generated.find((d) => d.metadata?.name === s.config);
      if (!base) throw new Error(`the generated manifest has no ${s.config}`);
      for (const t of targets) {
        if (IN_APISERVER[t]) continue;
        const vwc = structuredClone(base);
        vwc.metadata.name = `${s.config}-${t}-${RUN}`;
        for (const w of vwc.webhooks) {
          if (t !== 'posture') {
            w.name = `${t}-${w.name}`;
            w.clientConfig.url = w.clientConfig.url.replace(/^https:\/\/127\.0\.0\.1:\d+/, `https://127.0.0.1:${ports.get(t)}`);
          }
          w.matchConditions = [...(w.matchConditions ?? []), targetCondition(t)];
        }
        await must(
          admin.call('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', JSON.stringify(vwc)),
          `register ${vwc.metadata.name}`,
        );
        vwcs.push(vwc.metadata.name);
      }
    }
    // What UPDATEs change: one namespace per target, and a namespace of Deployments for the gate.
    for (const t of targets) {
      await must(
        admin.call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: `bench-${RUN}-${t}`, labels: { [TARGET_LABEL]: `${t}-${RUN}` } } })),
        'namespace',
      );
      namespaces.push(`bench-${RUN}-${t}`);
    }
    if (scenarioNames.includes('deployments')) {
      await must(admin.call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: gateNs } })), 'namespace');
      namespaces.push(gateNs);
      for (const t of targets)
        await must(admin.call('POST', `/apis/apps/v1/namespaces/${gateNs}/deployments`, JSON.stringify(deployment(`web-${t}`, t))), 'deployment');
    }

    // The API server picks configurations up asynchronously: wait until every webhook is called.
    for (const s of scenarios) {
      for (const t of targetsOf(s)) {
        if (t === 'none') continue;
        const deadline = Date.now() + 30_000;
        for (let i = 0; ; i += 2) {
          const before = (await webhookTimes(admin)).get(metricName(s, t))?.count ?? 0;
          await s.send(dev, t, i);
          if (((await webhookTimes(admin)).get(metricName(s, t))?.count ?? 0) > before) break;
          if (Date.now() > deadline) throw new Error(`${metricName(s, t)} never called by the API server\n${cp.diagnostics(5)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }

    console.log(
      `admission latency as kube-apiserver measures it (${METRIC}: sum/count per round), ${rounds} rounds, targets interleaved; user ${devName} (not an admin); dry-run requests`,
    );
    for (const t of targets) console.log(`  ${t}: ${(POSTURES[t] ?? FLOORS[t] ?? EXPERIMENTS[t] ?? IN_APISERVER[t]).doc}`);
    const summary: string[] = [];
    for (const s of scenarios) {
      const targets = targetsOf(s);
      // Warm-up: JIT, connections, caches. A server runs for days; --warmup 3000 measures it after
      // V8 has compiled its hot paths with TurboFan (lib/admission/v8-flags.ts), not while it does.
      // The targets' warm-ups are interleaved, so all of them end at the same moment: warmed one
      // after another, the first sat idle for the others' (a minute at 3,000 each), and in one run
      // measured 1.4x the floor in the first round after it, 1.1x by the fifth.
      await load(warmup * targets.length, 0, (i) => s.send(dev!, targets[i % targets.length], Math.floor(i / targets.length) + 1_000_000));
      for (const rate of rates) {
        // Requests alternate between the targets, so every target sees the same moments of a
        // machine shared with other work; the metric tells their times apart. The API server
        // calls webhooks at `rate` in all, each target getting its share.
        const T = targets.length;
        const n = rate === 0 ? nSequential : Math.round((rate * seconds) / T);
        const means = new Map<string, number[]>(targets.map((t) => [t, []]));
        const p50s = new Map<string, number[]>(targets.map((t) => [t, []]));
        const p99s = new Map<string, number[]>(targets.map((t) => [t, []]));
        const achieved: number[] = [];
        const cpu = new Map<string, number>(targets.map((t) => [t, 0]));
        const ratios = new Map<string, number[]>(targets.includes('posture') ? targets.filter((t) => t !== 'posture' && t !== 'none').map((t) => [t, []]) : []);
        for (let r = 0; r < rounds; r++) {
          // The order of the cycle flips every round, so no target always follows the same one.
          const cycle = r % 2 === 0 ? targets : [...targets].reverse();
          const targetOf = (i: number) => cycle[(i + (r >> 1)) % T];
          const before = await webhookTimes(admin);
          const cpuBefore = targets.map((t) => cpuMicros(pids.get(t)));
          const res = await load(n * T, rate, (i) => s.send(dev!, targetOf(i), Math.floor(i / T) + r * 100_000));
          const after = await webhookTimes(admin);
          for (const [k, t] of targets.entries()) cpu.set(t, cpu.get(t)! + cpuMicros(pids.get(t)) - cpuBefore[k]);
          if (res.errors > 0) throw new Error(`${res.errors} of ${n * T} requests failed; last: ${res.lastError}`);
          achieved.push(res.achieved);
          const round = new Map<string, number>();
          for (const t of targets) {
            const a = after.get(metricName(s, t)) ?? { sum: 0, count: 0 };
            const b = before.get(metricName(s, t)) ?? { sum: 0, count: 0 };
            const calls = a.count - b.count;
            if (t !== 'none' && calls !== n) throw new Error(`${t}: ${calls} ${t === 'policy' ? 'policy checks' : 'webhook calls'} for ${n} requests`);
            const mean = t === 'none' ? 0 : ((a.sum - b.sum) / calls) * 1e6;
            round.set(t, mean);
            means.get(t)!.push(mean);
            const mine = Array.from(res.latencies.filter((_, i) => targetOf(i) === t)).sort((x, y) => x - y);
            p50s.get(t)!.push(percentile(mine, 50));
            p99s.get(t)!.push(percentile(mine, 99));
          }
          for (const [t, xs] of ratios) if (round.has('posture')) xs.push(round.get('posture')! / round.get(t)!);
        }
        const mode = rate === 0 ? `one at a time (n=${n} per target)` : `${rate} req/s open loop (n=${n} per target)`;
        console.log(
          `\n${s.name}, ${mode}; achieved ${median(achieved).toFixed(0)} req/s in all: mean µs added per request (API server metric), per round; client-side p50/p99 ms; the server process's CPU time per request over all rounds`,
        );
        for (const t of targets) {
          const xs = means.get(t)!;
          console.log(
            `  ${t.padEnd(16)} median ${median(xs).toFixed(0).padStart(5)} µs  rounds [${xs.map((x) => x.toFixed(0)).join(', ')}]  client p50 ${(median(p50s.get(t)!) / 1000).toFixed(2)} p99 ${(median(p99s.get(t)!) / 1000).toFixed(2)}  server CPU ${(cpu.get(t)! / (n * rounds)).toFixed(0)} µs/request`,
          );
        }
        for (const [t, xs] of ratios) {
          const line = `posture ÷ ${t}: median ${median(xs).toFixed(3)}x  rounds [${xs.map((x) => x.toFixed(2)).join(', ')}]`;
          console.log(`  ${line}`);
          summary.push(`${s.name}, ${mode}: ${line}`);
        }
        const f = means.get('floor');
        if (f) {
          for (const t of targets.filter((x) => x !== 'floor' && x !== 'posture' && x !== 'none')) {
            const line = `${t} ÷ floor: median ${median(means.get(t)!.map((x, i) => x / f[i])).toFixed(3)}x`;
            console.log(`  ${line}`);
            summary.push(`${s.name}, ${mode}: ${line}`);
          }
        }
      }
    }
    console.log('\nsummary (goal: posture <= 1.05x the floor):');
    for (const l of summary) console.log(`  ${l}`);
  } finally {
    await cleanup();
  }
  async function cleanup(): Promise<void> {
    for (const name of vwcs) await admin?.call('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${name}`).catch(() => {});
    for (const name of policies) {
      await admin?.call('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${name}`).catch(() => {});
      await admin?.call('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${name}`).catch(() => {});
    }
    for (const ns of namespaces) await admin?.call('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
    admin?.close();
    dev?.close();
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    await cp.stop();
  }
}

if (process.argv[2] === '--serve') {
  await serveFloor(process.argv[3], process.argv[4], process.argv[5]);
} else {
  await main();
  process.exit(0);
}
