// The real Scorecard CLI authenticating as a GitHub App, as posture's Jobs do when an App is set
// (GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID, GITHUB_APP_KEY_PATH: lib/jobs/spec.ts), against the
// fake GitHub, which checks the App's JWT with a real RSA key:
//  - on github.com (a CONNECT proxy takes api.github.com to the fake, whose certificate names it):
//    Scorecard exchanges the JWT for an installation token and scores the repository with it;
//  - with GH_HOST (GitHub Enterprise Server): Scorecard v5.5.0 still asks api.github.com for the
//    installation token, whatever GH_HOST says, so it never reaches the Enterprise host. That is
//    why posture refuses an App together with POSTURE_GITHUB_HOST (lib/config): this test fails,
//    and says so, the day a Scorecard release asks GH_HOST instead.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { validateResult } from '../../lib/scorecard/schema.ts';
import { scorecardBin } from '../cluster/tools.ts';
import { startScorecardFake } from '../fixtures/scorecard-fake-github.ts';
import type { FakeGitHub } from '../github/fake.ts';

const VERSION = 'v5.5.0';
const APP = '4242';
const INSTALLATION = '77';
const dir = mkdtempSync(join(tmpdir(), 'posture-scorecard-app-'));
let fake: FakeGitHub;
let proxy: Server;
let proxyUrl: string;
let keyPath: string;
let keyPem: string;
/** Hosts the proxy was asked for (CONNECT host:port), in order. */
const tunnels: string[] = [];
let allowApiGithub = true;

before(async () => {
  ({ fake } = await startScorecardFake({ altNames: ['api.github.com'] }));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fake.addApp({ appId: APP, publicKey, installations: { [INSTALLATION]: {} } });
  keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  keyPath = join(dir, 'private-key.pem');
  writeFileSync(keyPath, keyPem, { mode: 0o400 });
  // api.github.com (and nothing else) is tunnelled to the fake; everything else stays unreachable.
  proxy = createServer((_req, res) => res.writeHead(403).end());
  proxy.on('connect', (req, socket, head) => {
    tunnels.push(req.url ?? '');
    if (req.url !== 'api.github.com:443' || !allowApiGithub) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(fake.port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
after(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((r) => proxy.close(() => r()));
  await fake.close();
});

function scorecard(extraEnv: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    HTTPS_PROXY: proxyUrl,
    https_proxy: proxyUrl,
    HTTP_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    NO_PROXY: '',
    no_proxy: '',
    SSL_CERT_FILE: fake.caFile,
    GITHUB_APP_ID: APP,
    GITHUB_APP_INSTALLATION_ID: INSTALLATION,
    GITHUB_APP_KEY_PATH: keyPath,
    ...extraEnv,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      scorecardBin(VERSION),
      ['--repo=github.com/posture-e2e/healthy', '--format=json', '--checks=License,Security-Policy,Binary-Artifacts'],
      {
        cwd: dir,
        env,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

test(`Scorecard ${VERSION} as a GitHub App on github.com: the JWT buys an installation token, the repository is scored with it, nothing secret is printed`, async () => {
  allowApiGithub = true;
  fake.clearRequests();
  const issued = fake.installationTokens.length;
  const run = await scorecard({});
  const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no result: exit ${run.code}\n${run.stderr.slice(0, 2000)}`);
  const checked = validateResult(JSON.parse(line));
  assert.ok(checked.ok);
  assert.equal(checked.value.repo.name, 'github.com/posture-e2e/healthy');
  assert.ok(fake.installationTokens.length > issued, 'an installation token was issued');
  assert.ok(fake.requests.some((r) => r.method === 'POST' && r.path === `/app/installations/${INSTALLATION}/access_tokens` && r.status === 201));
  assert.ok(fake.requests.some((r) => r.token === `app ${APP} installation ${INSTALLATION}` && r.path === '/repos/posture-e2e/healthy'));
  assert.deepEqual(fake.refusedJwts, []);
  const printed = run.stdout + run.stderr;
  for (const t of fake.installationTokens) assert.ok(!printed.includes(t.token));
  for (const l of keyPem.split('\n').filter((x) => x && !x.startsWith('-----'))) assert.ok(!printed.includes(l));
});

test(`Scorecard ${VERSION} as a GitHub App with GH_HOST: it asks api.github.com, not the Enterprise host, for the installation token`, async () => {
  allowApiGithub = false;
  tunnels.length = 0;
  fake.clearRequests();
  const issued = fake.installationTokens.length;
  const run = await scorecard({ GH_HOST: fake.ghHost });
  assert.ok(!run.stdout.includes('{"date"'), 'no result');
  assert.match(run.stderr, /could not refresh installation id 77's token/);
  assert.ok(tunnels.includes('api.github.com:443'), `it went to api.github.com (tunnels: ${tunnels.join(', ')})`);
  assert.equal(fake.installationTokens.length, issued, 'the Enterprise host (the fake at GH_HOST) was never asked for a token');
  assert.ok(!fake.requests.some((r) => r.path.startsWith('/app/')));
});
