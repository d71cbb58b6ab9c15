// The score API's request-path edges over real HTTP: the path as sent is what is routed (no URL
// normalisation before the checks), badges for repositories without a score are SVG, CORS,
// /metrics kept off the public port, HEAD on health.

import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { addRepos } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { createFunctionServer, createMetricsServer, listen } from '../function/server.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { createApiHandle } from './handler.ts';
import { fixture06, storeDocument } from './testing.ts';

/** A request with the path exactly as given (fetch would normalise it first). */
function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describeEachDatabase('score API edges over HTTP', (ctx) => {
  let server: Server;
  let port: number;
  before(async () => {
    await storeDocument(ctx.db, fixture06()); // github.com/ossf/scorecard
    await addRepos(ctx.db, [{ repo: (parseRepo('github.com/kubernetes/kubernetes') as { ok: true; repo: RepoId }).repo }]);
    server = createFunctionServer({
      name: 'api',
      handle: createApiHandle(async () => ({ db: ctx.db, config: { allowedHosts: ['github.com'] }, log: silentLogger })),
      log: silentLogger,
      metrics: false,
    });
    port = await listen(server, 0);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('dot segments and double slashes are refused as sent, never resolved to another repository', async () => {
    for (const path of [
      '/projects/github.com/ossf/scorecard/../kubernetes',
      '/projects/github.com/ossf/../ossf/scorecard',
      '/projects/github.com/ossf/scorecard/./badge',
      '/projects/github.com/ossf/%2e%2e/kubernetes',
      '/projects/github.com/kubernetes/kubernetes/../../ossf/scorecard',
    ]) {
      const r = await raw(port, 'GET', path);
      assert.equal(r.status, 400, path);
      assert.match(JSON.parse(r.body).error, /dot segments/, path);
    }
    for (const path of ['//projects/github.com/ossf/scorecard', '//evil.example/projects/github.com/ossf/scorecard', '/projects//github.com/ossf/scorecard']) {
      const r = await raw(port, 'GET', path);
      assert.equal(r.status, 400, path);
      assert.match(JSON.parse(r.body).error, /empty path segment/, path);
    }
    assert.equal((await raw(port, 'GET', '/projects/github.com/ossf/scorecard')).status, 200);
  });

  test('a badge for a repository that is unknown, not scored, or has no result for a commit is an SVG (200, like shields.io)', async () => {
    const cases: Array<[string, string, string]> = [
      ['/projects/github.com/kubernetes/kubernetes/badge', 'not scored yet', 'not-scored'],
      ['/projects/github.com/nobody/nothing/badge?style=flat-square', 'unknown repo', 'unknown-repo'],
      [`/projects/github.com/ossf/scorecard/badge?commit=${'e'.repeat(40)}`, 'no result for commit', 'no-result-for-commit'],
    ];
    for (const [path, text, reason] of cases) {
      const r = await raw(port, 'GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], 'image/svg+xml; charset=utf-8');
      assert.equal(r.headers['cache-control'], 'public, max-age=60');
      assert.equal(r.headers['x-posture-reason'], reason);
      assert.match(r.body, new RegExp(`^<svg [^>]*aria-label="openssf scorecard: ${text}"`));
      assert.match(r.body, /fill="#9f9f9f"/);
    }
    const scored = await raw(port, 'GET', '/projects/github.com/ossf/scorecard/badge');
    assert.match(scored.body, new RegExp(`aria-label="openssf scorecard: ${fixture06().score}"`));
    // The JSON routes keep their JSON 404s.
    assert.equal((await raw(port, 'GET', '/projects/github.com/kubernetes/kubernetes')).status, 404);
  });

  test('CORS: every GET answer can be read from any origin; a preflight is answered', async () => {
    for (const path of [
      '/projects/github.com/ossf/scorecard',
      '/projects/github.com/nobody/nothing',
      '/projects/github.com/ossf/scorecard/badge',
      '/projects/x',
    ]) {
      const r = await raw(port, 'GET', path, { origin: 'https://example.org' });
      assert.equal(r.headers['access-control-allow-origin'], '*', path);
      assert.match(String(r.headers['access-control-expose-headers']), /ETag/, path);
    }
    const pre = await raw(port, 'OPTIONS', '/projects/github.com/ossf/scorecard', {
      origin: 'https://example.org',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'if-none-match',
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, HEAD');
    assert.match(String(pre.headers['access-control-allow-headers']), /If-None-Match/);
    const plain = await raw(port, 'OPTIONS', '/projects/github.com/ossf/scorecard');
    assert.equal(plain.status, 405, 'OPTIONS without a preflight is still not allowed');
  });

  test('/metrics is not served on the public port; a separate metrics server serves it; HEAD /healthz answers', async () => {
    const m = await raw(port, 'GET', '/metrics');
    assert.notEqual(m.status, 200);
    assert.doesNotMatch(m.body, /posture_api_requests_total/);
    const metrics = createMetricsServer();
    const mport = await listen(metrics, 0);
    try {
      const r = await raw(mport, 'GET', '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.body, /posture_api_requests_total/);
      assert.equal((await raw(mport, 'GET', '/projects/github.com/ossf/scorecard')).status, 404);
    } finally {
      metrics.close();
    }
    for (const path of ['/healthz', '/readyz', '/health/liveness']) {
      const h = await raw(port, 'HEAD', path);
      assert.equal(h.status, 200, path);
      assert.equal(h.body, '');
    }
    assert.equal((await raw(port, 'GET', '/x/../healthz')).status, 404, 'a health path is not reached through dot segments');
  });
});
