// `posture up` (what `npm start` runs), on the embedded database: with the local control
// plane's KUBECONFIG the whole loop runs and scores appear in the API; with no cluster and a
// fake `scorecard` on PATH the local runner scores them; with neither it says so.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { startReceiver } from '../../lib/alerts/receiver.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { controlRunner } from '../../lib/cli/up.ts';
import { jobName } from '../../lib/jobs/spec.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { type UpHandle, up } from '../../lib/up/up.ts';
import { type ControlPlane, getSharedControlPlane } from '../cluster/harness.ts';
import { FIXTURES, fixturePath } from '../fixtures/scorecard.ts';

const FIXTURE = fixturePath(FIXTURES.cliShowDetails);
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8'));
const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;
const handles: UpHandle[] = [];
let cp: ControlPlane | undefined;

after(async () => {
  for (const h of handles) await h.stop().catch(() => {});
  await cp?.stop();
});

function output() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  return { out, text: () => text };
}

async function waitFor(what: string, f: () => boolean | Promise<boolean>, ms = 60000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function fakeScorecard(dir: string): string {
  // A test double of the Scorecard CLI (v5.4 and later): for each repository of --repo or
  // --repos, in order, prints fixture 08 for it (stderr noise first, like the real one), or v5.4's
  // "Skipping" for repos named "skip-*", and v5.4's real answer to a refused token (401 Bad
  // credentials) for repos named "revoked-*"; exit 0.
  const bin = join(dir, 'bin');
  const script = `#!/usr/bin/env node
const args = process.argv.slice(2);
const one = args.find((a) => a.startsWith('--repo='));
const many = args.find((a) => a.startsWith('--repos='));
const repos = one ? [one.slice(7)] : many ? many.slice(8).split(',') : [];
if (!args.includes('--format=json') || !args.includes('--show-details') || repos.length === 0) process.exit(3);
for (const repo of repos) {
  process.stderr.write('Starting [Binary-Artifacts]\\n');
  if (repo.includes('/skip-')) { process.stderr.write('Skipping ' + repo + ': repo unreachable\\n'); continue; }
  if (repo.includes('/revoked-')) { process.stderr.write('Skipping ' + repo + ': run: repo unreachable: GET https://api.github.com/repos/' + repo.split('/').slice(1).join('/') + ': 401 Bad credentials []\\n'); continue; }
  const doc = JSON.parse(require('fs').readFileSync(${JSON.stringify(FIXTURE)}, 'utf8'));
  doc.repo.name = repo;
  // "drop-*": the second run of the repository scores 3.0, its first check at 0.
  if (repo.includes('/drop-')) {
    const seen = require('path').join(__dirname, repo.replace(/[^a-z0-9]/gi, '_') + '.runs');
    const runs = require('fs').existsSync(seen) ? Number(require('fs').readFileSync(seen, 'utf8')) : 0;
    require('fs').writeFileSync(seen, String(runs + 1));
    if (runs >= 1) { doc.score = 3; doc.checks[0].score = 0; }
  }
  process.stdout.write(JSON.stringify(doc) + '\\n');
}
`;
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'scorecard'), script.replace('#!/usr/bin/env node', `#!${process.execPath}`));
  chmodSync(join(bin, 'scorecard'), 0o755);
  return bin;
}
async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

function httpsStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

test('a refused token (401 Bad credentials): up says the fleet is paused, and no repository is failing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-up-401-'));
  const env = {
    POSTURE_DATA_DIR: join(dir, 'data'),
    KUBECONFIG: join(dir, 'no-kubeconfig'),
    PATH: `${fakeScorecard(dir)}:${process.env.PATH}`,
    GITHUB_AUTH_TOKEN: 'revoked-token',
  };
  const add = await runCliCaptured(['repos', 'add', 'posture-e2e/revoked-a', 'posture-e2e/revoked-b'], env);
  assert.equal(add.code, 0, add.stderr);
  const o = output();
  const h = await up({ env, out: o.out, apiPort: 0, admissionPort: 0, webhooksDir: WEBHOOKS_DIR, control: controlRunner(env, WEBHOOKS_DIR) });
  handles.push(h);
  await waitFor('a run refused for its token', () => /revoked-a: failed \(credentials\)|revoked-b: failed \(credentials\)/.test(o.text()));
  await h.tick(new Date(Date.now() + 60_000));
  await waitFor('the pause said', () => /paused: GitHub refused the token \(401 Bad credentials\): fix the token Secret/.test(o.text()));
  const list = await runCliCaptured(['repos', 'list', '-o', 'json'], env);
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as Array<{ state: string; failures: number }>;
  assert.ok(
    rows.every((r) => r.state !== 'failing' && r.failures === 0),
    list.stdout,
  );
  await h.stop();
});

test('no cluster and a fake scorecard on PATH: the local runner scores repositories added with the CLI', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-up-local-'));
  const env = {
    POSTURE_DATA_DIR: join(dir, 'data'),
    KUBECONFIG: join(dir, 'no-kubeconfig'),
    PATH: `${fakeScorecard(dir)}:${process.env.PATH}`,
    GITHUB_AUTH_TOKEN: 'test-token',
  };
  const add = await runCliCaptured(['repos', 'add', 'ossf/scorecard', 'posture-e2e/skip-me'], env);
  assert.equal(add.code, 0, add.stderr);
  const o = output();
  const h = await up({ env, out: o.out, apiPort: 0, admissionPort: 0, webhooksDir: WEBHOOKS_DIR, control: controlRunner(env, WEBHOOKS_DIR) });
  handles.push(h);
  assert.equal(h.mode, 'local');
  assert.match(o.text(), /jobs: no cluster .*running .*scorecard locally/);
  await waitFor('both repositories', () => /github\.com\/ossf\/scorecard: scored 9\.6/.test(o.text()) && /skip-me: failed \(no-result\)/.test(o.text()));
  const got = await getJson(`${h.apiUrl}/projects/github.com/ossf/scorecard`);
  assert.equal(got.status, 200);
  assert.equal(got.body.score, fixture.score);
  assert.equal(got.body.checks.length, fixture.checks.length);
  assert.equal((await getJson(`${h.apiUrl}/projects/github.com/posture-e2e/skip-me`)).status, 404);
  assert.equal(await httpsStatus(`${h.admissionUrl}/healthz`), 200, 'admission serves HTTPS');
  // While up holds the embedded database, commands run inside it, over its control socket.
  const through = await runCliCaptured(['repos', 'add', 'a/b'], env);
  assert.equal(through.code, 0, through.stderr);
  assert.equal(through.stdout, 'added 1, already present 0, rejected 0\n');
  assert.match((await runCliCaptured(['repos', 'list'], env)).stdout, /github\.com\/a\/b\s+due/);
  await h.stop();
  assert.equal((await runCliCaptured(['repos', 'list'], env)).code, 0, 'released on stop');
});

test('a drop under posture up: the in-process alerts send one signed webhook (score.changed no longer only logged)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-up-alerts-'));
  const rx = await startReceiver('up-secret');
  try {
    const env = {
      POSTURE_DATA_DIR: join(dir, 'data'),
      KUBECONFIG: join(dir, 'no-kubeconfig'),
      PATH: `${fakeScorecard(dir)}:${process.env.PATH}`,
      GITHUB_AUTH_TOKEN: 'test-token',
      POSTURE_ALERTS_WEBHOOK_URL: rx.url,
      POSTURE_ALERTS_WEBHOOK_SECRET: 'up-secret',
    };
    const add = await runCliCaptured(['repos', 'add', 'posture-e2e/drop-me'], env);
    assert.equal(add.code, 0, add.stderr);
    const o = output();
    const h = await up({ env, out: o.out, apiPort: 0, admissionPort: 0, webhooksDir: WEBHOOKS_DIR, control: controlRunner(env, WEBHOOKS_DIR) });
    handles.push(h);
    assert.match(o.text(), /alerts: webhook on, GitHub issues off/);
    await waitFor('the first score', () => /drop-me: scored 9\.6/.test(o.text())).catch((e) => assert.fail(`${e.message}\n${o.text()}`));
    assert.equal(rx.deliveries.length, 0, 'a first result tells nobody');
    // Due again at once; its second run drops.
    await h.db('repos').update({ next_due_at: new Date(Date.now() - 1000) });
    const t = await h.tick(new Date(Date.now() + 120_000));
    await waitFor('the drop', () => /drop-me: scored 3\.0/.test(o.text())).catch((e) => assert.fail(`${e.message}: ${JSON.stringify(t)}\n${o.text()}`));
    await waitFor('the alert', () => rx.alerts.size === 1);
    const [alert] = [...rx.alerts.values()];
    assert.equal(alert.repo, 'github.com/posture-e2e/drop-me');
    assert.equal(alert.action, 'open');
    assert.match(alert.text, /^posture: github\.com\/posture-e2e\/drop-me dropped: score fell 6\.6 \(9\.6 → 3\.0\); \S+ fell to 0/);
    assert.ok(rx.deliveries.every((d) => d.signatureOk));
    assert.equal(rx.deliveries.length, 1);
    assert.doesNotMatch(o.text(), /up-secret|chat-secret/, 'neither the secret nor the URL’s token is printed');
    await h.stop();
  } finally {
    await rx.close();
  }
});

test('no cluster and no scorecard: it says clearly what is missing and keeps repositories queued', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-up-idle-'));
  const env = { POSTURE_DATA_DIR: join(dir, 'data'), KUBECONFIG: join(dir, 'none'), PATH: '/usr/bin:/bin' };
  const o = output();
  const h = await up({ env, out: o.out, apiPort: 0, admissionPort: 0, heartbeatMs: 300, webhooksDir: WEBHOOKS_DIR });
  handles.push(h);
  assert.equal(h.mode, 'idle');
  // It says what it waits for, then a heartbeat whenever it has been quiet for heartbeatMs.
  assert.match(o.text(), /waiting for repositories: add some with npm run posture -- repos add <owner\/repo>\n/);
  await waitFor('a heartbeat', () => /idle: 0 repositories, 0 due, 0 running; no ticks: nothing can run Jobs/.test(o.text()), 10000);
  await h.db('repos').insert([
    { key: 'github.com/a/b', canonical: 'github.com/a/b', host: 'github.com' },
    { key: 'github.com/a/c', canonical: 'github.com/a/c', host: 'github.com', next_due_at: new Date('2030-01-01T00:00:00Z'), consecutive_failures: 1 },
  ]);
  await waitFor(
    'a heartbeat with the queue',
    () => /idle: 2 repositories, 1 due, 0 running, 1 failing, next due 2030-01-01T00:00Z; no ticks/.test(o.text()),
    10000,
  );
  assert.match(o.text(), /No cluster answered \(KUBECONFIG names .*none, which does not exist\) and `scorecard` is not on PATH/);
  assert.match(o.text(), /Install the Scorecard CLI/);
  await h.stop();
});

test("with the local control plane's KUBECONFIG the whole loop runs and scores appear in the API", async () => {
  cp = await getSharedControlPlane();
  const dir = mkdtempSync(join(tmpdir(), 'posture-up-cluster-'));
  const namespace = `posture-up-${Date.now().toString(36)}`;
  const env = {
    POSTURE_DATA_DIR: join(dir, 'data'),
    KUBECONFIG: cp.kubeconfigPath,
    POSTURE_NAMESPACE: namespace,
    // One repository per Job: each Job's pod log is scripted by its repository's Job name.
    POSTURE_SHARD_SIZE: '1',
    GITHUB_AUTH_TOKEN: 'test-token',
    PATH: process.env.PATH,
  };
  const names = ['ossf/scorecard', 'posture-e2e/up-cluster'];
  assert.equal((await runCliCaptured(['repos', 'add', ...names], env)).code, 0);
  const o = output();
  const h = await up({ env, out: o.out, apiPort: 0, admissionPort: 0, timer: false, webhooksDir: WEBHOOKS_DIR });
  handles.push(h);
  assert.equal(h.mode, 'cluster', o.text());
  assert.match(o.text(), /created Secret .*posture-github-tokens from GITHUB_AUTH_TOKEN/);
  // Known due window → known Job names → their pods print the fixture.
  const due = new Date('2026-01-01T00:00:00Z');
  await h.db('repos').update({ next_due_at: due });
  for (const n of names)
    cp.setPodLog({
      namespace,
      jobName: jobName(repo(n), due),
      content: `Starting\n${JSON.stringify({ ...fixture, repo: { ...fixture.repo, name: repo(n).canonical } })}\n`,
    });
  const t = await h.tick(new Date(Date.now() + 120000));
  assert.equal(t.created, 2, JSON.stringify(t));
  await waitFor('scores', () => names.every((n) => o.text().includes(`${repo(n).canonical}: scored 9.6`)), 90000);
  for (const n of names) {
    const got = await getJson(`${h.apiUrl}/projects/${repo(n).canonical}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.score, fixture.score);
  }
  await h.stop();
  await cp.kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: namespace })
    .catch(() => {});
});

test('a port in use stops posture up with a clear message and releases everything', async () => {
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'posture-up-port-'));
  const env = { POSTURE_DATA_DIR: join(dir, 'data'), KUBECONFIG: join(dir, 'none'), PATH: '/usr/bin:/bin', PORT: String(port) };
  const r = await runCliCaptured(['up'], env);
  busy.close();
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`port ${port} is in use; set PORT`));
  assert.equal((await runCliCaptured(['repos', 'list'], env)).code, 0, 'the embedded database was released');
});
