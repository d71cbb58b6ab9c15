// The admission server's budget for large bodies (issue 40): anyone who reaches port 8443 could
// send bodies near the limit, six at once took the server past 640 MB and a real review waited
// 1.3-5.2 s, past a 3 s webhook timeout. Large bodies now share a budget (one more is answered 503
// unread, so the API server applies the failure policy at once), a large body that has not arrived
// by the longest webhook timeout is dropped, and small reviews never wait for either.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCA, issueCert, pem } from '../../test/cluster/pki.ts';
import { defaultConfig } from '../config/index.ts';
import { compileWebhook, defineWebhook } from './define.ts';
import { Dispatcher } from './dispatcher.ts';
import { Registry } from './registry.ts';
import { AdmissionServer } from './server.ts';
import { admissionReview, object } from './testing.ts';
import { Allowed } from './verdict.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-admission-budget-'));
const ca = createCA(dir, 'ca');
const cert = issueCert({ ca, dir, name: 'srv', commonName: 'admission', hosts: ['127.0.0.1'], usage: 'server' });
const registry = new Registry([
  compileWebhook(
    defineWebhook({
      name: 'simple',
      path: '/simple',
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
      failurePolicy: 'Fail',
      timeoutSeconds: 3,
      enforcement: 'deny',
      doc: { summary: 's', protects: 'configmaps', exempt: 'nobody', failurePolicy: 'Fail: f', timeout: '3 s', denials: ['no'] },
      authorize: () => Allowed(),
    }),
    defaultConfig(),
  ),
]);
const MAX = 256 * 1024;
const LARGE = 16 * 1024;
let server: AdmissionServer;
const ca_ = pem(ca.cert);

before(async () => {
  server = new AdmissionServer({
    dispatcher: new Dispatcher({ registry, services: {} }),
    certFile: cert.cert,
    keyFile: cert.key,
    port: 0,
    host: '127.0.0.1',
    maxBodyBytes: MAX,
    largeBodyBytes: LARGE,
    reloadMs: 60_000,
    largeBodyDeadlineMs: 1_500,
  });
  await server.start();
});

after(async () => {
  await server.stop(100);
  rmSync(dir, { recursive: true });
});

interface Reply {
  status: number;
  body: string;
  ms: number;
}

/** A POST on a connection of its own; `hold` sends the headers and part of the body, never the rest. */
function post(body: string, options: { declared?: number; hold?: boolean } = {}): { req: ClientRequest; reply: Promise<Reply> } {
  const started = performance.now();
  const agent = new Agent({ ca: ca_, keepAlive: false });
  let req!: ClientRequest;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/simple',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', ...(options.declared !== undefined ? { 'content-length': String(options.declared) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('error', (err: Error) => resolve({ status: 0, body: String(err), ms: performance.now() - started }));
  });
  if (options.hold) req.write(body);
  else req.end(body);
  return { req, reply };
}

const review = (uid: string, pad = 0) =>
  JSON.stringify(admissionReview({ operation: 'CREATE', object: { ...object('ConfigMap', 'c'), data: { pad: 'x'.repeat(pad) } }, uid }));

const until = async (what: string, check: () => boolean, ms = 3_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('large bodies share a budget: one more is answered 503 at once, a small review never waits, a stalled body is dropped at the deadline', async () => {
  // Two senders declare bodies at the limit and stall: together they hold the budget (twice the limit).
  const stalled = [post('{"junk":"', { declared: MAX, hold: true }), post('{"junk":"', { declared: MAX, hold: true })];
  await new Promise((r) => setTimeout(r, 300));
  // A third large body, declared or chunked, is refused unread.
  const third = await post(review('large-3', 2 * LARGE), { declared: Buffer.byteLength(review('large-3', 2 * LARGE)) }).reply;
  assert.equal(third.status, 503, third.body);
  assert.equal(server.largeBodiesInFlight, 2 * MAX, 'the stalled bodies hold the budget');
  assert.match(third.body, /too many large requests/);
  const chunked = await post(review('large-4', 2 * LARGE)).reply;
  assert.equal(chunked.status, 503, chunked.body);
  // A real (small) review is answered at once meanwhile.
  const small = await post(review('small-1')).reply;
  assert.equal(small.status, 200, small.body);
  assert.equal(JSON.parse(small.body).response.uid, 'small-1');
  assert.ok(small.ms < 1_000, `small review answered in ${small.ms.toFixed(0)} ms`);
  // The stalled bodies are dropped at the deadline (the webhook's 3 s timeout plus a second, 1.5 s
  // here) and their budget returns: a large review is read and decided again.
  for (const s of stalled) assert.equal((await s.reply).status, 0, 'dropped');
  assert.equal(server.largeBodiesInFlight, 0);
  const large = await post(review('large-5', 2 * LARGE)).reply;
  assert.equal(large.status, 200, large.body);
  assert.equal(JSON.parse(large.body).response.uid, 'large-5');
  await until('its share is returned', () => server.largeBodiesInFlight === 0);
});

test('the default body limit is well under 8 MiB: two copies of an object etcd stores (1.5 MiB by default) and the review around them', () => {
  const limit = defaultConfig().admissionMaxBodyBytes;
  assert.ok(limit <= 4 * 1024 * 1024, `admissionMaxBodyBytes defaults to ${limit}`);
  assert.ok(limit >= 3 * 1024 * 1024);
});
