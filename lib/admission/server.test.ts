// The HTTPS server: the request path over TLS, health, readiness and metrics, size limits, and a
// certificate rotated on disk served without a restart.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { createCA, issueCert, pem } from '../../test/cluster/pki.ts';
import { defaultConfig } from '../config/index.ts';
import { compileWebhook, defineWebhook } from './define.ts';
import { Dispatcher } from './dispatcher.ts';
import { Registry } from './registry.ts';
import { AdmissionServer } from './server.ts';
import { admissionReview, object } from './testing.ts';
import { Allowed, Denied } from './verdict.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-admission-server-'));
const ca = createCA(dir, 'ca');
const first = issueCert({ ca, dir, name: 'first', commonName: 'admission', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
const second = issueCert({ ca, dir, name: 'second', commonName: 'admission-rotated', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
const certFile = join(dir, 'tls.crt');
const keyFile = join(dir, 'tls.key');
copyFileSync(first.cert, certFile);
copyFileSync(first.key, keyFile);

const registry = new Registry([
  compileWebhook(
    defineWebhook({
      name: 'simple',
      path: '/simple',
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
      enforcement: 'deny',
      doc: { summary: 's', protects: 'configmaps', exempt: 'nobody', failurePolicy: 'Fail: f', timeout: '5 s', denials: ['no'] },
      authorize: (r) => (r.object?.metadata?.labels?.deny ? Denied('labelled deny') : Allowed()),
    }),
    defaultConfig(),
  ),
]);
let server: AdmissionServer;
const agent = new Agent({ ca: pem(ca.cert), keepAlive: true });

function call(
  path: string,
  body?: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: body === undefined ? 'GET' : 'POST', agent, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function servedCommonName(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: server.port, ca: pem(ca.cert), servername: 'localhost' }, () => {
      const cn = s.getPeerCertificate().subject.CN;
      s.end();
      resolve(String(Array.isArray(cn) ? cn[0] : cn));
    });
    s.on('error', reject);
  });
}

before(async () => {
  server = new AdmissionServer({
    dispatcher: new Dispatcher({ registry, services: {} }),
    certFile,
    keyFile,
    port: 0,
    host: '127.0.0.1',
    maxBodyBytes: 4096,
    reloadMs: 500,
  });
  await server.start();
});

after(async () => {
  agent.destroy();
  await server.stop(1000);
  rmSync(dir, { recursive: true });
});

test('reviews over TLS: 200 with the uid, keep-alive', async () => {
  const review = admissionReview({ operation: 'CREATE', object: object('ConfigMap', 'c', { labels: { deny: 'y' } }), uid: 'tls-1' });
  const r = await call('/simple', JSON.stringify(review));
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  assert.deepEqual(body.response, { uid: 'tls-1', allowed: false, status: { code: 403, reason: 'Forbidden', message: 'labelled deny' } });
  assert.equal(r.headers.connection, 'keep-alive');
  assert.match(String(r.headers['keep-alive']), /timeout=120/);
});

test('health, readiness, metrics, unknown path, wrong content type', async () => {
  assert.equal((await call('/healthz')).status, 200);
  const ready = await call('/readyz');
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.body).ready, true);
  assert.match((await call('/metrics')).body, /posture_admission_review_duration_seconds_bucket\{le="0.001",webhook="simple"\}/);
  assert.equal((await call('/nope', '{}')).status, 404);
  assert.equal((await call('/simple', '{}', { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await call('/simple', '')).status, 400);
});

test('content type and length are read whatever their case on the wire', async () => {
  const review = JSON.stringify(admissionReview({ operation: 'CREATE', object: object('ConfigMap', 'c'), uid: 'case-1' }));
  const upper = await call('/simple', review, { 'CONTENT-TYPE': 'Application/JSON; charset=utf-8' });
  assert.equal(upper.status, 200, upper.body);
  assert.equal(JSON.parse(upper.body).response.uid, 'case-1');
  assert.equal((await call('/simple', review, { 'Content-Type': 'text/plain' })).status, 415);
  // The declared length past four times the limit is refused before the body is read.
  const big = await call('/simple', 'x'.repeat(4096 * 4 + 1), { 'Content-Type': 'application/json', 'Content-Length': String(4096 * 4 + 1) });
  assert.equal(big.status, 413);
});

test('a review over the body limit gets 200 with its uid and the failure policy', async () => {
  const review = admissionReview({ operation: 'CREATE', object: { ...object('ConfigMap', 'big'), data: { x: 'y'.repeat(10_000) } }, uid: 'big-1' });
  const r = await call('/simple', JSON.stringify(review));
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  assert.equal(body.response.uid, 'big-1');
  assert.equal(body.response.allowed, false);
  assert.equal(body.response.status.code, 413);
  const far = await call('/simple', 'x'.repeat(20_000), { 'content-type': 'application/json', 'content-length': '20000' });
  assert.equal(far.status, 413);
});

test('a certificate rotated on disk is served without a restart; a half-written pair is not', async () => {
  assert.equal(await servedCommonName(), 'admission');
  // Only the certificate changed so far: the pair does not match, the old one stays.
  copyFileSync(second.cert, certFile);
  assert.equal(server.reloadTls(), 'invalid');
  assert.equal(await servedCommonName(), 'admission');
  copyFileSync(second.key, keyFile);
  const deadline = Date.now() + 5000;
  while ((await servedCommonName()) !== 'admission-rotated') {
    assert.ok(Date.now() < deadline, 'rotated certificate not served within 5 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(server.reloadTls(), 'unchanged', 'the same files again are not a reload');
  writeFileSync(certFile, 'garbage');
  assert.equal(server.reloadTls(), 'invalid');
  assert.equal(server.reloadTls(), 'invalid', 'the same bad files stay refused');
  assert.equal(await servedCommonName(), 'admission-rotated');
  const review = admissionReview({ operation: 'CREATE', object: object('ConfigMap', 'c'), uid: 'after-rotation' });
  assert.equal(JSON.parse((await call('/simple', JSON.stringify(review))).body).response.uid, 'after-rotation');
});
