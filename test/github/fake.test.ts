// The fake GitHub's contract, over its real HTTPS socket on loopback: both layouts, GitHub's
// authentication rules, rate-limit headers on every answer, scripted faults, Link pagination,
// GraphQL answered by selection, the tarball, and a request log that never holds a token.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FakeGitHub } from './fake.ts';
import { parseQuery } from './graphql.ts';

const SECRET = 'ghp_fakeTokenValueThatMustNeverBeLogged0001';
const NARROW = 'ghp_fakeTokenValueThatMustNeverBeLogged0002';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
  raw: Buffer;
}

let fake: FakeGitHub;
let ca: Buffer;

function call(path: string, init: { token?: string; scheme?: string; method?: string; body?: unknown } = {}): Promise<Answer> {
  const url = new URL(path, fake.url);
  const payload = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? (payload ? 'POST' : 'GET'),
        ca,
        headers: {
          accept: 'application/vnd.github+json',
          ...(init.token ? { authorization: `${init.scheme ?? 'token'} ${init.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, raw });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const graphql = (query: string, variables: Record<string, unknown>, token = SECRET) => call('/api/graphql', { token, body: { query, variables } });

before(async () => {
  fake = await FakeGitHub.start();
  ca = readFileSync(fake.caFile);
  fake.addToken(SECRET, { identity: 'scorecard-bot' });
  fake.addToken(NARROW, { identity: 'narrow-bot', repos: [] });
  fake.addRepo({
    owner: 'acme',
    name: 'widget',
    files: { LICENSE: 'Apache License\nVersion 2.0\n', '.github/workflows/ci.yml': 'name: ci\n' },
    commits: [
      { message: 'third', author: 'alice' },
      { message: 'second', author: 'bob' },
      { message: 'first', author: 'alice' },
    ],
    languages: { TypeScript: 1200 },
  });
  fake.addRepo({ owner: 'acme', name: 'secret', private: true });
  for (let i = 0; i < 3; i++) fake.addRepo({ owner: 'acme', name: `lib-${i}` });
});
after(() => fake.close());

describe('layouts', () => {
  test('the Enterprise layout (/api/v3) and the api.github.com layout serve the same repository, each with URLs in its own layout', async () => {
    const ghe = await call('/api/v3/repos/acme/widget', { token: SECRET });
    const dotcom = await call('/repos/acme/widget', { token: SECRET });
    assert.equal(ghe.status, 200);
    assert.equal(dotcom.status, 200);
    assert.equal(ghe.body.full_name, 'acme/widget');
    assert.equal(ghe.body.default_branch, 'main');
    assert.equal(ghe.body.archive_url, `${fake.url}/api/v3/repos/acme/widget/{archive_format}{/ref}`);
    assert.equal(dotcom.body.archive_url, `${fake.url}/repos/acme/widget/{archive_format}{/ref}`);
    assert.equal(ghe.body.owner.login, 'acme');
    assert.equal(ghe.body.owner.type, 'Organization');
  });

  test('the serving certificate is for the bound host, signed by caFile; GH_HOST and the Scorecard environment name it', async () => {
    assert.equal(fake.ghHost, `127.0.0.1:${fake.port}`);
    assert.deepEqual(fake.scorecardEnv('t'), { GH_HOST: fake.ghHost, SSL_CERT_FILE: fake.caFile, GITHUB_AUTH_TOKEN: 't' });
    const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', fake.caFile.replace('fake-github-ca.crt', 'fake-github.crt')], {
      encoding: 'utf8',
    });
    assert.match(text, /IP Address:127\.0\.0\.1/);
    assert.match(text, /DNS:localhost/);
    // An unknown CA is refused: the trust really comes from caFile.
    await assert.rejects(
      new Promise((resolve, reject) =>
        request(`${fake.url}/rate_limit`, (res) => resolve(res.statusCode))
          .on('error', reject)
          .end(),
      ),
      /self.signed|unable to (get|verify)/i,
    );
  });
});

describe('authentication, as GitHub does it', () => {
  test('an unknown token is 401 Bad credentials for everything, public repositories and GraphQL included', async () => {
    for (const path of ['/api/v3/repos/acme/widget', '/repos/acme/widget', '/api/v3/rate_limit', '/api/v3/orgs/acme/repos']) {
      const r = await call(path, { token: 'ghp_notAToken' });
      assert.equal(r.status, 401, path);
      assert.equal(r.body.message, 'Bad credentials');
    }
    const g = await graphql('{ viewer { login } }', {}, 'ghp_notAToken');
    assert.equal(g.status, 401);
    assert.equal(g.body.message, 'Bad credentials');
  });

  test('`token` and `Bearer` are both accepted; no token is anonymous: public REST with a limit of 60, no private repositories, no GraphQL', async () => {
    assert.equal((await call('/api/v3/repos/acme/widget', { token: SECRET, scheme: 'Bearer' })).status, 200);
    const anon = await call('/api/v3/repos/acme/widget');
    assert.equal(anon.status, 200);
    assert.equal(anon.headers['x-ratelimit-limit'], '60');
    assert.equal((await call('/api/v3/repos/acme/secret')).status, 404);
    const g = await call('/api/graphql', { body: { query: '{ viewer { login } }' } });
    assert.equal(g.status, 401);
    assert.match(g.body.message, /requires you to be authenticated/);
  });

  test('a private repository is 404 (not 403) to a token without access, and 200 to one with it; a revoked token turns into bad credentials', async () => {
    assert.equal((await call('/api/v3/repos/acme/secret', { token: SECRET })).status, 200);
    assert.equal((await call('/api/v3/repos/acme/secret', { token: NARROW })).status, 404);
    assert.equal((await call('/api/v3/repos/acme/widget', { token: NARROW })).status, 200);
    const revoked = 'ghp_fakeTokenRevokedHere';
    fake.addToken(revoked, { identity: 'soon-revoked' });
    assert.equal((await call('/api/v3/repos/acme/widget', { token: revoked })).status, 200);
    fake.revokeToken(revoked);
    assert.equal((await call('/api/v3/repos/acme/widget', { token: revoked })).status, 401);
  });
});

describe('rate-limit headers', () => {
  test('every answer carries them, errors too; remaining counts down per token and resource', async () => {
    const token = 'ghp_fakeTokenForCounting';
    fake.addToken(token, { identity: 'counter' });
    const a = await call('/api/v3/repos/acme/widget', { token });
    const b = await call('/api/v3/repos/acme/nope', { token });
    assert.equal(b.status, 404);
    for (const [r, used] of [
      [a, 1],
      [b, 2],
    ] as const) {
      assert.equal(r.headers['x-ratelimit-limit'], '5000');
      assert.equal(r.headers['x-ratelimit-used'], String(used));
      assert.equal(r.headers['x-ratelimit-remaining'], String(5000 - used));
      assert.equal(r.headers['x-ratelimit-resource'], 'core');
      const reset = Number(r.headers['x-ratelimit-reset']);
      assert.ok(reset > Date.now() / 1000 && reset <= Date.now() / 1000 + 3600, String(reset));
    }
    const bad = await call('/api/v3/repos/acme/widget', { token: 'ghp_notAToken' });
    assert.equal(bad.headers['x-ratelimit-limit'], '60');
    const g = await graphql('{ rateLimit { remaining } }', {}, token);
    assert.equal(g.headers['x-ratelimit-resource'], 'graphql');
    assert.equal(g.headers['x-ratelimit-used'], '1');
    assert.equal((await call('/api/v3/search/code?q=x', { token })).headers['x-ratelimit-resource'], 'code_search');
    const limits = await call('/api/v3/rate_limit', { token });
    // As on GitHub, asking /rate_limit costs nothing: two calls so far, and still two after it.
    assert.equal(limits.body.resources.core.used, 2);
    assert.equal((await call('/api/v3/rate_limit', { token })).body.resources.core.used, 2);
  });

  test('conditional requests: a JSON answer has an ETag; asked with it, an unchanged one is 304 with no body and costs nothing; a changed one is 200', async () => {
    const token = 'ghp_fakeTokenForEtags';
    fake.addToken(token, { identity: 'etags' });
    const first = await call('/api/v3/orgs/acme/repos?per_page=2', { token });
    const etag = String(first.headers.etag);
    assert.match(etag, /^W\/"[0-9a-f]+"$/);
    const again = await new Promise<Answer>((resolve, reject) => {
      const req = request(
        new URL('/api/v3/orgs/acme/repos?per_page=2', fake.url),
        { ca, headers: { authorization: `token ${token}`, 'if-none-match': etag } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString(), body: undefined, raw: Buffer.concat(chunks) }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.headers['x-ratelimit-used'], '1', 'the 304 is not counted');
    assert.equal(fake.remaining('etags'), 4999);
    fake.repos.get('acme/widget')!.description = 'changed';
    const changed = await call('/api/v3/orgs/acme/repos?per_page=2', { token });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.etag, etag);
    fake.repos.get('acme/widget')!.description = null;
  });

  test('a token that spends its whole limit gets 403 "API rate limit exceeded" with remaining 0', async () => {
    const small = await FakeGitHub.start({ rateLimit: 2 });
    try {
      small.addToken(SECRET, { identity: 'tiny' });
      small.addRepo({ owner: 'o', name: 'r' });
      const at = (path: string) =>
        new Promise<{ status: number; remaining: string; text: string }>((resolve, reject) => {
          request(`${small.url}${path}`, { ca: readFileSync(small.caFile), headers: { authorization: `token ${SECRET}` } }, (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, remaining: String(res.headers['x-ratelimit-remaining']), text }));
          })
            .on('error', reject)
            .end();
        });
      assert.deepEqual([(await at('/repos/o/r')).status, (await at('/repos/o/r')).status], [200, 200]);
      const third = await at('/repos/o/r');
      assert.equal(third.status, 403);
      assert.equal(third.remaining, '0');
      assert.match(third.text, /API rate limit exceeded for user ID \d+/);
    } finally {
      await small.close();
    }
  });
});

describe('scripted faults', () => {
  test('bad credentials, not found and a 5xx, scoped to one repository; other repositories answer normally; remove() ends it', async () => {
    for (const [kind, status, message] of [
      ['bad-credentials', 401, 'Bad credentials'],
      ['not-found', 404, 'Not Found'],
      ['server-error', 502, 'Bad Gateway'],
    ] as const) {
      const f = fake.fault({ kind, repo: 'acme/widget' });
      const r = await call('/api/v3/repos/acme/widget/languages', { token: SECRET });
      assert.equal(r.status, status, kind);
      assert.equal(r.body.message, message);
      assert.ok(r.headers['x-ratelimit-remaining'], 'rate-limit headers on a fault too');
      const g = await graphql('query($owner:String!$name:String!){repository(owner:$owner,name:$name){isArchived}}', { owner: 'acme', name: 'widget' });
      assert.equal(g.status, status === 404 ? 200 : status, `${kind} over GraphQL`);
      if (kind === 'not-found') assert.equal(g.body.errors[0].type, 'NOT_FOUND');
      assert.equal((await call('/api/v3/repos/acme/lib-0', { token: SECRET })).status, 200);
      assert.equal(f.hits, 2);
      f.remove();
      assert.equal((await call('/api/v3/repos/acme/widget/languages', { token: SECRET })).status, 200);
    }
    const five = fake.fault({ kind: 'server-error', status: 503, api: 'rest', times: 1 });
    assert.equal((await call('/api/v3/rate_limit', { token: SECRET })).body.message, 'Service Unavailable');
    assert.equal((await call('/api/v3/rate_limit', { token: SECRET })).status, 200, 'times: 1 answers once');
    five.remove();
  });

  test('a primary rate limit: 403, remaining 0 and a reset a few seconds ahead, until the reset passes', async () => {
    const f = fake.fault({ kind: 'primary-rate-limit', resetInSeconds: 2 });
    try {
      const r = await call('/api/v3/repos/acme/widget', { token: SECRET });
      assert.equal(r.status, 403);
      assert.match(r.body.message, /^API rate limit exceeded for user ID \d+\./);
      assert.equal(r.headers['x-ratelimit-remaining'], '0');
      const reset = Number(r.headers['x-ratelimit-reset']);
      assert.ok(reset >= Math.floor(Date.now() / 1000) + 1 && reset <= Math.ceil(Date.now() / 1000) + 2, String(reset));
      // GraphQL answers an exhausted limit with 200 and a RATE_LIMITED error.
      const g = await graphql('{ viewer { login } }', {});
      assert.equal(g.status, 200);
      assert.equal(g.body.errors[0].type, 'RATE_LIMITED');
      assert.equal(g.headers['x-ratelimit-remaining'], '0');
      await new Promise((resolve) => setTimeout(resolve, (reset - Date.now() / 1000) * 1000 + 100));
      const later = await call('/api/v3/repos/acme/widget', { token: SECRET });
      assert.equal(later.status, 200);
      assert.notEqual(later.headers['x-ratelimit-remaining'], '0');
    } finally {
      f.remove();
    }
  });

  test('a secondary rate limit: 403 or 429 with Retry-After (or none), for as many requests as scripted', async () => {
    const f = fake.fault({ kind: 'secondary-rate-limit', retryAfterSeconds: 3, times: 2 });
    const first = await call('/api/v3/repos/acme/widget', { token: SECRET });
    assert.equal(first.status, 403);
    assert.equal(first.headers['retry-after'], '3');
    assert.match(first.body.message, /^You have exceeded a secondary rate limit/);
    assert.equal((await call('/api/v3/repos/acme/widget', { token: SECRET })).status, 403);
    assert.equal((await call('/api/v3/repos/acme/widget', { token: SECRET })).status, 200);
    assert.equal(f.hits, 2);
    const g = fake.fault({ kind: 'secondary-rate-limit', status: 429, retryAfterSeconds: null, times: 1 });
    const r = await call('/api/v3/repos/acme/widget', { token: SECRET });
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], undefined);
    g.remove();
    f.remove();
  });
});

describe('listing and pagination', () => {
  test("an organisation's repositories, per_page at a time, with GitHub's Link header; a narrower token sees fewer", async () => {
    const names = async (token: string) => {
      const out: string[] = [];
      let next: string | undefined = '/api/v3/orgs/acme/repos?per_page=2';
      const links: string[] = [];
      while (next) {
        const r = await call(next, { token });
        assert.equal(r.status, 200);
        out.push(...r.body.map((x: any) => x.full_name));
        links.push(String(r.headers.link ?? ''));
        next = /<([^>]+)>; rel="next"/.exec(String(r.headers.link ?? ''))?.[1];
      }
      return { out, links };
    };
    const all = await names(SECRET);
    assert.deepEqual(all.out, ['acme/widget', 'acme/secret', 'acme/lib-0', 'acme/lib-1', 'acme/lib-2']);
    assert.equal(all.links.length, 3);
    assert.equal(
      all.links[0],
      `<${fake.restBase}/orgs/acme/repos?per_page=2&page=2>; rel="next", <${fake.restBase}/orgs/acme/repos?per_page=2&page=3>; rel="last"`,
    );
    assert.match(all.links[2], /rel="prev".*rel="first"/);
    assert.doesNotMatch(all.links[2], /rel="next"/);
    assert.deepEqual((await names(NARROW)).out, ['acme/widget', 'acme/lib-0', 'acme/lib-1', 'acme/lib-2']);
    assert.equal((await call('/api/v3/orgs/nobody/repos', { token: SECRET })).status, 404);
  });
});

describe('GraphQL', () => {
  const q = `query($owner:String!$name:String!$n:Int!){
    repository(owner: $owner, name: $name){
      isArchived
      tip: object(expression: "heads/main"){ ... on Commit { history(first: $n){ nodes{ oid, message, author{ user{ login } } }, pageInfo{ endCursor, hasNextPage } } } }
    }
    rateLimit{ cost }
  }`;

  test('answers exactly the fields asked, under their aliases, and pages the history by cursor', async () => {
    const r = await graphql(q, { owner: 'acme', name: 'widget', n: 2 });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body.data.repository), ['isArchived', 'tip']);
    const history = r.body.data.repository.tip.history;
    assert.deepEqual(
      history.nodes.map((n: any) => [n.message, n.author.user.login]),
      [
        ['third', 'alice'],
        ['second', 'bob'],
      ],
    );
    assert.deepEqual(Object.keys(history.nodes[0]), ['oid', 'message', 'author']);
    assert.equal(history.pageInfo.hasNextPage, true);
    const rest = await graphql(q.replace('history(first: $n)', 'history(first: $n, after: $c)').replace('$n:Int!', '$n:Int!$c:String'), {
      owner: 'acme',
      name: 'widget',
      n: 2,
      c: history.pageInfo.endCursor,
    });
    assert.deepEqual(
      rest.body.data.repository.tip.history.nodes.map((n: any) => n.message),
      ['first'],
    );
  });

  test('a repository it cannot see is null with a NOT_FOUND error, as GitHub answers', async () => {
    for (const [name, token] of [
      ['missing', SECRET],
      ['secret', NARROW],
    ]) {
      const r = await graphql(q, { owner: 'acme', name, n: 1 }, token);
      assert.equal(r.status, 200);
      assert.equal(r.body.data.repository, null);
      assert.deepEqual(r.body.errors, [
        { type: 'NOT_FOUND', path: ['repository'], message: `Could not resolve to a Repository with the name 'acme/${name}'.` },
      ]);
    }
  });

  test('the parser reads what githubv4 writes: variables, enums, input objects, inline fragments, comments', () => {
    const sels = parseQuery(
      'query($o:String!){repository(owner:$o){issues(first: 3, orderBy:{field:UPDATED_AT, direction:DESC}){nodes{url}}, # a comment\n ... on Repository{name}}}',
      {
        o: 'acme',
      },
    );
    assert.deepEqual(sels[0].kind === 'field' && sels[0].args, { owner: 'acme' });
    const repo = sels[0].kind === 'field' ? sels[0].selections : undefined;
    assert.deepEqual(repo?.[0].kind === 'field' && repo[0].args, { first: 3, orderBy: { field: 'UPDATED_AT', direction: 'DESC' } });
    assert.equal(repo?.[1].kind, 'fragment');
  });
});

describe('the tarball and the request log', () => {
  test("the tarball redirects to codeload and holds the repository's files under GitHub's top folder", async () => {
    const r = await call('/api/v3/repos/acme/widget/tarball/', { token: SECRET });
    assert.equal(r.status, 302);
    const location = String(r.headers.location);
    assert.match(location, /\/_codeload\/acme\/widget\/legacy\.tar\.gz\/refs\/heads\/main$/);
    const tgz = await call(location, { token: SECRET });
    assert.equal(tgz.status, 200);
    const tar = gunzipSync(tgz.raw);
    const names: string[] = [];
    for (let at = 0; at < tar.length && tar[at] !== 0; ) {
      const name = tar
        .subarray(at, at + 100)
        .toString('utf8')
        .replace(/\0.*$/s, '');
      const size = Number.parseInt(tar.subarray(at + 124, at + 136).toString('utf8'), 8);
      names.push(name);
      at += 512 + Math.ceil(size / 512) * 512;
    }
    const head = fake.repos.get('acme/widget')?.commits[0].sha.slice(0, 7);
    assert.deepEqual(names, [
      `acme-widget-${head}/`,
      `acme-widget-${head}/.github/`,
      `acme-widget-${head}/.github/workflows/`,
      `acme-widget-${head}/.github/workflows/ci.yml`,
      `acme-widget-${head}/LICENSE`,
    ]);
  });

  test('each request is logged with method, path, status and who asked; never a token value', async () => {
    fake.clearRequests();
    await call('/api/v3/repos/acme/widget', { token: SECRET });
    await call('/api/v3/repos/acme/widget', { token: 'ghp_unknownValueNeverLogged' });
    await graphql('query($owner:String!$name:String!){repository(owner:$owner,name:$name){isArchived,object(expression:"main"){oid}},rateLimit{cost}}', {
      owner: 'acme',
      name: 'widget',
    });
    assert.deepEqual(fake.requests, [
      { method: 'GET', path: '/repos/acme/widget', api: 'rest', status: 200, token: 'scorecard-bot', repo: 'acme/widget' },
      { method: 'GET', path: '/repos/acme/widget', api: 'rest', status: 401, token: 'unknown token', repo: 'acme/widget' },
      {
        method: 'POST',
        path: '/graphql',
        api: 'graphql',
        status: 200,
        token: 'scorecard-bot',
        repo: 'acme/widget',
        graphql: 'repository{isArchived,object},rateLimit',
      },
    ]);
    const logged = JSON.stringify(fake.requests);
    assert.ok(!logged.includes(SECRET) && !logged.includes('ghp_unknownValueNeverLogged'), logged);
  });
});

describe('a GitHub App', () => {
  const jwt = (key: import('node:crypto').KeyObject, claims: Record<string, unknown>, alg = 'RS256') => {
    const head = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${head}.${body}.${sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
  };

  test('a JWT signed with the App’s key buys an installation token that reads as the installation; a bad JWT is 401 and says why in the fake', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    fake.addApp({ appId: '99', publicKey, installations: { '5': { repos: [] } } });
    const now = Math.floor(Date.now() / 1000);
    const good = jwt(privateKey, { iss: '99', iat: now - 30, exp: now + 540 });
    const exchange = (token: string, installation = '5') =>
      call(`/api/v3/app/installations/${installation}/access_tokens`, { token, scheme: 'Bearer', method: 'POST' });
    const got = await exchange(good);
    assert.equal(got.status, 201);
    assert.match(got.body.token, /^ghs_/);
    assert.ok(Date.parse(got.body.expires_at) > Date.now() + 3500_000);
    const asInstallation = await call('/api/v3/repos/acme/widget', { token: got.body.token });
    assert.equal(asInstallation.status, 200);
    assert.equal((await call('/api/v3/repos/acme/secret', { token: got.body.token })).status, 404, 'the installation reads only what it was given');
    assert.equal(fake.requests.at(-1)!.token, 'app 99 installation 5');
    assert.equal((await exchange(good, '6')).status, 404, 'an installation the App does not have');
    const refused = [
      jwt(stranger, { iss: '99', iat: now - 30, exp: now + 540 }),
      jwt(privateKey, { iss: '99', iat: now - 700, exp: now - 100 }),
      jwt(privateKey, { iss: '99', iat: now - 30, exp: now + 3600 }),
      jwt(privateKey, { iss: '100', iat: now - 30, exp: now + 540 }),
      jwt(privateKey, { iss: '99', iat: now - 30, exp: now + 540 }, 'HS256'),
      'not.a.jwt',
    ];
    for (const bad of refused) assert.equal((await exchange(bad)).status, 401, bad.slice(0, 20));
    assert.deepEqual(fake.refusedJwts.slice(-6), [
      'signature does not verify',
      "'exp' is in the past",
      "'exp' is too far in the future (more than 10 minutes)",
      'no App with id 100',
      'alg HS256 is not RS256',
      'not a JWT',
    ]);
    // The JWT is never a token for anything else.
    assert.equal((await call('/api/v3/repos/acme/widget', { token: good, scheme: 'Bearer' })).status, 401);
    assert.ok(!JSON.stringify(fake.requests).includes(got.body.token));
    assert.ok(!JSON.stringify(fake.requests).includes(good));
  });

  test('forks and topics are listed as GitHub lists them', async () => {
    fake.addRepo({ owner: 'forky', name: 'copy', fork: true, topics: ['security'] });
    const listed = await call('/api/v3/orgs/forky/repos', { token: SECRET });
    assert.equal(listed.body[0].fork, true);
    assert.deepEqual(listed.body[0].topics, ['security']);
  });
});
