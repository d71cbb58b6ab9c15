// Junk near the body limit against real reviews: the admission server in a child process with the
// V8 heap of its Deployment's 512 MiB limit (128 MB), six senders posting 8 MiB JSON bodies of
// small objects (what costs most to parse) as fast as the server takes them, and one real review
// (a Deployment CREATE through the Scorecard gate) every 100 ms meanwhile. Prints the real
// reviews' latency (the gate's timeout is 3 s) and the child's peak resident memory. Nothing
// outside the process is needed. BENCH_JUNK_SECONDS (default 10), BENCH_JUNK_SENDERS (default 6),
// BENCH_JUNK_MIB (default 8).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEBHOOKS_DIR } from '../functions/admission/webhooks-dir.ts';
import { createAdmissionApp } from '../lib/admission/app.ts';
import { StaticScoreFeed } from '../lib/admission/scores.ts';
import { admissionReview, object } from '../lib/admission/testing.ts';
import { applyAdmissionV8Flags } from '../lib/admission/v8-flags.ts';
import { defaultConfig } from '../lib/config/index.ts';
import { createCA, issueCert, pem } from '../test/cluster/pki.ts';
import { median, percentile, sampleRss } from './_util.ts';

const SECONDS = Number(process.env.BENCH_JUNK_SECONDS ?? 10);
const SENDERS = Number(process.env.BENCH_JUNK_SENDERS ?? 6);
const JUNK_MIB = Number(process.env.BENCH_JUNK_MIB ?? 8);

async function child(certFile: string, keyFile: string): Promise<void> {
  applyAdmissionV8Flags();
  const feed = new StaticScoreFeed([{ repoKey: 'github.com/o/good', repo: 'github.com/o/good', score: 8, date: '2026-11-01', updatedAt: new Date() }]);
  const app = await createAdmissionApp({ config: defaultConfig(), scoreFeed: feed, webhooksDir: WEBHOOKS_DIR, refresh: false });
  await app.scores.refresh();
  const server = await app.serve({ port: 0, host: '127.0.0.1', certFile, keyFile });
  process.stdout.write(`${server.port}\n`);
}

function post(agent: Agent, port: number, body: Buffer | string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/scorecard-gate',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'posture-bench-junk-'));
  const ca = createCA(dir, 'ca');
  const cert = issueCert({ ca, dir, name: 'srv', commonName: 'admission', hosts: ['127.0.0.1'], usage: 'server' });
  const p = spawn(process.execPath, ['--max-old-space-size=128', import.meta.filename, '--child', cert.cert, cert.key], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => p.stdout.once('data', (c) => resolve(Number(String(c).trim()))));
  const rss = sampleRss(p.pid!, 20);
  // JSON of many small objects: the most heap per byte a parse can be made to build.
  const unit = '{"a":1},';
  const junk = Buffer.from(
    `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"junk","x":[${unit.repeat(Math.floor((JUNK_MIB * 2 ** 20 - 200) / unit.length))}{}]}}`,
  );
  const real = JSON.stringify(
    admissionReview({
      operation: 'CREATE',
      object: object('Deployment', 'web', { namespace: 'team', annotations: { 'posture.dev/source-repo': 'github.com/o/good' } }),
      uid: 'real',
    }),
  );
  const ca_ = pem(ca.cert);
  const realAgent = new Agent({ ca: ca_, keepAlive: true, maxSockets: 1 });
  // Warm up the real path.
  for (let i = 0; i < 50; i++) await post(realAgent, port, real);
  const end = Date.now() + SECONDS * 1000;
  const junkCodes = new Map<number, number>();
  const senders = Array.from({ length: SENDERS }, async () => {
    const agent = new Agent({ ca: ca_, keepAlive: false });
    while (Date.now() < end) {
      const r = await post(agent, port, junk);
      junkCodes.set(r.status, (junkCodes.get(r.status) ?? 0) + 1);
    }
  });
  const latencies: number[] = [];
  let realFailed = 0;
  while (Date.now() < end) {
    const r = await post(realAgent, port, real);
    if (r.status === 200) latencies.push(r.ms);
    else realFailed++;
    await new Promise((res) => setTimeout(res, 100));
  }
  await Promise.all(senders);
  const peak = Math.max(...rss.stop()) / 1024;
  p.kill();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `${SENDERS} senders of ${JUNK_MIB} MiB JSON junk for ${SECONDS} s; junk answers by HTTP status: ${JSON.stringify(Object.fromEntries(junkCodes))}`,
  );
  console.log(
    `real reviews: ${latencies.length} answered, ${realFailed} not; latency median ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (the gate's timeout: 3,000 ms)`,
  );
  console.log(`admission process peak RSS: ${peak.toFixed(0)} MiB (the Deployment's limit: 512 MiB)`);
}
