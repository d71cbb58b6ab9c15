// The score API on both databases: fixture 06 stored through the harvest path answers exactly
// fixture 06; commit selection, history order, badges, 404s, 400s, caching; and over HTTP
// through createFunctionServer on an ephemeral port.

import assert from 'node:assert/strict';
import { request as httpRequest, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { addRepos, type Db, getRepo, recordRun, storeHarvest } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import type { StructuredReturn } from '../function/handle.ts';
import { createFunctionServer, listen } from '../function/server.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import type { NormalizedResult } from '../scorecard/classify.ts';
import { apiBodyLimit, createApiHandle } from './handler.ts';
import { FIXTURE_06_TEXT, fixture06, requestContext, storeDocument } from './testing.ts';

const FX = fixture06();
const PROJECT = '/projects/github.com/ossf/scorecard';
const C1 = FX.repo.commit as string;
const C2 = 'b'.repeat(40);
const C3 = 'c'.repeat(40);

async function reset(db: Db) {
  await db.raw('TRUNCATE checks, scores, runs, repos RESTART IDENTITY CASCADE');
}

function variant(commit: string, date: string, score: number) {
  const d = fixture06();
  d.repo.commit = commit;
  d.date = date;
  d.score = score;
  return d;
}

const body = (r: StructuredReturn) => JSON.parse(String(r.body));

describeEachDatabase('score API', (ctx) => {
  const handle = createApiHandle(async () => ({ db: ctx.db, config: { allowedHosts: ['github.com'] }, log: silentLogger }));
  const call = (path: string, query: Record<string, string> = {}, headers: Record<string, string> = {}, method = 'GET') =>
    handle(requestContext(method, path, query, headers)) as Promise<StructuredReturn>;

  test('fixture 06 stored through the harvest path answers exactly fixture 06', async () => {
    await reset(ctx.db);
    assert.equal((await storeDocument(ctx.db, FX)).status, 'stored');
    const r = await call(PROJECT);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers?.['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(body(r), FX);
    assert.equal(r.body, JSON.stringify(FX), 'same key order as the public API');
    assert.equal(JSON.stringify(body(r), null, 2), FIXTURE_06_TEXT.trimEnd());
    assert.equal(r.headers?.['cache-control'], 'public, max-age=300');
    assert.match(r.headers?.etag ?? '', /^"[A-Za-z0-9_-]+"$/);
    assert.ok(!Number.isNaN(Date.parse(r.headers?.['last-modified'] ?? '')));
    assert.equal(r.headers?.['x-content-type-options'], 'nosniff');
  });

  test('lookup is case-insensitive', async () => {
    for (const p of ['/projects/GitHub.com/OSSF/Scorecard', '/projects/github.com/ossf/SCORECARD/', '/projects/github.com/ossf/scorecard.git']) {
      const r = await call(p);
      assert.equal(r.statusCode, 200, p);
      assert.deepEqual(body(r), FX, p);
    }
  });

  test('HEAD answers like GET (the server drops the body)', async () => {
    const [g, h] = [await call(PROJECT), await call(PROJECT, {}, {}, 'HEAD')];
    assert.equal(h.statusCode, 200);
    assert.equal(h.headers?.etag, g.headers?.etag);
    assert.equal(h.body, g.body);
  });

  test('conditional requests: If-None-Match and If-Modified-Since give 304', async () => {
    const g = await call(PROJECT);
    const etag = g.headers!.etag;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const r = await call(PROJECT, {}, { 'if-none-match': inm });
      assert.equal(r.statusCode, 304, inm);
      assert.equal(r.body, undefined);
      assert.equal(r.headers?.etag, etag);
      assert.equal(r.headers?.['content-length'], String(Buffer.byteLength(String(g.body))));
    }
    assert.equal((await call(PROJECT, {}, { 'if-none-match': '"other"' })).statusCode, 200);
    const lm = g.headers!['last-modified'];
    assert.equal((await call(PROJECT, {}, { 'if-modified-since': lm })).statusCode, 304);
    assert.equal((await call(PROJECT, {}, { 'if-modified-since': new Date(Date.parse(lm) - 1000).toUTCString() })).statusCode, 200);
    assert.equal((await call(PROJECT, {}, { 'if-modified-since': 'garbage' })).statusCode, 200);
    // If-None-Match wins over If-Modified-Since.
    assert.equal((await call(PROJECT, {}, { 'if-none-match': '"other"', 'if-modified-since': lm })).statusCode, 200);
  });

  test('commit selection: latest by stored time, ?commit= that commit, unknown commit 404', async () => {
    await storeDocument(ctx.db, variant(C2, '2025-11-22T02:00:00Z', 8.1));
    await storeDocument(ctx.db, variant(C3, '2025-11-01T02:00:00Z', 6.4)); // an older run harvested last: its Job finished first
    const latest = body(await call(PROJECT));
    assert.equal(latest.repo.commit, C2);
    assert.equal(latest.score, 8.1);
    assert.equal(latest.date, '2025-11-22T02:00:00Z');
    assert.deepEqual(body(await call(PROJECT, { commit: C1 })), FX);
    assert.deepEqual(body(await call(PROJECT, { commit: C1.toUpperCase() })), FX);
    assert.equal(body(await call(PROJECT, { commit: C3 })).score, 6.4);
    const miss = await call(PROJECT, { commit: 'd'.repeat(40) });
    assert.equal(miss.statusCode, 404);
    assert.equal(body(miss).reason, 'no-result-for-commit');
    assert.match(body(miss).error, /no Scorecard result for commit d{40}/);
  });

  test('the same commit scored twice: ?commit= gives the newer result', async () => {
    await storeDocument(ctx.db, variant(C3, '2025-11-02T02:00:00Z', 6.6));
    assert.equal(body(await call(PROJECT, { commit: C3 })).score, 6.6);
  });

  test('history: newest stored first, compact, limited', async () => {
    const r = await call(`${PROJECT}/history`);
    assert.equal(r.statusCode, 200);
    const h = body(r);
    assert.equal(h.repo, 'github.com/ossf/scorecard');
    assert.equal(h.count, 4);
    assert.deepEqual(
      h.history.map((e: any) => [e.commit, e.score, e.date]),
      [
        [C2, 8.1, '2025-11-22T02:00:00Z'],
        [C1, 9.7, '2025-11-15T02:10:48Z'],
        [C3, 6.6, '2025-11-02T02:00:00Z'],
        [C3, 6.4, '2025-11-01T02:00:00Z'],
      ],
    );
    assert.deepEqual(Object.keys(h.history[0]), ['date', 'commit', 'score', 'scorecardVersion']);
    assert.equal(h.history[0].scorecardVersion, 'v5.3.0');
    const two = body(await call(`${PROJECT}/history`, { limit: '2' }));
    assert.equal(two.count, 2);
    assert.deepEqual(two.history, h.history.slice(0, 2));
    assert.equal((await call(`${PROJECT}/history`, { limit: '1001' })).statusCode, 400);
  });

  test("badge: SVG of the latest score (or a commit's), cacheable, 304 on a matching ETag", async () => {
    const r = await call(`${PROJECT}/badge`);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers?.['content-type'], 'image/svg+xml; charset=utf-8');
    assert.equal(r.headers?.['cache-control'], 'public, max-age=300');
    const svg = String(r.body);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.includes('<title>openssf scorecard: 8.1</title>'));
    assert.ok(svg.includes('fill="#97ca00"'));
    const old = String((await call(`${PROJECT}/badge`, { commit: C3 })).body);
    assert.ok(old.includes('openssf scorecard: 6.6') && old.includes('fill="#a4a61d"'));
    assert.equal((await call(`${PROJECT}/badge`, {}, { 'if-none-match': r.headers!.etag })).statusCode, 304);
    // No result for that commit: still an image (shields.io answers such badges with 200), never JSON.
    const none = await call(`${PROJECT}/badge`, { commit: 'e'.repeat(40) });
    assert.equal(none.statusCode, 200);
    assert.equal(none.headers?.['x-posture-reason'], 'no-result-for-commit');
    assert.ok(String(none.body).includes('<title>openssf scorecard: no result for commit</title>'));
  });

  test('404: unknown repository, and known but never scored (each says which)', async () => {
    for (const route of ['', '/history']) {
      const unknown = await call(`/projects/github.com/nobody/nothing${route}`);
      assert.equal(unknown.statusCode, 404, route);
      assert.equal(unknown.headers?.['content-type'], 'application/json; charset=utf-8');
      assert.equal(body(unknown).reason, 'unknown-repo');
      assert.match(body(unknown).error, /github\.com\/nobody\/nothing is not known/);
      assert.equal(unknown.headers?.['cache-control'], 'public, max-age=60');
    }
    await addRepos(ctx.db, [{ repo: (parseRepo('Waiting/Room') as any).repo }]);
    for (const route of ['', '/history']) {
      const waiting = await call(`/projects/github.com/waiting/room${route}`);
      assert.equal(waiting.statusCode, 404, route);
      assert.equal(body(waiting).reason, 'not-scored');
      assert.match(body(waiting).error, /github\.com\/Waiting\/Room is known but has no Scorecard result yet/);
    }
    // Badges are images in READMEs: an SVG that says why, not a JSON 404 (a broken image).
    for (const [path, reason, text] of [
      ['nobody/nothing', 'unknown-repo', 'unknown repo'],
      ['waiting/room', 'not-scored', 'not scored yet'],
    ]) {
      const badge = await call(`/projects/github.com/${path}/badge`);
      assert.equal(badge.statusCode, 200, path);
      assert.equal(badge.headers?.['content-type'], 'image/svg+xml; charset=utf-8');
      assert.equal(badge.headers?.['x-posture-reason'], reason);
      assert.equal(badge.headers?.['cache-control'], 'public, max-age=60');
      assert.ok(String(badge.body).includes(`<title>openssf scorecard: ${text}</title>`), path);
    }
    assert.equal(body(await call('/projects/github.com/waiting/room', { commit: C1 })).reason, 'not-scored');
  });

  test('400 and 405 answers are JSON, never cached, and touch nothing', async () => {
    const cases: Array<[string, string, Record<string, string>, number]> = [
      ['GET', '/projects/github.com/ossf/%2e%2e', {}, 400],
      ['GET', '/projects/github.com/ossf%2Fscorecard/x', {}, 400],
      ['GET', '/projects/example.com/ossf/scorecard', {}, 400],
      ['GET', PROJECT, { commit: "'; DROP TABLE scores; --" }, 400],
      ['GET', `${PROJECT}/history`, { limit: 'all' }, 400],
      ['POST', PROJECT, {}, 405],
      ['DELETE', PROJECT, {}, 405],
    ];
    for (const [method, path, query, status] of cases) {
      const r = await call(path, query, {}, method);
      assert.equal(r.statusCode, status, `${method} ${path}`);
      assert.equal(r.headers?.['content-type'], 'application/json; charset=utf-8');
      assert.equal(r.headers?.['cache-control'], 'no-store');
      assert.equal(typeof body(r).error, 'string');
      if (status === 405) assert.equal(r.headers?.allow, 'GET, HEAD');
    }
    assert.equal(body(await call(`${PROJECT}/history`)).count, 4, 'nothing was dropped');
  });

  test('a stored document without a checks array is answered from the stored check rows', async () => {
    const name = 'github.com/fallback/repo';
    const repo = (parseRepo(name) as any).repo;
    await addRepos(ctx.db, [{ repo }]);
    const row = await getRepo(ctx.db, repo.key);
    await recordRun(ctx.db, { repoId: Number(row!.id), jobName: 'fb-job', jobUid: 'fb-uid' });
    const check = { name: 'License', score: 10, reason: 'license file detected', details: null, documentation: { url: 'https://x/l', short: 'License' } };
    await storeHarvest(ctx.db, {
      repoKey: repo.key,
      jobName: 'fb-job',
      jobUid: 'fb-uid',
      finishedAt: new Date(),
      checkSet: null,
      schedule: { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 },
      outcome: {
        ok: true,
        flagged: false,
        result: {
          repo: name,
          commit: 'f'.repeat(40),
          date: '2025-01-02T03:04:05.000Z',
          scorecardVersion: 'v5.2.1',
          scorecardCommit: 'abc',
          score: 10,
          checks: [check],
          raw: { note: 'legacy' } as unknown as NormalizedResult['raw'],
        },
      },
    });
    assert.deepEqual(body(await call('/projects/github.com/fallback/repo')), {
      date: '2025-01-02T03:04:05Z',
      repo: { name, commit: 'f'.repeat(40) },
      scorecard: { version: 'v5.2.1', commit: 'abc' },
      score: 10,
      checks: [{ name: 'License', score: 10, reason: 'license file detected', details: null, documentation: { short: 'License', url: 'https://x/l' } }],
    });
  });

  test('index lists the routes', async () => {
    const r = await call('/');
    assert.equal(r.statusCode, 200);
    assert.equal(body(r).routes.length, 3);
  });

  describeHttp(ctx);
});

function describeHttp(ctx: { readonly db: Db }) {
  let server: Server;
  let base: string;
  before(async () => {
    const handle = createApiHandle(async () => ({ db: ctx.db, config: { allowedHosts: ['github.com'] }, log: silentLogger }));
    server = createFunctionServer({ name: 'api', handle, log: silentLogger, bodyLimit: apiBodyLimit });
    base = `http://127.0.0.1:${await listen(server, 0)}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('HTTP: GET answers fixture 06 for its commit, with headers', async () => {
    const r = await fetch(`${base}${PROJECT}?commit=${C1}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await r.json(), FX);
  });

  test('HTTP: HEAD has the headers and length of GET and no body', async () => {
    const g = await fetch(`${base}${PROJECT}/badge`);
    const gb = await g.text();
    const h = await fetch(`${base}${PROJECT}/badge`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(await h.text(), '');
    assert.equal(h.headers.get('content-length'), String(Buffer.byteLength(gb)));
    assert.equal(h.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
    assert.equal(h.headers.get('etag'), g.headers.get('etag'));
  });

  test('HTTP: 304 with If-None-Match', async () => {
    const g = await fetch(`${base}${PROJECT}`);
    await g.arrayBuffer();
    const r = await fetch(`${base}${PROJECT}`, { headers: { 'if-none-match': g.headers.get('etag')! } });
    assert.equal(r.status, 304);
    assert.equal(await r.text(), '');
  });

  test('HTTP: hostile requests', async () => {
    const cases: Array<[string, RequestInit, number]> = [
      ['/projects/github.com/ossf%2Fscorecard/x', {}, 400],
      ['/projects/github.com/ossf/%2e%2e/%2e%2e/x', {}, 400], // URL parsing resolves the dot segments: /projects/x
      ['/projects/github.com/ossf/scorecard%00', {}, 400],
      ['/projects/github.com/ossf/scorecard%0d%0aX-Injected:%201', {}, 400],
      [`/projects/github.com/ossf/${'a'.repeat(2000)}`, {}, 400],
      [`${PROJECT}?commit=%27%20OR%201=1`, {}, 400],
      [`${PROJECT}?commit=${C1}&commit=${C2}`, {}, 400], // given twice: which one was meant is not guessed
      [`${PROJECT}/history?limit=0`, {}, 400],
      [PROJECT, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }, 413], // no route takes a body
      [PROJECT, { method: 'POST' }, 405],
      [PROJECT, { method: 'PUT', body: 'x' }, 413],
      ['/nothing/here', {}, 404],
    ];
    for (const [path, init, status] of cases) {
      const r = await fetch(`${base}${path}`, init);
      const text = await r.text();
      assert.equal(r.status, status, `${path}: ${text}`);
      assert.equal(r.headers.get('x-injected'), null);
      if (status >= 400) assert.equal(typeof JSON.parse(text).error, 'string', path);
    }
  });

  test('HTTP: raw request targets the client would not send (literal dot segments, absolute form)', async () => {
    const raw = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const u = new URL(base);
        const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: b }));
        });
        req.on('error', reject);
        req.end();
      });
    // Routed as sent: dot segments are refused, never resolved to another path or repository.
    assert.equal((await raw('/projects/github.com/ossf/scorecard/../../../../etc/passwd')).status, 400);
    assert.match(JSON.parse((await raw('/projects/github.com/ossf/../scorecard/x')).body).error, /dot segments/);
    assert.equal((await raw(`http://evil.example${PROJECT}`)).status, 200, 'absolute-form target: only the path counts');
  });

  test('HTTP: health and metrics stay beside the API', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const m = await (await fetch(`${base}/metrics`)).text();
    assert.match(m, /posture_api_requests_total\{route="project",code="200"\}/);
  });
}
