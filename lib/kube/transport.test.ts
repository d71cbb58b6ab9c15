// The client layer against a real TLS server that counts handshakes and answers like the API
// server (Status bodies, Retry-After, continue tokens). The same calls against the real
// control plane are in test/e2e/kube-client.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { selfSignedCertificate } from '../up/tls.ts';
import { clusterApi, KubeError, retryDelayMs, withRetries } from './cluster.ts';
import { KubeTransport, parseRetryAfter, TokenBucket } from './transport.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface FakeApiServer {
  kc: () => k8s.KubeConfig;
  handshakes: number;
  requests: Array<{ method: string; url: string; accept: string; auth: string }>;
  handler: Handler;
  close(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'posture-kube-'));
let server: FakeApiServer;

async function startServer(): Promise<FakeApiServer> {
  const { certFile, keyFile } = await selfSignedCertificate(dir);
  const cert = readFileSync(certFile);
  const s: FakeApiServer = {
    handshakes: 0,
    requests: [],
    handler: (_req, res) => json(res, 200, { kind: 'JobList', items: [], metadata: {} }),
    kc: () => {
      // A new KubeConfig object each time: a new process's view of the same kubeconfig.
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: cert.toString('base64') }],
        users: [{ name: 'u', token: 'secret-token' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      return kc;
    },
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
  const srv: Server = createServer({ cert, key: readFileSync(keyFile) }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      s.requests.push({ method: req.method!, url: req.url!, accept: String(req.headers.accept ?? ''), auth: String(req.headers.authorization ?? '') });
      s.handler(req, res, body);
    });
  });
  srv.on('secureConnection', () => s.handshakes++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return s;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const status = (code: number, reason: string, extra: object = {}) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code,
  reason,
  message: `${reason} (injected)`,
  ...extra,
});
const job = (name: string) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'ns', uid: `uid-${name}` } });

/** Answers every call the client layer makes, like the API server would. */
const apiLike: Handler = (req, res, body) => {
  const url = new URL(req.url!, 'https://x');
  if (url.pathname.endsWith('/log')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('line\n'.repeat(100));
  } else if (req.method === 'POST') json(res, 201, { ...JSON.parse(body), metadata: { ...JSON.parse(body).metadata, uid: 'u1' } });
  else if (req.method === 'DELETE') json(res, 200, status(200, 'Success'));
  else if (url.pathname.includes('/jobs/')) json(res, 200, job(url.pathname.split('/').pop()!));
  else if (url.pathname.endsWith('/pods')) json(res, 200, { kind: 'PodList', items: [{ metadata: { name: 'p', uid: 'p1' } }], metadata: {} });
  else json(res, 200, { kind: 'JobList', items: [job('a'), job('b')], metadata: {} });
};

describe('kube client layer', () => {
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('many calls of every kind reuse a handful of TLS connections', async () => {
    server.handler = apiLike;
    server.handshakes = 0;
    const api = clusterApi(server.kc());
    for (let i = 0; i < 20; i++) {
      await api.listJobs('ns', 'app=x');
      await api.getJob('ns', `j${i}`);
      await api.createJob('ns', job(`j${i}`) as k8s.V1Job);
      await api.listPods('ns', `batch.kubernetes.io/job-name=j${i}`);
      await api.deleteJob('ns', `j${i}`, 'uid');
    }
    // And in parallel, as the tick creates 8 at a time.
    await Promise.all(Array.from({ length: 40 }, (_, i) => api.getJob('ns', `p${i}`)));
    assert.ok(server.requests.length >= 140);
    assert.ok(server.handshakes <= 8, `${server.handshakes} TLS handshakes for ${server.requests.length} calls`);
    assert.ok(
      server.requests.every((r) => r.auth === 'Bearer secret-token'),
      'every call authenticated',
    );
  });

  test('the pod log stream and a second ClusterApi over the same kubeconfig share the connections', async () => {
    server.handler = apiLike;
    const kc = server.kc();
    server.handshakes = 0;
    for (let i = 0; i < 10; i++) {
      const a = clusterApi(kc);
      const s = await a.streamPodLog('ns', 'p', 'scorecard', 1000);
      let n = 0;
      for await (const c of s.chunks) n += c.length;
      s.abort();
      assert.equal(n, 500);
      await a.getJob('ns', 'x');
    }
    assert.ok(server.handshakes <= 2, `${server.handshakes} handshakes`);
  });

  test('a 429 with Retry-After is retried after the time the server asked for, not before', async () => {
    let calls = 0;
    server.handler = (req, res, body) => {
      calls++;
      if (calls === 1) json(res, 429, status(429, 'TooManyRequests'), { 'retry-after': '2' });
      else apiLike(req, res, body);
    };
    const api = clusterApi(server.kc());
    const t = performance.now();
    const got = await withRetries(() => api.getJob('ns', 'a'), { retries: 3, baseMs: 1 });
    const waited = performance.now() - t;
    assert.equal(got?.metadata?.name, 'a');
    assert.equal(calls, 2);
    assert.ok(waited >= 1900, `retried after ${waited.toFixed(0)} ms, the server asked for 2 s`);
  });

  test('details.retryAfterSeconds of a Status counts like the header; the wait is capped', async () => {
    let calls = 0;
    server.handler = (req, res, body) => {
      calls++;
      if (calls === 1) json(res, 503, status(503, 'ServiceUnavailable', { details: { retryAfterSeconds: 1 } }));
      else if (calls === 2) json(res, 429, status(429, 'TooManyRequests'), { 'retry-after': '3600' });
      else apiLike(req, res, body);
    };
    const api = clusterApi(server.kc());
    const slept: number[] = [];
    await withRetries(() => api.getJob('ns', 'a'), {
      retries: 3,
      baseMs: 1,
      retryAfterMaxMs: 5000,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    assert.deepEqual(slept, [1000, 5000]);
  });

  test('retry delays: hint over backoff, capped; backoff without a hint', () => {
    const e = (s?: number) => new KubeError(429, 'x', 'TooManyRequests', { retryAfterSeconds: s });
    const cases: Array<[KubeError, number, number]> = [
      [e(undefined), 0, 200],
      [e(undefined), 2, 800],
      [e(5), 0, 5000],
      [e(0), 3, 0],
      [e(120), 0, 30000],
    ];
    for (const [err, attempt, want] of cases) assert.equal(retryDelayMs(err, attempt, { retries: 5 }, 1), want, `${err.retryAfterSeconds} ${attempt}`);
    assert.equal(parseRetryAfter('7'), 7);
    assert.equal(parseRetryAfter(new Date(Date.now() + 10000).toUTCString())! >= 9, true);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  test('the rate limiter spaces calls at qps after the burst', async () => {
    server.handler = apiLike;
    const t0 = new KubeTransport(server.kc(), { qps: 20, burst: 2 });
    const start = performance.now();
    await Promise.all(Array.from({ length: 12 }, () => t0.json({ method: 'GET', path: '/apis/batch/v1/namespaces/ns/jobs/a' })));
    const took = performance.now() - start;
    // 2 at once, then 10 at 20/s: at least 0.5 s.
    assert.ok(took >= 450, `12 calls at 20 qps burst 2 took ${took.toFixed(0)} ms`);
    assert.ok(t0.stats.throttledMs > 0);
    await t0.close();
  });

  test('token bucket: burst, then one token per 1/qps (virtual clock)', async () => {
    let now = 0;
    const b = new TokenBucket(5, 10, {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    for (let i = 0; i < 10; i++) assert.equal(await b.take(), 0);
    assert.equal(await b.take(), 200);
    assert.equal(await b.take(), 200);
    now += 10000;
    for (let i = 0; i < 10; i++) assert.equal(await b.take(), 0, 'refilled up to the burst only');
    assert.equal(await b.take(), 200);
    assert.throws(() => new TokenBucket(0, 1), /qps > 0/);
  });

  test('a call that gets no answer times out; a caller can abort one', async () => {
    server.handler = () => {}; // never answers
    const t = new KubeTransport(server.kc(), { timeoutMs: 300 });
    const start = performance.now();
    await assert.rejects(t.json({ method: 'GET', path: '/api/v1/namespaces' }), (e: KubeError) => e.status === 0 && e.reason === 'Timeout' && e.retryable);
    assert.ok(performance.now() - start < 2000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(
      t.json({ method: 'GET', path: '/api/v1/namespaces', signal: controller.signal, timeoutMs: 60000 }),
      (e: KubeError) => e.status === 0 && e.reason === 'Aborted',
    );
    await t.close();
  });

  test('a continue token that expired (410) goes on with the token the server offers; items are not repeated', async () => {
    server.handler = (req, res) => {
      const c = new URL(req.url!, 'https://x').searchParams.get('continue');
      if (!c) json(res, 200, { kind: 'JobList', items: [job('a'), job('b')], metadata: { continue: 'first' } });
      else if (c === 'first') json(res, 410, status(410, 'Expired', { metadata: { continue: 'inconsistent' } }));
      else json(res, 200, { kind: 'JobList', items: [job('b'), job('c')], metadata: {} });
    };
    const names = (await clusterApi(server.kc()).listJobs('ns', 'app=x')).map((j) => j.metadata!.name);
    assert.deepEqual(names, ['a', 'b', 'c']);
  });

  test('a metadata-only page asks for PartialObjectMetadataList; an expired cursor restarts the sweep', async () => {
    server.requests = [];
    server.handler = (req, res) => {
      const c = new URL(req.url!, 'https://x').searchParams.get('continue');
      if (c === 'old') json(res, 410, status(410, 'Expired'));
      else json(res, 200, { kind: 'PartialObjectMetadataList', items: [{ metadata: { name: 'a', uid: 'ua' } }], metadata: { continue: 'next' } });
    };
    const api = clusterApi(server.kc());
    assert.deepEqual(await api.listJobMetadataPage('ns', 'app=x', { limit: 1 }), { jobs: [{ name: 'a', uid: 'ua' }], continue: 'next', restarted: false });
    assert.deepEqual(await api.listJobMetadataPage('ns', 'app=x', { limit: 1, continue: 'old' }), {
      jobs: [{ name: 'a', uid: 'ua' }],
      continue: 'next',
      restarted: true,
    });
    assert.match(server.requests[0].accept, /as=PartialObjectMetadataList;g=meta\.k8s\.io;v=v1/);
    assert.match(server.requests[0].url, /limit=1/);
  });

  test('errors carry the Status reason; 403 is not retried', async () => {
    let calls = 0;
    server.handler = (_req, res) => {
      calls++;
      json(res, 403, status(403, 'Forbidden'));
    };
    const api = clusterApi(server.kc());
    await assert.rejects(
      withRetries(() => api.listJobs('ns', 'a=b'), { retries: 3, baseMs: 1 }),
      (e: KubeError) => e.status === 403 && e.reason === 'Forbidden' && /Forbidden \(injected\)/.test(e.message),
    );
    assert.equal(calls, 1);
  });
});
