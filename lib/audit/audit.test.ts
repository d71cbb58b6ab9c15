// Table tests of the audit's decisions: what is audited, how a workload is judged, what a
// namespace's PolicyReport holds, and that an unchanged cluster writes nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRepo } from '../repo/identity.ts';
import { judgeWorkload, type Workload, workloadOf } from './findings.ts';
import { type LatestScore, minimumScoreJudge } from './judge.ts';
import { AUDITED_KINDS, type AuditedKind, auditedItself } from './kinds.ts';
import { namespaceClosed } from './kube.ts';
import { OMITTED_ANNOTATION, type PolicyReport, planReports, policyReport, REPORT_NAME, type ReportAction, reportChanged } from './report.ts';
import { type AuditApi, runAudit } from './run.ts';

const K = (kind: string): AuditedKind => AUDITED_KINDS.find((k) => k.kind === kind)!;
const ANN = 'posture.dev/source-repo';
const meta = (name: string, ns = 'team', extra: Record<string, unknown> = {}) => ({ name, namespace: ns, uid: `uid-${ns}-${name}`, ...extra });
const deployment = (name: string, repo?: string, where: 'self' | 'template' = 'self', ns = 'team') => ({
  metadata: meta(name, ns, where === 'self' && repo ? { annotations: { [ANN]: repo } } : {}),
  spec: { template: { metadata: where === 'template' && repo ? { annotations: { [ANN]: repo } } : {} } },
});
const scores = new Map<string, LatestScore>([
  ['github.com/low/repo', { score: 3.2, date: '2026-12-01T00:00:00Z' }],
  ['github.com/good/repo', { score: 8, date: '2026-12-01T00:00:00Z' }],
]);
const judgeFor = minimumScoreJudge(scores, 5);
const judge = judgeFor({ name: 'team', labels: {} });

describe('what is audited', () => {
  const cases: Array<[string, AuditedKind, unknown, boolean]> = [
    ['a Deployment', K('Deployment'), { metadata: meta('d') }, true],
    ['a Deployment with an owner (still itself: it is a top)', K('Deployment'), { metadata: meta('d', 'team', { ownerReferences: [{ kind: 'X' }] }) }, true],
    ['a ReplicaSet a Deployment owns', K('ReplicaSet'), { metadata: meta('r', 'team', { ownerReferences: [{ kind: 'Deployment' }] }) }, false],
    ['a ReplicaSet of its own', K('ReplicaSet'), { metadata: meta('r') }, true],
    ['a Job a CronJob owns', K('Job'), { metadata: meta('j', 'team', { ownerReferences: [{ kind: 'CronJob' }] }) }, false],
    ['a bare Pod', K('Pod'), { metadata: meta('p', 'team', { ownerReferences: [] }) }, true],
    ['a Pod a ReplicaSet owns', K('Pod'), { metadata: meta('p', 'team', { ownerReferences: [{ kind: 'ReplicaSet' }] }) }, false],
  ];
  for (const [name, kind, o, want] of cases) it(name, () => assert.equal(auditedItself(kind, o), want));
  it('every kind the gate judges is listed, the owned ones through their owner', () => {
    assert.deepEqual(
      AUDITED_KINDS.map((k) => `${k.kind}${k.onlyWithoutOwner ? ' (no owner)' : ''}`),
      ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet (no owner)', 'ReplicationController', 'CronJob', 'Job (no owner)', 'Pod (no owner)'],
    );
  });
});

describe('judging a workload', () => {
  const w = (declared: string[]): Workload => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team', name: 'web', uid: 'u', declared });
  const cases: Array<[string, string[], string, RegExp]> = [
    ['below the minimum', ['github.com/low/repo'], 'fail', /scores 3.2 on OpenSSF Scorecard \(2026-12-01\), below the minimum of 5$/],
    ['at or above it', ['https://github.com/good/repo'], 'pass', /^$/],
    ['never scored', ['github.com/new/repo'], 'warn', /has no OpenSSF Scorecard score in posture yet/],
    ['not a repository', ['not a repo'], 'error', /is not a repository posture can judge/],
    ['too long', [`github.com/a/${'x'.repeat(400)}`], 'error', /longer than 300 characters/],
    ['the worst of several', ['github.com/good/repo', 'github.com/low/repo'], 'fail', /low\/repo/],
  ];
  for (const [name, declared, result, message] of cases)
    it(name, () => {
      const f = judgeWorkload(w(declared), judge, ['github.com']);
      assert.equal(f.result, result);
      assert.match(f.message, message);
    });
  it("a namespace's posture.dev/min-score label replaces the threshold (as at admission)", () => {
    const strict = judgeFor({ name: 'prod', labels: { 'posture.dev/min-score': '9' } });
    const lax = judgeFor({ name: 'dev', labels: { 'posture.dev/min-score': '2' } });
    const bad = judgeFor({ name: 'odd', labels: { 'posture.dev/min-score': 'eleven' } });
    const good = parseRepo('github.com/good/repo');
    const low = parseRepo('github.com/low/repo');
    assert.ok(good.ok && low.ok);
    assert.equal(strict(good.repo).verdict, 'fail');
    assert.match(strict(good.repo).reasons[0], /set by namespace prod's posture.dev\/min-score label/);
    assert.equal(lax(low.repo).verdict, 'pass');
    assert.equal(bad(low.repo).verdict, 'fail');
  });
  it('reads the repository where the gate reads it: the object, the pod template, a CronJob Job template', () => {
    assert.deepEqual(workloadOf(K('Deployment'), deployment('a', 'github.com/x/y'))?.declared, ['github.com/x/y']);
    assert.deepEqual(workloadOf(K('Deployment'), deployment('a', 'github.com/x/y', 'template'))?.declared, ['github.com/x/y']);
    const cron = { metadata: meta('c'), spec: { jobTemplate: { metadata: { annotations: { [ANN]: 'github.com/c/j' } }, spec: { template: {} } } } };
    assert.deepEqual(workloadOf(K('CronJob'), cron)?.declared, ['github.com/c/j']);
    assert.equal(workloadOf(K('Deployment'), deployment('a')), undefined);
  });
});

describe('the PolicyReport of a namespace', () => {
  const findings = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      judgeWorkload(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          namespace: 'team',
          name: `w${i}`,
          uid: `u${i}`,
          declared: [i % 2 ? 'github.com/low/repo' : 'github.com/good/repo'],
        },
        judge,
        ['github.com'],
      ),
    );
  it('a summary of every workload, results only for those not passing', () => {
    const r = policyReport('team', findings(4));
    assert.deepEqual(r.summary, { pass: 2, fail: 2, warn: 0, error: 0, skip: 0 });
    assert.deepEqual(
      r.results.map((x) => [x.result, x.resources[0].name, x.properties.score]),
      [
        ['fail', 'w1', '3.2'],
        ['fail', 'w3', '3.2'],
      ],
    );
    assert.equal(r.metadata.name, REPORT_NAME);
    assert.equal(r.apiVersion, 'wgpolicyk8s.io/v1alpha2');
  });
  it('bounded: at most maxResults results, the rest counted in an annotation and in the summary', () => {
    const r = policyReport('team', findings(1000), 10);
    assert.equal(r.results.length, 10);
    assert.equal(r.metadata.annotations?.[OMITTED_ANNOTATION], '490');
    assert.equal(r.summary.fail, 500);
    assert.ok(Buffer.byteLength(JSON.stringify(r)) < 10_000);
  });
  it('the same findings in another order give the same report (nothing to write)', () => {
    const f = findings(6);
    assert.equal(reportChanged(policyReport('team', f), policyReport('team', [...f].reverse())), false);
  });
  it("only what posture owns counts as a change (the API server's fields do not)", () => {
    const r = policyReport('team', findings(4));
    const stored = { ...structuredClone(r), metadata: { ...r.metadata, resourceVersion: '7', uid: 'x', managedFields: [] } } as PolicyReport;
    assert.equal(reportChanged(stored, r), false);
    assert.equal(reportChanged(stored, policyReport('team', findings(5))), true);
  });
  it('plan: create missing, replace changed (with the stored resourceVersion), delete where nothing is declared any more', () => {
    const a = policyReport('a', findings(2));
    const b = policyReport('b', findings(2));
    const bStored = { ...policyReport('b', findings(4)), metadata: { ...b.metadata, resourceVersion: '42' } };
    const gone = { ...policyReport('gone', findings(2)), metadata: { ...policyReport('gone', []).metadata, resourceVersion: '1' } };
    const plan = planReports(
      [bStored, gone],
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    assert.deepEqual(
      plan.map((p) =>
        p.action === 'delete' ? `delete ${p.namespace}` : `${p.action} ${p.report.metadata.namespace} ${p.report.metadata.resourceVersion ?? ''}`.trim(),
      ),
      ['create a', 'replace b 42', 'delete gone'],
    );
  });
});

/** An in-memory cluster: lists with pages, reports stored, every call counted. */
function fakeCluster(objects: Map<string, unknown[]>, namespaces: Record<string, Record<string, string>> = {}) {
  const reports = new Map<string, PolicyReport>();
  let calls = 0;
  const writes: ReportAction[] = [];
  const api: AuditApi = {
    async listWorkloads(kind, page) {
      calls++;
      const all = objects.get(kind.kind) ?? [];
      const start = Number(page.continue ?? 0);
      const next = start + page.limit;
      return { items: all.slice(start, next), continue: next < all.length ? String(next) : undefined };
    },
    async listNamespaces() {
      calls++;
      return Object.entries(namespaces).map(([name, labels]) => ({ name, labels }));
    },
    async listReports() {
      calls++;
      return [...reports.values()].map((r) => structuredClone(r));
    },
    async apply(a) {
      calls++;
      writes.push(a);
      if (a.action === 'delete') reports.delete(a.namespace);
      else reports.set(a.report.metadata.namespace, { ...structuredClone(a.report), metadata: { ...a.report.metadata, resourceVersion: String(calls) } });
    },
    calls: () => calls,
  };
  return { api, reports, writes };
}

describe('runAudit', () => {
  const objects = new Map<string, unknown[]>([
    ['Deployment', [deployment('low', 'github.com/low/repo'), deployment('good', 'github.com/good/repo', 'self', 'other'), deployment('none')]],
    ['ReplicaSet', [{ ...deployment('owned', 'github.com/low/repo'), metadata: meta('owned', 'team', { ownerReferences: [{ kind: 'Deployment' }] }) }]],
    ['Pod', Array.from({ length: 7 }, (_, i) => ({ metadata: meta(`p${i}`, 'pods', { annotations: { [ANN]: 'github.com/low/repo' } }) }))],
  ]);
  const opts = (api: AuditApi, write = true) => ({
    api,
    scores: async (keys: readonly string[]) => new Map([...scores].filter(([k]) => keys.includes(k))),
    judgeFor: (s: ReadonlyMap<string, LatestScore>) => minimumScoreJudge(s, 5),
    allowedHosts: ['github.com'],
    write,
    pageSize: 3,
  });
  it('pages through every kind, judges what declares a repository, one report per namespace; a second run writes nothing', async () => {
    const c = fakeCluster(objects);
    const first = await runAudit(opts(c.api));
    assert.equal(first.listed, 11);
    assert.equal(first.workloads, 9);
    assert.deepEqual(first.summary, { pass: 1, fail: 8, warn: 0, error: 0, skip: 0 });
    assert.deepEqual([...c.reports.keys()].sort(), ['other', 'pods', 'team']);
    assert.equal(c.writes.length, 3);
    const second = await runAudit(opts(c.api));
    assert.equal(c.writes.length, 3, 'nothing changed: nothing written');
    assert.deepEqual(second.reports, { ...second.reports, created: 0, replaced: 0, deleted: 0, unchanged: 3 });
    // A score change is written: the good repository drops.
    scores.set('github.com/good/repo', { score: 1, date: '2026-12-02T00:00:00Z' });
    try {
      const third = await runAudit(opts(c.api));
      assert.equal(third.reports.replaced, 1);
      assert.equal(c.reports.get('other')!.summary.fail, 1);
    } finally {
      scores.set('github.com/good/repo', { score: 8, date: '2026-12-01T00:00:00Z' });
    }
  });
  it('without write: plans, writes nothing', async () => {
    const c = fakeCluster(objects);
    const r = await runAudit(opts(c.api, false));
    assert.equal(r.actions.length, 3);
    assert.equal(c.writes.length, 0);
  });
});

it('a report write into a namespace gone or being deleted is skipped; any other refusal is not', () => {
  const cases: Array<[number, string, boolean]> = [
    [404, 'namespaces "gone" not found', true],
    [403, 'policyreports.wgpolicyk8s.io "posture-scorecard" is forbidden: unable to create new content in namespace t-1 because it is being terminated', true],
    [403, 'policyreports.wgpolicyk8s.io is forbidden: User "system:serviceaccount:posture:posture-auditor" cannot create resource', false],
    [409, 'already exists', false],
    [500, 'etcdserver: request timed out', false],
  ];
  for (const [status, message, want] of cases) assert.equal(namespaceClosed(status, message), want, `${status} ${message}`);
});
