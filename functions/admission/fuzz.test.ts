// Fuzz: 100,000 mutated AdmissionReviews through the full dispatcher of the shipped webhooks (and
// a sample over real HTTPS). Invariants: nothing throws; a body that is still a review with a uid
// gets HTTP 200 with that uid, in its own version; anything else gets 400; memory stays flat.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Dispatcher } from '../../lib/admission/dispatcher.ts';
import { loadRegistry } from '../../lib/admission/registry.ts';
import type { ScoreLookupResult } from '../../lib/admission/scores.ts';
import { AdmissionServer } from '../../lib/admission/server.ts';
import { admissionReview, object, serviceAccount, user } from '../../lib/admission/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { seededRandom as rng } from '../../lib/random/seeded.ts';
import { createCA, issueCert, pem } from '../../test/cluster/pki.ts';
import { WEBHOOKS_DIR } from './webhooks-dir.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const seeds = [
  admissionReview({ operation: 'DELETE', oldObject: object('Namespace', 'kube-system'), caller: user('jane') }),
  admissionReview({
    operation: 'UPDATE',
    object: object('ConfigMap', 'c', { labels: { 'posture.dev/protected': 'true' } }),
    oldObject: object('ConfigMap', 'c', { labels: { 'posture.dev/protected': 'true' } }),
    caller: user('jane'),
    dryRun: true,
  }),
  admissionReview({
    operation: 'CREATE',
    object: object('Job', 'j', { namespace: 'posture', labels: { 'app.kubernetes.io/managed-by': 'posture' } }),
    caller: serviceAccount('posture', 'x'),
  }),
  admissionReview({
    operation: 'CREATE',
    object: object('Deployment', 'd', {
      annotations: { 'posture.dev/source-repo': 'github.com/o/r' },
      spec: { template: { metadata: { annotations: { 'posture.dev/source-repo': 'github.com/o/s' } } } },
    }),
    caller: user('jane'),
    apiVersion: 'admission.k8s.io/v1beta1',
  }),
  admissionReview({ operation: 'CONNECT', object: { kind: 'PodExecOptions' }, caller: user('jane'), subResource: 'exec' }),
];

const junk = (r: () => number): unknown => {
  const pick = Math.floor(r() * 12);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return Math.floor(r() * 1e6) - 5e5;
    case 2:
      return r() < 0.5;
    case 3:
      return '';
    case 4:
      return 'x'.repeat(Math.floor(r() * 600));
    case 5:
      return [];
    case 6:
      return {};
    case 7:
      return ['system:masters', 1, null];
    case 8:
      return { metadata: 'nope' };
    case 9:
      return { metadata: { labels: { 'posture.dev/protected': 'true' }, annotations: { 'posture.dev/source-repo': r() < 0.5 ? 'github.com/a/b' : '\u0000' } } };
    case 10:
      return '\u202e\ud800';
    default:
      return { __proto__: { polluted: true }, constructor: 'x' };
  }
};

/** Paths to every field of a JSON value. */
function paths(v: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) {
      out.push([...prefix, k]);
      if (out.length < 200) paths((v as Record<string, unknown>)[k], [...prefix, k], out);
    }
  }
  return out;
}

function mutate(r: () => number, base: Record<string, unknown>): string {
  const v = structuredClone(base) as Record<string, unknown>;
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const all = paths(v);
    if (all.length === 0) break;
    const p = all[Math.floor(r() * all.length)];
    let parent = v as Record<string, unknown>;
    for (const k of p.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
    if (typeof parent !== 'object' || parent === null) continue;
    const key = p[p.length - 1];
    const op = r();
    if (op < 0.3) delete parent[key];
    else if (op < 0.85) parent[key] = junk(r);
    else if (key === 'operation') parent[key] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'PATCH'][Math.floor(r() * 5)];
    else parent[key] = structuredClone(parent[key]);
  }
  let text = JSON.stringify(v);
  if (r() < 0.25) {
    // Byte-level damage: truncate, flip or insert.
    const at = Math.floor(r() * text.length);
    const b = r();
    if (b < 0.33) text = text.slice(0, at);
    else if (b < 0.66) text = text.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + text.slice(at + 1);
    else text = `${text.slice(0, at)}{"${text.slice(at)}`;
  }
  return text;
}

/** What the reply must be: 200 with this uid and version, or 400. */
function expectation(text: string): { uid: string; apiVersion: string } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = v as { kind?: unknown; apiVersion?: unknown; request?: { uid?: unknown } };
  if (typeof v !== 'object' || v === null || Array.isArray(v) || o.kind !== 'AdmissionReview') return undefined;
  if (o.apiVersion !== 'admission.k8s.io/v1' && o.apiVersion !== 'admission.k8s.io/v1beta1') return undefined;
  if (typeof o.request !== 'object' || o.request === null || Array.isArray(o.request) || typeof o.request.uid !== 'string' || o.request.uid === '')
    return undefined;
  return { uid: o.request.uid, apiVersion: o.apiVersion };
}

test('100,000 mutated reviews: no crash, 200 with the uid whenever there is one, memory flat', async () => {
  const registry = await loadRegistry<{ scores: { lookup(): ScoreLookupResult } }>(WEBHOOKS_DIR, defaultConfig());
  const r = rng(20261123);
  let flip = 0;
  const scores = {
    lookup: (): ScoreLookupResult =>
      ++flip % 3 === 0 ? { state: 'unavailable', reason: 'x' } : flip % 3 === 1 ? { state: 'unknown' } : { state: 'hit', repo: 'r', score: 3, date: '' },
  };
  const dispatcher = new Dispatcher({ registry, services: { scores } });
  const entryPaths = registry.webhooks.flatMap((w) => w.entries.map((e) => e.path));
  const counts = { ok: 0, rejected: 0 };
  let heapAt10k = 0;
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const text = mutate(r, seeds[i % seeds.length]);
    const path = entryPaths[Math.floor(r() * entryPaths.length)];
    const res = dispatcher.dispatch({ method: 'POST', path, contentType: 'application/json', body: Buffer.from(text) });
    const want = expectation(text);
    if (want) {
      assert.equal(res.statusCode, 200, `#${i}: ${text.slice(0, 300)} → ${res.body.slice(0, 200)}`);
      const body = JSON.parse(res.body);
      assert.equal(body.response.uid, want.uid, `#${i}`);
      assert.equal(body.apiVersion, want.apiVersion, `#${i}`);
      assert.equal(typeof body.response.allowed, 'boolean');
      counts.ok++;
    } else {
      assert.equal(res.statusCode, 400, `#${i}: ${text.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 200)}`);
      counts.rejected++;
    }
    if (i === 10_000) {
      gc();
      heapAt10k = process.memoryUsage().heapUsed;
    }
  }
  gc();
  const growth = process.memoryUsage().heapUsed - heapAt10k;
  assert.ok(growth < 16 * 1024 * 1024, `heap grew ${Math.round(growth / 1024)} KiB between review 10,000 and 100,000`);
  assert.ok(counts.ok > 20_000 && counts.rejected > 5_000, JSON.stringify(counts));
});

test('2,000 mutated reviews over real HTTPS: the same invariants, the server keeps serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-fuzz-'));
  const ca = createCA(dir, 'ca');
  const cert = issueCert({ ca, dir, name: 'srv', commonName: 'fuzz', hosts: ['127.0.0.1'], usage: 'server' });
  const registry = await loadRegistry(WEBHOOKS_DIR, defaultConfig());
  const dispatcher = new Dispatcher({ registry, services: { scores: { lookup: (): ScoreLookupResult => ({ state: 'unknown' }) } } });
  const server = new AdmissionServer({
    dispatcher,
    certFile: cert.cert,
    keyFile: cert.key,
    port: 0,
    host: '127.0.0.1',
    maxBodyBytes: 3 * 1024 * 1024,
    reloadMs: 60_000,
  });
  await server.start();
  const agent = new Agent({ ca: pem(ca.cert), keepAlive: true, maxSockets: 4 });
  const post = (path: string, body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: t }));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    const r = rng(7);
    const entryPaths = registry.webhooks.flatMap((w) => w.entries.map((e) => e.path));
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const text = mutate(r, seeds[Math.floor(r() * seeds.length)]);
          const res = await post(entryPaths[Math.floor(r() * entryPaths.length)], text);
          const want = expectation(text);
          if (want) {
            assert.equal(res.status, 200, text.slice(0, 200));
            assert.equal(JSON.parse(res.body).response.uid, want.uid);
          } else assert.equal(res.status, 400, text.slice(0, 200));
        }),
      );
    }
  } finally {
    agent.destroy();
    await server.stop(100);
    rmSync(dir, { recursive: true });
  }
});
