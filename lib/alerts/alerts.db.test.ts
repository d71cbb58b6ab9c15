// The alerts service end to end over a real database (PGlite and PostgreSQL), a real webhook
// receiver that checks every signature, and the fake GitHub over HTTPS: at-least-once in,
// once out; failures retried, recorded and counted; one issue per repository across restarts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, test } from 'node:test';
import { Agent } from 'undici';
import { FakeGitHub } from '../../test/github/fake.ts';
import { defaultConfig } from '../config/index.ts';
import { alertStateOf, alertsOfRepo, failedDeliveries } from '../db/index.ts';
import { createPgliteDatabase, describeEachDatabase } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { registry } from '../metrics/index.ts';
import type { OpenAlert } from './decide.ts';
import { alertDepsOf } from './handler.ts';
import { ALERT_LABEL, RestIssueTracker } from './issues.ts';
import { issueMarker } from './message.ts';
import { startReceiver, type TestReceiver } from './receiver.ts';
import { handleAlert } from './service.ts';
import { checks, inputOf, policyChanged, scoreChanged } from './testing.ts';

const SECRET = 'whsec_test_secret_never_logged';
const TOKEN = 'ghp_alertsTokenThatMustNeverBeLogged000001';
const noSleep = async () => {};

async function counterValue(target: string, outcome: string): Promise<number> {
  const m = await registry.getSingleMetric('posture_alert_deliveries_total')?.get();
  return m?.values.find((v) => v.labels.target === target && v.labels.outcome === outcome)?.value ?? 0;
}

let rx: TestReceiver;
let fake: FakeGitHub;
let dispatcher: Agent;
before(async () => {
  rx = await startReceiver(SECRET);
  fake = await FakeGitHub.start();
  fake.addToken(TOKEN, { identity: 'posture-alerts-bot' });
  dispatcher = new Agent({ connect: { ca: readFileSync(fake.caFile) } });
});
after(async () => {
  await rx.close();
  await fake.close();
  await dispatcher.close();
});

// Run ids are unique across the fleet (the event id is `changed-run-<id>`): each event here gets its own.
let lastRun = 0;
const drop = (from: number, to: number, repo?: string) => {
  lastRun += 2;
  return scoreChanged(lastRun, { score: from, checks: checks(from) }, { score: to, checks: checks(to) }, repo);
};

describeEachDatabase('alerts: webhook', (ctx) => {
  const deps = (over: Record<string, unknown> = {}) =>
    alertDepsOf(
      {
        config: defaultConfig({
          alertsWebhookUrl: rx.url,
          alertsWebhookSecret: SECRET,
          publicUrl: 'https://posture.example.com',
          alertsRepoIntervalSeconds: 0,
          ...over,
        }),
        db: ctx.db,
        log: silentLogger,
      },
      { sleep: noSleep },
    );
  beforeEach(() => {
    rx.deliveries.length = 0;
    rx.alerts.clear();
    rx.failNext(0);
  });

  test('a drop is delivered once, signed, even when the event comes three times', async () => {
    const ev = drop(7, 5, 'github.com/acme/one');
    for (let i = 0; i < 3; i++) {
      const out = await handleAlert(deps(), inputOf(ev), ev.type);
      assert.equal(out.action, 'open');
      assert.equal(out.fresh, i === 0);
    }
    assert.equal(rx.deliveries.length, 1, 'one POST in all');
    assert.ok(rx.deliveries.every((d) => d.signatureOk));
    assert.deepEqual([...rx.alerts.keys()], [ev.id]);
    const body = rx.alerts.get(ev.id)!;
    assert.match(
      body.text,
      /^posture: github\.com\/acme\/one dropped: score fell 2\.0 \(7\.0 → 5\.0\) — https:\/\/posture\.example\.com\/ui\/projects\/github\.com\/acme\/one\/diff\?from=\d+&to=\d+$/,
    );
    assert.deepEqual(await alertStateOf<OpenAlert>(ctx.db, 'github.com/acme/one'), { baselineScore: 7, zeroChecks: [], failingRules: null, score: 5 });
  });

  test('a receiver that fails twice then answers gets the alert once', async () => {
    rx.failNext(2);
    const ev = drop(8, 6, 'github.com/acme/two');
    const out = await handleAlert(deps(), inputOf(ev), ev.type);
    assert.deepEqual(out.deliveries, [{ target: 'webhook', status: 'delivered', attempts: 3 }]);
    assert.deepEqual(
      rx.deliveries.map((d) => [d.status, d.signatureOk]),
      [
        [503, true],
        [503, true],
        [204, true],
      ],
    );
    assert.deepEqual([...rx.alerts.keys()], [ev.id]);
  });

  test('a delivery that fails after its retries is recorded, counted and retried by the redelivered event', async () => {
    const failedBefore = await counterValue('webhook', 'failed');
    rx.failNext(100);
    const ev = drop(9, 4, 'github.com/acme/three');
    const first = await handleAlert(deps({ alertsWebhookAttempts: 3 }), inputOf(ev), ev.type);
    assert.deepEqual(first.deliveries, [{ target: 'webhook', status: 'failed', attempts: 3, error: 'receiver answered 503' }]);
    assert.equal(await counterValue('webhook', 'failed'), failedBefore + 1);
    const failed = (await failedDeliveries(ctx.db)).filter((d) => d.eventId === ev.id);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].lastError, 'receiver answered 503');
    assert.equal(failed[0].attempts, 3);
    assert.doesNotMatch(JSON.stringify(failed), /chat-secret|whsec_/, 'neither the URL’s token nor the secret is stored');

    rx.failNext(0);
    const again = await handleAlert(deps(), inputOf(ev), ev.type);
    assert.equal(again.fresh, false);
    assert.deepEqual(again.deliveries, [{ target: 'webhook', status: 'delivered', attempts: 1 }]);
    assert.deepEqual([...rx.alerts.keys()], [ev.id]);
    assert.deepEqual(
      (await failedDeliveries(ctx.db)).filter((d) => d.eventId === ev.id),
      [],
      'no longer failed',
    );
    const [a] = await alertsOfRepo(ctx.db, 'github.com/acme/three');
    assert.equal(a.deliveries[0].status, 'delivered');
    assert.equal(a.deliveries[0].attempts, 4);
  });

  test('an update within the per-repository interval is recorded as suppressed, not sent; open and close always go', async () => {
    const d = deps({ alertsRepoIntervalSeconds: 3600 });
    const repo = 'github.com/acme/four';
    await handleAlert(d, inputOf(drop(8, 7, repo)), 'dev.posture.score.changed');
    const upd = await handleAlert(d, inputOf(drop(7, 6, repo)), 'dev.posture.score.changed');
    assert.equal(upd.action, 'update');
    assert.deepEqual(upd.deliveries, []);
    const close = await handleAlert(d, inputOf(drop(6, 8, repo)), 'dev.posture.score.changed');
    assert.equal(close.action, 'close');
    assert.equal(close.deliveries[0].status, 'delivered');
    assert.equal(rx.deliveries.length, 2);
    const statuses = (await alertsOfRepo(ctx.db, repo)).map((a) => [a.action, a.deliveries.map((x) => x.status)]);
    assert.deepEqual(statuses, [
      ['close', ['delivered']],
      ['update', ['suppressed']],
      ['open', ['delivered']],
    ]);
  });

  test('a policy turning fail opens, passing closes', async () => {
    const repo = 'github.com/acme/five';
    const a = await handleAlert(
      deps(),
      inputOf(policyChanged('pol-1', { repo, from: 'pass', to: 'fail', rules: ['min-score'] })),
      'dev.posture.policy.changed',
    );
    const b = await handleAlert(deps(), inputOf(policyChanged('pol-2', { repo, from: 'fail', to: 'pass', rules: [] })), 'dev.posture.policy.changed');
    assert.deepEqual([a.action, b.action], ['open', 'close']);
    assert.deepEqual(
      rx.deliveries.map((d) => d.body?.action),
      ['open', 'close'],
    );
    assert.equal(await alertStateOf(ctx.db, repo), null);
  });
});

describeEachDatabase('alerts: GitHub issues against the fake GitHub', (ctx) => {
  const depsOf = (db: typeof ctx.db, mode: string) =>
    alertDepsOf(
      {
        config: defaultConfig({
          alertsGithubIssues: mode,
          alertsGithubToken: TOKEN,
          alertsGithubApiUrl: fake.restBase,
          publicUrl: 'https://posture.example.com',
          alertsRepoIntervalSeconds: 0,
        }),
        db,
        log: silentLogger,
      },
      { dispatcher, sleep: noSleep },
    );

  test('repository mode: one issue for a drop delivered three times across restarts; a further drop comments; a recovery closes it', async () => {
    fake.addRepo({ owner: 'acme', name: `widget-${ctx.kind}` });
    const repo = `github.com/acme/widget-${ctx.kind}`;
    const full = `acme/widget-${ctx.kind}`;
    const ev = drop(7.5, 5, repo);
    // Three deliveries, each by a new process (new service, tracker and limiter); the second
    // one's database is a fresh one (its state lost, or another replica that did not see the
    // first): the label and marker still find the issue.
    await handleAlert(depsOf(ctx.db, 'repository'), inputOf(ev), ev.type);
    const other = await createPgliteDatabase();
    try {
      const { migrate } = await import('../db/index.ts');
      await migrate(other.db);
      const lost = await handleAlert(depsOf(other.db, 'repository'), inputOf(ev), ev.type);
      assert.equal(lost.deliveries[0].status, 'delivered');
    } finally {
      await other.drop();
    }
    await handleAlert(depsOf(ctx.db, 'repository'), inputOf(ev), ev.type);
    let issues = fake.issuesOf(full);
    assert.equal(issues.length, 1, 'exactly one issue');
    const [issue] = issues;
    assert.equal(issue.state, 'open');
    assert.deepEqual(issue.labels, [ALERT_LABEL]);
    assert.equal(issue.author, 'posture-alerts-bot');
    assert.ok(issue.body.includes(issueMarker(repo)));
    assert.match(issue.body, /\| \[Code-Review\]\(https:\/\/github\.com\/ossf\/scorecard\/blob\/main\/docs\/checks\.md#code-review\) \| 7\.5 \| 5 \|/);
    assert.match(issue.body, /https:\/\/posture\.example\.com\/ui\/projects\/github\.com\/acme\/widget-\w+\/diff\?from=\d+&to=\d+/);
    assert.deepEqual(issue.comments, [], 'the redeliveries added nothing');

    // A further drop comments (twice delivered: one comment).
    const further = drop(5, 3, repo);
    await handleAlert(depsOf(ctx.db, 'repository'), inputOf(further), further.type);
    await handleAlert(depsOf(ctx.db, 'repository'), inputOf(further), further.type);
    issues = fake.issuesOf(full);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].comments.length, 1);
    assert.match(issues[0].comments[0].body, /score fell 2\.0 \(5\.0 → 3\.0\)/);

    // The recovery closes it, with a comment saying so.
    const back = drop(3, 8, repo);
    const out = await handleAlert(depsOf(ctx.db, 'repository'), inputOf(back), back.type);
    assert.equal(out.action, 'close');
    issues = fake.issuesOf(full);
    assert.equal(issues[0].state, 'closed');
    assert.equal(issues[0].comments.length, 2);
    assert.match(issues[0].comments[1].body, /score recovered to 8\.0/);

    // A new drop later opens a new issue (the old one is closed).
    const again = drop(8, 6, repo);
    await handleAlert(depsOf(ctx.db, 'repository'), inputOf(again), again.type);
    assert.deepEqual(
      fake.issuesOf(full).map((i) => i.state),
      ['closed', 'open'],
    );
    assert.ok(fake.requests.every((r) => !r.path.includes(TOKEN)));
  });

  test('OWNER/NAME mode: one issue per scored repository in the tracker', async () => {
    const tracker = `security-${ctx.kind}`;
    fake.addRepo({ owner: 'acme', name: tracker });
    const deps = depsOf(ctx.db, `acme/${tracker}`);
    const repos = ['github.com/acme/a', 'github.com/other/b', 'github.com/acme/c'].map((r) => `${r}-${ctx.kind}`);
    for (const repo of repos) {
      const ev = drop(9, 6, repo);
      await handleAlert(deps, inputOf(ev), ev.type);
      await handleAlert(deps, inputOf(ev), ev.type);
    }
    const more = drop(6, 4, repos[0]);
    await handleAlert(deps, inputOf(more), more.type);
    const issues = fake.issuesOf(`acme/${tracker}`);
    assert.equal(issues.length, 3);
    assert.deepEqual(
      issues.map((i) => repos.findIndex((r) => i.body.includes(issueMarker(r)))),
      [0, 1, 2],
    );
    assert.deepEqual(
      issues.map((i) => i.comments.length),
      [1, 0, 0],
    );
    assert.match(issues[1].title, /other\/b/);
  });

  test('GitHub failing (5xx) is retried; refusing (no token) is recorded as failed, not retried', async () => {
    fake.addRepo({ owner: 'acme', name: `flaky-${ctx.kind}` });
    const repo = `github.com/acme/flaky-${ctx.kind}`;
    const fault = fake.fault({ kind: 'server-error', repo: `acme/flaky-${ctx.kind}`, times: 2 });
    const ev = drop(7, 5, repo);
    const out = await handleAlert(depsOf(ctx.db, 'repository'), inputOf(ev), ev.type);
    assert.equal(out.deliveries[0].status, 'delivered');
    assert.equal(fault.hits, 2);
    assert.equal(fake.issuesOf(`acme/flaky-${ctx.kind}`).length, 1);

    fake.addRepo({ owner: 'acme', name: `locked-${ctx.kind}` });
    const noToken = alertDepsOf(
      {
        config: defaultConfig({ alertsGithubIssues: 'repository', alertsGithubApiUrl: fake.restBase, alertsRepoIntervalSeconds: 0 }),
        db: ctx.db,
        log: silentLogger,
      },
      { dispatcher, sleep: noSleep },
    );
    const ev2 = drop(7, 5, `github.com/acme/locked-${ctx.kind}`);
    const refused = await handleAlert(noToken, inputOf(ev2), ev2.type);
    assert.equal(refused.deliveries[0].status, 'failed');
    assert.equal(refused.deliveries[0].attempts, 1);
    assert.match(refused.deliveries[0].error ?? '', /GitHub answered 401 to POST \/api\/v3\/repos\/acme\/locked-\w+\/issues: Requires authentication/);
  });
});

// The tracker alone, as its interface promises (used by the service above).
test('RestIssueTracker follows Link pagination to find an issue on a later page', async () => {
  fake.addRepo({ owner: 'acme', name: 'busy' });
  const t = new RestIssueTracker({ apiUrl: fake.restBase, token: TOKEN, dispatcher });
  const home = { owner: 'acme', name: 'busy' };
  const first = await t.open(home, { title: 'first', body: `x\n${issueMarker('github.com/acme/busy')}`, labels: [ALERT_LABEL] });
  for (let i = 0; i < 120; i++) await t.open(home, { title: `other ${i}`, body: 'y', labels: [ALERT_LABEL] });
  assert.deepEqual(await t.findOpen(home, ALERT_LABEL, issueMarker('github.com/acme/busy')), first);
  assert.equal(await t.findOpen(home, 'another-label', issueMarker('github.com/acme/busy')), undefined);
});
