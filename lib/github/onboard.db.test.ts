// Onboarding an organisation against the fake GitHub, on both databases: discovery over several
// pages (archived repositories and forks left out by default; a second run costs no quota), a
// source the scheduler rediscovers after a repository was added and others archived or deleted
// (retired: kept with their history, never scheduled), the GitHub App's flow end to end with no
// token or key in the logs or the database, and a claim that follows the fake's /rate_limit.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { FakeGitHub } from '../../test/github/fake.ts';
import { WEBHOOKS_DIR } from '../../test/shipped-webhooks.ts';
import { runCli } from '../cli/main.ts';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, claimDueRepos, type Db, getRepo } from '../db/index.ts';
import { listSources } from '../db/sources.ts';
import { describeEachDatabase, everyRowAsText, resetScheduling, storeRecorded } from '../db/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { createLogger } from '../log/index.ts';
import { registry } from '../metrics/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { createSchedulerHandle, type SchedulerDeps } from '../scheduler/handler.ts';
import { createGitHubApi } from './client.ts';
import { sourceRediscovery } from './sources.ts';

const ORG = 'acme-co';
const TOKEN = 'ghp_onboardingTokenValue00000000000000042';
const REPOS = 230; // three pages of 100
const T0 = new Date('2030-01-01T00:00:00Z');
const dir = mkdtempSync(join(tmpdir(), 'posture-onboard-'));
const repo = (n: string) => (parseRepo(n) as { ok: true; repo: RepoId }).repo;
const name = (i: number) => `r${String(i).padStart(3, '0')}`;
const archivedAt = (i: number) => i % 40 === 7;
const forkAt = (i: number) => i % 45 === 3;
const SELECTED = Array.from({ length: REPOS }, (_, i) => i).filter((i) => !archivedAt(i) && !forkAt(i)).length;

let fake: FakeGitHub;
let keyFile: string;
let keyPem: string;

before(async () => {
  fake = await FakeGitHub.start();
  fake.addToken(TOKEN, { identity: 'onboarder' });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fake.addApp({ appId: '31337', publicKey, installations: { '808': {} } });
  keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  keyFile = join(dir, 'app-key.pem');
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
});
after(() => fake.close());

/** Makes the organisation afresh (each database's suite starts from the same one). */
function resetOrg(): void {
  for (const k of [...fake.repos.keys()]) if (k.startsWith(`${ORG}/`)) fake.repos.delete(k);
  for (let i = 0; i < REPOS; i++) fake.addRepo({ owner: ORG, name: name(i), archived: archivedAt(i), fork: forkAt(i) });
}

function configOf(more: Partial<Config> = {}): Config {
  return defaultConfig({
    githubApiUrl: fake.restBase,
    githubCaFile: fake.caFile,
    githubToken: TOKEN,
    githubTokenCount: 1,
    jitterSeconds: 0,
    maxConcurrentJobs: 100,
    ...more,
  });
}

async function cli(db: Db, config: Config, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c) => chunks.out.push(c));
  err.on('data', (c) => chunks.err.push(c));
  const code = await runCli(argv, {
    stdin: Readable.from(['']),
    stdout: out,
    stderr: err,
    env: {},
    interactive: false,
    webhooksDir: WEBHOOKS_DIR,
    database: { config, db },
  });
  return { code, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() };
}

/** A logger at trace level whose lines are kept. */
function capturedLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'trace', name: 'test', destination: sink }), lines };
}

async function tick(db: Db, deps: Partial<SchedulerDeps> & { config: Config }, at: Date) {
  const cluster = new FakeCluster();
  const handle = createSchedulerHandle(
    async () => ({ db, cluster, log: createLogger({ level: 'silent' }), retryBaseMs: 0, ...deps }) as SchedulerDeps,
    () => at,
  );
  const ping = new CloudEvent({ type: 'dev.knative.sources.ping', source: '/test', time: at.toISOString(), data: {} });
  const reply = (await handle({ log: createLogger({ level: 'silent' }), method: 'POST', path: '/', headers: {}, query: {}, cloudevent: ping } as never)) as {
    statusCode: number;
    body: any;
  };
  return { reply, cluster };
}

const metric = async (name: string, labels: Record<string, string>) =>
  ((await registry.getSingleMetric(name)?.get())?.values ?? []).find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;

describeEachDatabase('onboarding an organisation', (ctx) => {
  test('discovery: several pages, archived repositories and forks left out, a dry run changes nothing, a second run costs no quota (304s)', async () => {
    await resetScheduling(ctx.db);
    await ctx.db('github_pages').delete();
    resetOrg();
    const config = configOf();
    const dry = await cli(ctx.db, config, ['repos', 'discover', '--org', ORG, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^${ORG}: ${SELECTED} repositories selected \\(left out: 6 archived, 6 forks\\); 3 pages fetched, 0 unchanged`));
    assert.match(dry.stdout, /would add github\.com\/acme-co\/r000\n/);
    assert.match(dry.stdout, new RegExp(`dry run: ${SELECTED} would be added`));
    assert.equal(Number((await ctx.db('repos').count('* as n'))[0].n), 0);

    const spent = fake.remaining('onboarder');
    const first = await cli(ctx.db, config, ['repos', 'discover', '--org', ORG]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /3 unchanged \(304, no quota spent\)/, 'the dry run kept the pages: this run is all 304s');
    assert.match(first.stdout, new RegExp(`added ${SELECTED}, already present 0\\n$`));
    assert.equal(fake.remaining('onboarder'), spent, 'no quota spent');
    assert.ok(await getRepo(ctx.db, 'github.com/acme-co/r000'));
    assert.equal(await getRepo(ctx.db, `github.com/acme-co/${name(7)}`), undefined, 'archived: left out');
    assert.equal(await getRepo(ctx.db, `github.com/acme-co/${name(3)}`), undefined, 'fork: left out');

    const again = await cli(ctx.db, config, ['repos', 'discover', '--org', ORG]);
    assert.match(again.stdout, /0 pages fetched, 3 unchanged/);
    assert.match(again.stdout, /added 0, already present/);
    assert.equal(fake.remaining('onboarder'), spent);
    const pages = fake.requests.filter((r) => r.path.startsWith(`/orgs/${ORG}/repos`)).slice(-9);
    assert.deepEqual(
      pages.map((r) => r.status),
      [200, 200, 200, 304, 304, 304, 304, 304, 304],
    );

    const all = await cli(ctx.db, config, ['repos', 'discover', '--org', ORG, '--include-archived', '--include-forks']);
    assert.match(all.stdout, /added 12, already present/);
    const bad = await cli(ctx.db, config, ['repos', 'discover', '--org', 'no-such-org']);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /^posture: discovering no-such-org: GitHub answered 404: Not Found\n$/);
    assert.equal((await cli(ctx.db, config, ['repos', 'discover', '--org', '-bad'])).code, 1);
  });

  test('a source rediscovered by the tick: a new repository added, an archived and a deleted one retired with their history and never scheduled, each change logged and counted', async () => {
    await resetScheduling(ctx.db);
    await ctx.db('sources').delete();
    resetOrg();
    const config = configOf({ sourcesIntervalSeconds: 3600 });
    const added = await cli(ctx.db, config, ['sources', 'add', ORG]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added source github\.com\/acme-co \(no archived, no forks\); rediscovered every 3600 s\n/);
    assert.match(added.stdout, new RegExp(`added ${SELECTED}, retired 0, restored 0\\n$`));
    // r010 has a history (a result, as a harvest stores it).
    const scored = await storeRecorded(ctx.db, {
      repoKey: 'github.com/acme-co/r010',
      jobName: 'sc-r010',
      jobUid: 'uid-r010',
      checkSet: null,
      outcome: {
        ok: true,
        flagged: false,
        result: {
          repo: 'github.com/acme-co/r010',
          commit: 'c0',
          date: '2029-12-31T00:00:00Z',
          scorecardVersion: 'v5.5.0',
          scorecardCommit: 'x',
          score: 6,
          checks: [{ name: 'License', score: 10, reason: 'ok', details: null, documentation: null }],
          raw: {} as never,
        },
      },
      schedule: { rescoreIntervalSeconds: 604800, jitterSeconds: 0, failureBackoffBaseSeconds: 3600, failureBackoffMaxSeconds: 86400, random: 0 },
    });
    assert.equal(scored.status, 'stored');

    // The organisation changes: one new repository, r010 archived, r011 deleted.
    fake.addRepo({ owner: ORG, name: 'brand-new' });
    fake.repos.get(`${ORG}/r010`)!.archived = true;
    fake.repos.delete(`${ORG}/r011`);
    const before = {
      added: await metric('posture_discovery_changes_total', { change: 'added' }),
      retired: await metric('posture_discovery_changes_total', { change: 'retired' }),
    };
    const { log, lines } = capturedLogger();
    const sources = sourceRediscovery({ db: ctx.db, config, log, api: () => createGitHubApi(config) });
    // Not due yet: the tick leaves it.
    const early = await tick(ctx.db, { config, sources }, new Date(Date.now() + 60_000));
    assert.equal(early.reply.statusCode, 200, JSON.stringify(early.reply.body));
    assert.equal(early.reply.body.sources, undefined);
    const later = new Date(Date.now() + 3700_000);
    const { reply } = await tick(ctx.db, { config, sources }, later);
    assert.equal(reply.statusCode, 200, JSON.stringify(reply.body));
    assert.deepEqual(
      { sources: reply.body.sources.sources, added: reply.body.sources.added, retired: reply.body.sources.retired, errors: reply.body.sources.errors },
      { sources: 1, added: 1, retired: 2, errors: [] },
    );
    assert.ok(await getRepo(ctx.db, 'github.com/acme-co/brand-new'));
    const r010 = await getRepo(ctx.db, 'github.com/acme-co/r010');
    const r011 = await getRepo(ctx.db, 'github.com/acme-co/r011');
    assert.equal((r010 as any).retired_reason, 'archived');
    assert.equal((r011 as any).retired_reason, 'gone from its source');
    assert.equal(Number((await ctx.db('scores').where({ repo_id: r010!.id }).count('* as n'))[0].n), 1, 'kept with its history');
    // Never scheduled: not even when something sets it due (a late harvest's schedule).
    await ctx.db('repos').update({ next_due_at: new Date('2000-01-01T00:00:00Z') });
    const claims = await claimDueRepos(ctx.db, { owner: 'test', limit: 10_000, leaseSeconds: 7200, now: later });
    assert.ok(!claims.some((c) => c.key === r010!.key || c.key === r011!.key));
    assert.equal(claims.length, SELECTED + 1 - 2, 'every other repository (brand-new included) is claimable');
    const retiredList = await cli(ctx.db, config, ['repos', 'list', '--state', 'retired', '-o', 'json']);
    assert.deepEqual(
      JSON.parse(retiredList.stdout).map((r: { repo: string; state: string; retiredReason: string; nextDueAt: string | null }) => [
        r.repo,
        r.state,
        r.retiredReason,
        r.nextDueAt,
      ]),
      [
        ['github.com/acme-co/r010', 'retired', 'archived', null],
        ['github.com/acme-co/r011', 'retired', 'gone from its source', null],
      ],
    );
    // Each change logged, and counted.
    const changes = lines.map((l) => JSON.parse(l)).filter((l) => l.change);
    assert.deepEqual(changes.map((l) => [l.change, l.repo]).sort(), [
      ['added', 'github.com/acme-co/brand-new'],
      ['retired', 'github.com/acme-co/r010'],
      ['retired', 'github.com/acme-co/r011'],
    ]);
    assert.equal((await metric('posture_discovery_changes_total', { change: 'added' })) - before.added, 1);
    assert.equal((await metric('posture_discovery_changes_total', { change: 'retired' })) - before.retired, 2);

    // The list says so; r010 unarchived comes back; removing the source keeps its repositories.
    const listed = await cli(ctx.db, config, ['sources', 'list', '-o', 'json']);
    const [row] = JSON.parse(listed.stdout);
    assert.equal(row.source, 'github.com/acme-co');
    assert.equal(row.repos, SELECTED + 1);
    assert.equal(row.retired, 2);
    fake.repos.get(`${ORG}/r010`)!.archived = false;
    const back = await sources.rediscover(new Date(later.getTime() + 3700_000));
    assert.equal(back.restored, 1);
    assert.equal(((await getRepo(ctx.db, 'github.com/acme-co/r010')) as any).retired_at, null);
    const removed = await cli(ctx.db, config, ['sources', 'remove', ORG]);
    assert.match(removed.stdout, /^removed source github\.com\/acme-co; its repositories stay/);
    assert.deepEqual(await listSources(ctx.db), []);
    assert.ok(await getRepo(ctx.db, 'github.com/acme-co/brand-new'));
    assert.equal((await cli(ctx.db, config, ['sources', 'remove', ORG])).code, 2);
  });

  test('a GitHub App end to end: discovery and the budget through installation tokens; no token, JWT or key in the logs or the database', async () => {
    await resetScheduling(ctx.db);
    await ctx.db('sources').delete();
    await ctx.db('github_pages').delete();
    resetOrg();
    const issuedBefore = fake.installationTokens.length;
    const config = configOf({ githubToken: undefined, githubAppId: '31337', githubAppInstallationId: '808', githubAppKeyFile: keyFile });
    const { log, lines } = capturedLogger();
    const out = await cli(ctx.db, config, ['sources', 'add', ORG, '--include-forks']);
    assert.equal(out.code, 0, out.stderr);
    fake.addRepo({ owner: ORG, name: 'app-era' });
    const api = createGitHubApi(config, { warn: (m) => log.warn({ github: m }, 'GitHub client') });
    const { reply } = await tick(
      ctx.db,
      { config, log, sources: sourceRediscovery({ db: ctx.db, config, log, api: () => api }), readRateLimits: () => api.rateLimits() },
      new Date(Date.now() + 2 * 86_400_000),
    );
    assert.equal(reply.statusCode, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.sources.added, 1);
    assert.ok(reply.body.github.remaining > 4900, 'the installation’s quota, read before the tick');
    const issued = fake.installationTokens.slice(issuedBefore);
    assert.ok(issued.length >= 2, 'the command line and the tick each exchanged a JWT');
    assert.ok(fake.requests.some((r) => r.token === 'app 31337 installation 808' && r.path.startsWith(`/orgs/${ORG}/repos`)));
    // Search everything posture wrote: the log lines, the command's output, every row of every table.
    const written = [lines.join('\n'), out.stdout, out.stderr, JSON.stringify(reply.body), await everyRowAsText(ctx.db)].join('\n');
    assert.ok(written.includes('app-era'), 'the search reaches what was written');
    for (const t of issued) assert.ok(!written.includes(t.token), 'an installation token was written');
    assert.ok(!written.includes(TOKEN));
    const keyBody = keyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
    for (const l of keyBody) assert.ok(!written.includes(l), 'a line of the App key was written');
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(written), 'a JWT was written');
    assert.ok(!readFileSync(keyFile, 'utf8').includes('ghs_'), 'nothing was written into the key file');
  });

  test("the claim follows the fake's /rate_limit: a small remaining quota limits it, and it is free to ask", async () => {
    await resetScheduling(ctx.db);
    const config = configOf({ githubBudgetReserve: 500, callsPerRun: 70, githubCallsPerHour: 5000, claimBatch: 100 });
    const identity = `budget-bot-${ctx.kind}`;
    const token = `ghp_budgetTokenValue00000000000000000${ctx.kind}`;
    fake.addToken(token, { identity });
    await addRepos(
      ctx.db,
      Array.from({ length: 20 }, (_, i) => ({ repo: repo(`budget/r${i}`) })),
    );
    await ctx.db('repos').update({ next_due_at: new Date('2000-01-01T00:00:00Z') });
    // A busy hour: 640 calls left, 500 of them the reserve: two runs' worth.
    fake.spend(identity, 5000 - 640);
    const api = createGitHubApi({ ...config, githubToken: token });
    const { reply, cluster } = await tick(ctx.db, { config, readRateLimits: () => api.rateLimits() }, T0);
    assert.equal(reply.statusCode, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.github, { remaining: 640, runs: 2 });
    assert.equal(reply.body.claimed, 2, 'two repositories: the fixed estimate alone would allow 71 an hour');
    assert.equal(cluster.jobs.size, 1, 'one Job (a shard of the two)');
    assert.equal(fake.remaining(identity), 640, 'reading /rate_limit cost nothing');
    // Nothing left over the reserve: nothing claimed, and the summary says why.
    fake.spend(identity, 200);
    await ctx.db('scheduler_state').update({ not_before: null });
    const spent = await tick(ctx.db, { config, readRateLimits: () => api.rateLimits() }, new Date(T0.getTime() + 60_000));
    assert.equal(spent.reply.body.claimed, 0);
    assert.ok(spent.reply.body.skipped.some((s: { why: string }) => /GitHub's remaining quota \(440 calls\) pays for no repository/.test(s.why)));
    // GitHub not answering: the tick goes on with its own estimate.
    await ctx.db('scheduler_state').update({ not_before: null });
    const down = await tick(
      ctx.db,
      { config: { ...config, maxConcurrentJobs: 3 }, readRateLimits: () => Promise.reject(new Error('connect ECONNREFUSED')) },
      new Date(T0.getTime() + 120_000),
    );
    assert.equal(down.reply.body.claimed, 18, 'every other due repository (3 Jobs of up to 10)');
    assert.equal(down.reply.body.github, undefined);
  });
});
