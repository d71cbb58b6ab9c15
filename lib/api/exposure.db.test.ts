// What the public api function lets a stranger make it do or read (issue 40, round two), over
// HTTP on both databases, served as bin/serve.ts serves it (apiBodyLimit): a body is refused
// before it is read; the export streams a batch at a time and HEAD reads no rows; the links a
// repository page offers for READMEs come from POSTURE_PUBLIC_URL, or the page is not cached;
// a parameter given twice is a 400; only the score routes are readable cross-origin.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { addRepos } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import type { StructuredReturn } from '../function/handle.ts';
import { createFunctionServer, listen } from '../function/server.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { apiBodyLimit, createApiHandle } from './handler.ts';
import { fixture06, requestContext, storeDocument } from './testing.ts';

const REPOS = 30;
const repoId = (name: string) => (parseRepo(name) as { ok: true; repo: RepoId }).repo;

/** The server's first answer (status line and headers) to raw bytes, or 'no answer' within 3 s. */
function firstAnswer(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    const done = (v: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(got || 'no answer'), 3000);
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n')) done(got);
    });
    socket.on('error', () => {});
  });
}

describeEachDatabase('api exposure', (ctx) => {
  const config = { allowedHosts: ['github.com'], rescoreIntervalSeconds: 7 * 86400, jitterSeconds: 0, exportRows: 10, exportBatch: 4 };
  let server: ReturnType<typeof createFunctionServer>;
  let base: string;
  let port: number;
  /** Every statement the database was sent, in order. */
  const statements: string[] = [];
  before(async () => {
    await ctx.db.raw('TRUNCATE checks, scores, runs, repos RESTART IDENTITY CASCADE');
    await storeDocument(ctx.db, fixture06()); // github.com/ossf/scorecard
    await addRepos(
      ctx.db,
      Array.from({ length: REPOS - 1 }, (_, i) => ({ repo: repoId(`github.com/acme/r${String(i).padStart(2, '0')}`) })),
    );
    ctx.db.on('query', (q: { sql: string }) => statements.push(q.sql));
    const handle = createApiHandle(async () => ({ db: ctx.db, config, log: silentLogger }));
    server = createFunctionServer({ name: 'api', handle, log: silentLogger, bodyLimit: apiBodyLimit });
    port = await listen(server, 0);
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('a body is refused (413) on its headers, unread: a GET declaring 10 MiB is answered before it sends the rest', async () => {
    for (const [name, bytes] of [
      ['GET /projects, 10 MiB declared', 'GET /projects HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n[{},{},{},'],
      [
        'GET a score, chunked',
        'GET /projects/github.com/ossf/scorecard HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n4\r\n[{},\r\n',
      ],
      ['HEAD /export/latest.csv with a body', 'HEAD /export/latest.csv HTTP/1.1\r\nhost: x\r\ncontent-length: 1048576\r\n\r\n{'],
      [
        'POST a score',
        'POST /projects/github.com/ossf/scorecard HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n[{},',
      ],
    ]) {
      const answer = await firstAnswer(port, bytes);
      assert.match(answer, /^HTTP\/1\.1 413 /, `${name}: ${answer.slice(0, 80)}`);
    }
    const plain = await fetch(`${base}/projects/github.com/ossf/scorecard`);
    assert.equal(plain.status, 200, 'a GET without a body is answered as before');
    await plain.arrayBuffer();
  });

  test('the export streams a batch at a time, read only once the last was taken; its parts add up; HEAD reads no rows', async () => {
    const handle = createApiHandle(async () => ({ db: ctx.db, config, log: silentLogger }));
    statements.length = 0;
    const r = (await handle(requestContext('GET', '/export/latest.csv'))) as StructuredReturn;
    assert.equal(r.statusCode, 200);
    assert.match(r.headers!.link, /^<\/export\/latest\.csv\?cursor=[^>]+>; rel="next"$/, 'the next part is named before the first row goes out');
    const body = r.body as { stream?: AsyncIterable<string> };
    assert.ok(body && typeof body === 'object' && body.stream, 'the body is a stream, not the whole export built in memory');
    const rowQueries = () => statements.filter((s) => /r\.canonical/.test(s)).length;
    assert.equal(rowQueries(), 0, 'no row read before the client asks for the body');
    const pieces: string[] = [];
    for await (const piece of body.stream!) {
      pieces.push(piece);
      // Header, then one batch per piece: each batch read only when the previous one was taken.
      assert.equal(rowQueries(), Math.max(0, pieces.length - 1), `piece ${pieces.length}`);
    }
    const rows = pieces.slice(1).map((p) => p.trimEnd().split('\r\n').length);
    assert.deepEqual(rows, [4, 4, 2], 'at most exportBatch rows a piece, exportRows a part');
    // Every part, followed by its Link, gives every repository once.
    const seen: string[] = [];
    let path: string | undefined = '/export/latest.csv';
    while (path) {
      const res: Response = await fetch(base + path);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), null, 'streamed (chunked)');
      seen.push(...(await res.text()).trimEnd().split('\r\n').slice(1));
      path = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
    }
    assert.equal(seen.length, REPOS);
    assert.equal(new Set(seen.map((l) => l.split(',')[0])).size, REPOS, 'no repository twice');
    const json = await (await fetch(`${base}/export/latest.json`)).json();
    assert.equal(json.repositories.length, 10);
    assert.match(json.next, /^\/export\/latest\.json\?cursor=/);

    statements.length = 0;
    const head = await fetch(`${base}/export/latest.csv`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(head.headers.get('link') ?? '', /rel="next"/, 'HEAD has the headers of GET');
    assert.equal(rowQueries(), 0, 'HEAD read no rows');
  });

  test('exports streaming at once are capped (503 with Retry-After past the cap); a finished or abandoned one frees its place; HEAD takes none', async () => {
    const one = createApiHandle(async () => ({ db: ctx.db, config: { ...config, exportConcurrency: 1 }, log: silentLogger }));
    const get = () => one(requestContext('GET', '/export/latest.csv')) as Promise<StructuredReturn>;
    const first = await get();
    assert.equal(first.statusCode, 200);
    // The server starts a GET's stream as soon as it has the answer: its first piece.
    const it = (first.body as { stream: AsyncIterable<string> }).stream[Symbol.asyncIterator]();
    await it.next();
    const busy = await get();
    assert.equal(busy.statusCode, 503);
    assert.equal(busy.headers!['retry-after'], '5');
    assert.equal((await (one(requestContext('HEAD', '/export/latest.csv')) as Promise<StructuredReturn>)).statusCode, 200, 'HEAD is not counted');
    // The first client goes away (the server returns its generator).
    await it.return?.();
    const again = await get();
    assert.equal(again.statusCode, 200, 'the abandoned stream gave its slot back');
    for await (const _ of (again.body as { stream: AsyncIterable<string> }).stream);
    assert.equal((await get()).statusCode, 200, 'a finished stream gave its slot back');
  });

  test("a repository page's badge and page links: from POSTURE_PUBLIC_URL when set (and cached), else never cached", async () => {
    const page = '/ui/projects/github.com/ossf/scorecard';
    const forged = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    const unset = await fetch(base + page, { headers: forged });
    assert.equal(unset.status, 200);
    await unset.text();
    assert.equal(unset.headers.get('cache-control'), 'no-store', 'links built from request headers are never stored by a shared cache');

    const configured = createApiHandle(async () => ({ db: ctx.db, config: { ...config, publicUrl: 'https://posture.example.com/' }, log: silentLogger }));
    const r = (await configured(requestContext('GET', page, {}, { host: 'posture.internal', ...forged }))) as StructuredReturn;
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers!['cache-control'], 'public, max-age=60');
    const html = String(r.body);
    assert.ok(
      html.includes(
        '[![OpenSSF Scorecard](https://posture.example.com/projects/github.com/ossf/scorecard/badge)](https://posture.example.com/ui/projects/github.com/ossf/scorecard)',
      ),
      'the snippet uses the configured URL',
    );
    assert.ok(!html.includes('evil.example') && !html.includes('posture.internal'), 'no request header reaches a cached page');
  });

  test('a query parameter given more than once is a 400 that says so, wherever a route takes it once', async () => {
    for (const path of [
      '/projects?limit=1&limit=1000',
      '/projects?state=fresh&state=never',
      '/export/latest.csv?owner=acme&owner=ossf',
      '/projects/github.com/ossf/scorecard?commit=6d34bd8be78a80ee8c38ac2b8f0d14366fd745b1&commit=6d34bd8be78a80ee8c38ac2b8f0d14366fd745b1',
      '/projects/github.com/ossf/scorecard/history?limit=1&limit=2',
      '/projects/github.com/ossf/scorecard/badge?style=flat&style=flat-square',
      '/projects/github.com/ossf/scorecard/changes?from=1&from=2',
      '/ui/projects?sort=name&sort=score',
    ]) {
      const r = await fetch(base + path);
      const text = await r.text();
      assert.equal(r.status, 400, `${path}: ${text.slice(0, 120)}`);
      assert.match(text, /given more than once/, path);
    }
  });

  test('CORS: the score routes are readable from any origin; the list, export, changes and pages are not', async () => {
    const origin = { origin: 'https://any-page.example' };
    for (const path of [
      '/',
      '/projects/github.com/ossf/scorecard',
      '/projects/github.com/ossf/scorecard/history',
      '/projects/github.com/ossf/scorecard/badge',
    ]) {
      const r = await fetch(base + path, { headers: origin });
      await r.arrayBuffer();
      assert.equal(r.headers.get('access-control-allow-origin'), '*', path);
    }
    for (const path of [
      '/projects',
      '/projects?limit=0',
      '/export/latest.csv',
      '/export/latest.json',
      '/projects/github.com/ossf/scorecard/changes',
      '/ui',
      '/ui/projects',
      '/ui/projects/github.com/ossf/scorecard',
    ]) {
      const r = await fetch(base + path, { headers: origin });
      await r.arrayBuffer();
      assert.equal(r.headers.get('access-control-allow-origin'), null, `${path} (${r.status})`);
    }
    const preflight = (path: string) => fetch(base + path, { method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'GET' } });
    const score = await preflight('/projects/github.com/ossf/scorecard');
    assert.equal(score.status, 204);
    assert.equal(score.headers.get('access-control-allow-origin'), '*');
    for (const path of ['/projects', '/export/latest.csv', '/ui']) {
      const r = await preflight(path);
      await r.arrayBuffer();
      assert.equal(r.headers.get('access-control-allow-origin'), null, `preflight ${path} (${r.status})`);
    }
  });
});
