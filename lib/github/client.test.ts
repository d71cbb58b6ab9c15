// posture's GitHub client against the fake GitHub over HTTPS with its own CA: Link pagination,
// conditional requests (304, free), /rate_limit (free), the App's JWT → installation token
// exchange checked with a real RSA key, GitHub's errors in one line, TLS verified.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeGitHub } from '../../test/github/fake.ts';
import { defaultConfig } from '../config/index.ts';
import { createGitHubApi, type GitHubError, hasCredentials, nextLink } from './client.ts';
import { listOrgRepos, type PageStore } from './listing.ts';

const TOKEN = 'ghp_clientTestTokenValue000000000000000001';
const ORG = 'many-pages';

function memoryPages(): PageStore & { pages: Map<string, { etag: string; nextUrl: string | null; items: unknown[] }> } {
  const pages = new Map<string, { etag: string; nextUrl: string | null; items: unknown[] }>();
  return {
    pages,
    get: async (url) => pages.get(url),
    put: async (p) => {
      pages.set(p.url, { etag: p.etag, nextUrl: p.nextUrl, items: p.items });
    },
  };
}

let fake: FakeGitHub;
let keyFile: string;
const dir = mkdtempSync(join(tmpdir(), 'posture-client-'));

before(async () => {
  fake = await FakeGitHub.start();
  fake.addToken(TOKEN, { identity: 'discoverer' });
  for (let i = 0; i < 250; i++) fake.addRepo({ owner: ORG, name: `r${String(i).padStart(3, '0')}`, archived: i % 50 === 0, fork: i % 70 === 1 });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fake.addApp({ appId: '4242', publicKey, installations: { '77': {} } });
  keyFile = join(dir, 'app.pem');
  // GitHub hands out PKCS#1 keys ("BEGIN RSA PRIVATE KEY"): the client must take them as they come.
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
});
after(() => fake.close());

const settings = (more: Partial<ReturnType<typeof defaultConfig>> = {}) =>
  defaultConfig({ githubApiUrl: fake.restBase, githubCaFile: fake.caFile, githubToken: TOKEN, ...more });

test('nextLink reads rel="next" of a Link header', () => {
  assert.equal(nextLink('<https://x/a?page=2>; rel="next", <https://x/a?page=5>; rel="last"'), 'https://x/a?page=2');
  assert.equal(nextLink('<https://x/a?page=1>; rel="prev"'), null);
  assert.equal(nextLink(undefined), null);
});

describe('a token', () => {
  test('lists an organisation over several pages by Link, then again at no quota (304 for every page)', async () => {
    const api = createGitHubApi(settings());
    const store = memoryPages();
    const before = fake.remaining('discoverer');
    const first = await listOrgRepos(api, store, ORG);
    assert.equal(first.repos.length, 250);
    assert.equal(first.fetched, 3, '100 a page: three pages');
    assert.equal(first.notModified, 0);
    assert.equal(fake.remaining('discoverer'), before - 3, 'each fetched page is one call');
    const second = await listOrgRepos(api, store, ORG);
    assert.equal(second.repos.length, 250);
    assert.deepEqual(second.repos, first.repos);
    assert.equal(second.notModified, 3);
    assert.equal(second.fetched, 0);
    assert.equal(fake.remaining('discoverer'), before - 3, 'the 304s cost nothing');
    const asked = fake.requests.filter((r) => r.path.startsWith(`/orgs/${ORG}/repos`));
    assert.deepEqual(
      asked.map((r) => r.status),
      [200, 200, 200, 304, 304, 304],
    );
  });

  test('a changed page is fetched again (its ETag no longer matches) and the rest stay 304', async () => {
    const api = createGitHubApi(settings());
    const store = memoryPages();
    await listOrgRepos(api, store, ORG);
    fake.addRepo({ owner: ORG, name: 'zz-new' }); // the newest id: on the last page
    const again = await listOrgRepos(api, store, ORG);
    assert.equal(again.fetched, 1);
    assert.equal(again.notModified, 2);
    assert.ok(again.repos.some((r) => r.name === 'zz-new'));
    fake.repos.delete(`${ORG}/zz-new`);
  });

  test('an organisation that grows onto a new page: found although every page it had answers 304', async () => {
    const api = createGitHubApi(settings());
    const store = memoryPages();
    for (let i = 0; i < 200; i++) fake.addRepo({ owner: 'two-pages', name: `p${i}` });
    const first = await listOrgRepos(api, store, 'two-pages');
    assert.equal(first.repos.length, 200);
    assert.equal(first.fetched, 3, 'two full pages, and the (empty) page after the last full one');
    const unchanged = await listOrgRepos(api, store, 'two-pages');
    assert.deepEqual([unchanged.fetched, unchanged.notModified], [0, 3], 'free: the empty page answers 304 too');
    fake.addRepo({ owner: 'two-pages', name: 'p200' });
    const grown = await listOrgRepos(api, store, 'two-pages');
    assert.equal(grown.repos.length, 201);
    assert.deepEqual([grown.fetched, grown.notModified], [1, 2]);
    assert.ok(grown.repos.some((r) => r.name === 'p200'));
  });

  test('/rate_limit answers per token and costs nothing', async () => {
    const api = createGitHubApi(settings({ githubToken: `${TOKEN}` }));
    const a = await api.rateLimits();
    const b = await api.rateLimits();
    assert.equal(a.length, 1);
    assert.equal(a[0].limit, 5000);
    assert.equal(b[0].remaining, a[0].remaining);
  });

  test('GitHub’s refusals become one line naming the status, never the token', async () => {
    const api = createGitHubApi(settings({ githubToken: 'ghp_notKnownToTheFake000000000000000000002' }));
    await assert.rejects(api.page('/orgs/many-pages/repos'), (e: GitHubError) => {
      assert.equal(e.status, 401);
      assert.match(e.message, /^GitHub refused the credentials \(401\)/);
      assert.ok(!e.message.includes('ghp_'));
      return true;
    });
    const ok = createGitHubApi(settings());
    await assert.rejects(ok.page('/orgs/no-such-org/repos'), (e: GitHubError) => e.status === 404 && /GitHub answered 404/.test(e.message));
    const limited = fake.fault({ kind: 'primary-rate-limit', path: /^\/orgs\/many-pages\/repos/, resetInSeconds: 600 });
    await assert.rejects(ok.page('/orgs/many-pages/repos'), (e: GitHubError) => {
      assert.equal(e.status, 403);
      assert.ok(e.retryAfterSeconds !== undefined && e.retryAfterSeconds > 500, 'the reset is told, not waited for');
      return true;
    });
    limited.remove();
    // A short secondary limit (Retry-After: 1) is waited out when the caller allows the wait, as the command line does.
    const brief = fake.fault({ kind: 'secondary-rate-limit', path: /^\/orgs\/many-pages\/repos/, retryAfterSeconds: 1, times: 1 });
    const patient = createGitHubApi(settings(), { maxWaitSeconds: 5 });
    const started = Date.now();
    assert.equal((await patient.page('/orgs/many-pages/repos')).status, 200);
    assert.ok(Date.now() - started >= 900, 'it waited for the Retry-After');
    assert.equal(brief.hits, 1);
    const again = fake.fault({ kind: 'secondary-rate-limit', path: /^\/orgs\/many-pages\/repos/, retryAfterSeconds: 1, times: 1 });
    await assert.rejects(ok.page('/orgs/many-pages/repos'), (e: GitHubError) => e.status === 403 && e.retryAfterSeconds === 1, 'the tick waits for nothing');
    again.remove();
    const broken = fake.fault({ kind: 'server-error', path: /^\/orgs\/many-pages\/repos/, times: 1 });
    const retried = createGitHubApi(settings(), { retries: 1, retryBaseMs: 10 });
    assert.equal((await retried.page('/orgs/many-pages/repos')).status, 200, 'a 5xx is retried');
    assert.equal(broken.hits, 1);
  });

  test('TLS is verified: without the fake’s CA the call fails; a next page off the base is refused', async () => {
    const api = createGitHubApi(settings({ githubCaFile: undefined }), { retries: 0 });
    await assert.rejects(api.page('/orgs/many-pages/repos'), (e: GitHubError) => e.status === 0);
    await assert.rejects(createGitHubApi(settings()).page('https://elsewhere.example/orgs/x/repos'), /outside/);
    assert.throws(() => createGitHubApi(settings({ githubCaFile: join(dir, 'missing.pem') })), /cannot read POSTURE_GITHUB_CA_FILE/);
  });
});

describe('a GitHub App', () => {
  test('the JWT (signed with the App’s real RSA key) buys an installation token, reused until it expires', async () => {
    const app = settings({ githubToken: undefined, githubAppId: '4242', githubAppInstallationId: '77', githubAppKeyFile: keyFile });
    assert.ok(hasCredentials(app));
    const api = createGitHubApi(app);
    assert.equal(api.credentials, 'GitHub App 4242, installation 77');
    const listing = await listOrgRepos(api, memoryPages(), ORG);
    assert.equal(listing.repos.length, 250);
    assert.equal(fake.installationTokens.length, 1, 'one exchange for three pages');
    const limits = await api.rateLimits();
    assert.equal(limits.length, 1);
    assert.equal(fake.installationTokens.length, 1);
    const exchanges = fake.requests.filter((r) => r.path === '/app/installations/77/access_tokens');
    assert.deepEqual(
      exchanges.map((r) => [r.method, r.status, r.token]),
      [['POST', 201, 'app 4242 (JWT)']],
    );
    assert.ok(fake.requests.some((r) => r.token === 'app 4242 installation 77' && r.path.startsWith(`/orgs/${ORG}/repos`)));
    assert.deepEqual(fake.refusedJwts, []);
  });

  test('a JWT signed with another key is refused by the fake, and the client says 401', async () => {
    const other = join(dir, 'other.pem');
    writeFileSync(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const api = createGitHubApi(settings({ githubToken: undefined, githubAppId: '4242', githubAppInstallationId: '77', githubAppKeyFile: other }));
    await assert.rejects(api.page(`/orgs/${ORG}/repos`), (e: GitHubError) => e.status === 401);
    assert.deepEqual(fake.refusedJwts, ['signature does not verify']);
    const unknown = createGitHubApi(settings({ githubToken: undefined, githubAppId: '4242', githubAppInstallationId: '78', githubAppKeyFile: keyFile }));
    await assert.rejects(unknown.page(`/orgs/${ORG}/repos`), (e: GitHubError) => e.status === 404);
  });

  test('an App key that cannot be read is one line naming the setting, not the key', () => {
    assert.throws(
      () => createGitHubApi(settings({ githubAppId: '1', githubAppInstallationId: '2', githubAppKeyFile: join(dir, 'nope.pem') })),
      /cannot read the GitHub App's key POSTURE_GITHUB_APP_KEY_FILE=.*ENOENT/,
    );
  });
});
