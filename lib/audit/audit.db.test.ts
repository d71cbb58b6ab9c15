// The audit against both databases: the latest scores it judges by (stored order, as the gate's
// cache reads them), one audit through auditCluster with an in-memory cluster (findings saved,
// reports planned and written, a second run writing nothing), and the dashboard page
// "running workloads below the bar" over what was saved.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { createApiHandle } from '../api/handler.ts';
import { fixture06, replyText, requestContext, storeDocument } from '../api/testing.ts';
import { defaultConfig } from '../config/index.ts';
import { auditFindings, latestScoresOf, MAX_AUDIT_FINDINGS, replaceAuditFindings } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import type { StructuredReturn } from '../function/handle.ts';
import { silentLogger } from '../log/index.ts';
import { createAuditHandle } from './handler.ts';
import { auditCluster } from './index.ts';
import type { PolicyReport } from './report.ts';
import type { AuditApi } from './run.ts';

const ANN = 'posture.dev/source-repo';

function cluster(objects: Record<string, unknown[]>): { api: AuditApi; writes: number } {
  const reports = new Map<string, PolicyReport>();
  const state = { writes: 0 };
  let calls = 0;
  const api: AuditApi = {
    async listWorkloads(kind) {
      calls++;
      return { items: objects[kind.kind] ?? [] };
    },
    async listNamespaces() {
      calls++;
      return [];
    },
    async listReports() {
      calls++;
      return [...reports.values()];
    },
    async apply(a) {
      calls++;
      state.writes++;
      if (a.action === 'delete') reports.delete(a.namespace);
      else reports.set(a.report.metadata.namespace, structuredClone(a.report));
    },
    calls: () => calls,
  };
  return {
    api,
    get writes() {
      return state.writes;
    },
  };
}

describeEachDatabase('audit', (ctx) => {
  test('latestScoresOf: the newest stored score of each key given, none for unknown or unscored keys', async () => {
    await ctx.db.raw('TRUNCATE checks, scores, runs, repos RESTART IDENTITY CASCADE');
    const doc = fixture06();
    await storeDocument(ctx.db, doc);
    const key = doc.repo.name.toLowerCase();
    const got = await latestScoresOf(ctx.db, [key, 'github.com/nobody/none'], 1);
    assert.deepEqual([...got.keys()], [key]);
    assert.equal(got.get(key)!.score, doc.score);
  });

  test('an audit saves its findings (not passes), the dashboard shows them worst first; a second unchanged audit writes no report', async () => {
    await ctx.db.raw('TRUNCATE checks, scores, runs, repos RESTART IDENTITY CASCADE');
    const doc = fixture06();
    await storeDocument(ctx.db, doc);
    const handle = createApiHandle(async () => ({ db: ctx.db, config: { allowedHosts: ['github.com'] }, log: silentLogger }));
    const page = async () => replyText((await handle(requestContext('GET', '/ui/workloads'))) as StructuredReturn);
    // Before any audit: the page says so.
    await ctx.db.raw('DELETE FROM audit_findings');
    await ctx.db.raw('DELETE FROM audit_runs');
    assert.match(await page(), /No audit has run yet/);
    const deployment = (name: string, repo: string) => ({ metadata: { name, namespace: 'team', uid: name, annotations: { [ANN]: repo } }, spec: {} });
    const c = cluster({ Deployment: [deployment('scored', doc.repo.name), deployment('unscored', 'github.com/nobody/new'), deployment('bad', 'not a repo')] });
    const config = defaultConfig({ gateThreshold: 10 });
    const first = await auditCluster({ config, db: ctx.db, api: c.api, write: true });
    assert.deepEqual(first.summary, { pass: 0, fail: 1, warn: 1, error: 1, skip: 0 });
    assert.equal(c.writes, 1);
    const saved = await auditFindings(ctx.db, 10);
    assert.deepEqual(
      saved.findings.map((f) => [f.name, f.result]),
      [
        ['bad', 'error'],
        ['scored', 'fail'],
        ['unscored', 'warn'],
      ],
    );
    const html = await page();
    assert.match(html, /Running workloads below the bar/);
    assert.match(html, /<strong>1<\/strong> below the bar, 1 not scored yet, 1 not a repository/);
    assert.ok(html.indexOf('>bad<') < html.indexOf('>scored<') && html.indexOf('>scored<') < html.indexOf('>unscored<'));
    const second = await auditCluster({ config, db: ctx.db, api: c.api, write: true });
    assert.equal(c.writes, 1, 'nothing changed: no report written');
    assert.equal(second.reports.unchanged, 1);
  });

  test('the auditor function: a ping runs one audit and replies its summary; no CloudEvent is 400; an unreachable cluster is 503', async () => {
    const c = cluster({ Deployment: [{ metadata: { name: 'x', namespace: 'n', uid: 'x', annotations: { [ANN]: 'github.com/nobody/new' } }, spec: {} }] });
    const deps = async () => ({ config: defaultConfig(), db: ctx.db, log: silentLogger, api: c.api });
    const handle = createAuditHandle(deps);
    const ping = new CloudEvent({ type: 'dev.knative.sources.ping', source: '/test', data: {} });
    const ctxOf = (cloudevent?: unknown) => ({ log: silentLogger, method: 'POST', path: '/', headers: {}, query: {}, cloudevent }) as any;
    const ok = (await handle(ctxOf(ping))) as StructuredReturn;
    assert.equal(ok.statusCode, 200);
    assert.deepEqual((ok.body as any).summary, { pass: 0, fail: 0, warn: 1, error: 0, skip: 0 });
    assert.equal(((await handle(ctxOf())) as StructuredReturn).statusCode, 400);
    const broken = createAuditHandle(async () => ({
      ...(await deps()),
      api: {
        ...c.api,
        listWorkloads: async () => {
          throw new Error('connect ECONNREFUSED');
        },
      },
    }));
    assert.equal(((await broken(ctxOf(ping))) as StructuredReturn).statusCode, 503);
  });

  test('the saved findings are bounded', async () => {
    const rows = Array.from({ length: MAX_AUDIT_FINDINGS + 5 }, (_, i) => ({
      namespace: 'n',
      kind: 'Pod',
      name: `p${i}`,
      uid: `u${i}`,
      repo: 'github.com/a/b',
      score: i % 10,
      result: 'fail' as const,
      message: 'm',
    }));
    await replaceAuditFindings(ctx.db, new Date(), {}, rows);
    const n = await ctx.db.raw('SELECT count(*)::int AS n FROM audit_findings');
    assert.equal((n.rows ?? n)[0].n, MAX_AUDIT_FINDINGS);
  });
});
