// `posture results import` on both databases, with real Scorecard outputs: the CLI's v5.x JSON
// (--repo) and NDJSON (--repos, v5.4.0 and v5.5.0), a pretty-printed result; refusals, one line
// each; idempotence; imported results never runs; history by the results' own dates; and the
// same change detection as a harvested result (score.changed to the sink).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { fixturePath } from '../../test/fixtures/scorecard.ts';
import { WEBHOOKS_DIR } from '../../test/shipped-webhooks.ts';
import { runCli } from '../cli/main.ts';
import { type Config, defaultConfig } from '../config/index.ts';
import { importedResultCount } from '../db/imports.ts';
import { addRepos, type Db, getRepo, latestScore, scoreHistory } from '../db/index.ts';
import { describeEachDatabase, resetScheduling, storeRecorded } from '../db/testing.ts';
import { repoOrThrow } from '../repo/identity.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-import-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const resultLines = (log: string) =>
  readFileSync(fixturePath(log), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"date"'));

// Real outputs: the CLI's --format=json for one repository, and --repos' NDJSON (both versions).
const CLI_JSON = write('healthy.json', `${resultLines('real-v5.5.0-fake-github-healthy.pod-log.txt')[0]}\n`);
const NDJSON_554 = write('shard-v5.4.0.ndjson', `${resultLines('real-v5.4.0-fake-github-shard-healthy.pod-log.txt').join('\n')}\n`);
const NDJSON_555 = write('shard-v5.5.0.ndjson', `${resultLines('real-v5.5.0-fake-github-shard-healthy.pod-log.txt').join('\n')}\n`);
const PRETTY_OLD = fixturePath('p08-v5-cli-show-details-pretty.json'); // github.com/ossf/scorecard, 2024-05-25, 9.6
const PRETTY_NEW = fixturePath('p06-v5.3.0-rest-api-shape.json'); // the same repository, 2025-11-15, 9.7
const SARIF = write(
  'results.sarif',
  JSON.stringify({
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'Scorecard' } }, results: [] }],
  }),
);
const OTHER_JSON = write('package.json', '{"name":"x","version":"1.0.0"}\n');
const TEXT = write('notes.txt', 'these are not results\n');
const EMPTY = write('empty.json', '\n\n');

let sink: ReturnType<typeof createServer>;
let sinkUrl: string;
const events: Array<{ headers: Record<string, unknown>; body: any }> = [];

before(async () => {
  sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      events.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
});
after(() => new Promise<void>((r) => sink.close(() => r())));

async function cli(db: Db, config: Config, argv: string[], env: Record<string, string> = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c) => chunks.out.push(c));
  err.on('data', (c) => chunks.err.push(c));
  const code = await runCli(argv, {
    stdin: Readable.from(['']),
    stdout: out,
    stderr: err,
    env,
    interactive: false,
    webhooksDir: WEBHOOKS_DIR,
    database: { config, db },
  });
  return { code, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() };
}

const count = async (db: Db, table: string) => Number((await db(table).count('* as n'))[0].n);

describeEachDatabase('results import', (ctx) => {
  const config = defaultConfig({ scoreChangeThreshold: 0.5 });

  test('real v5.x JSON and NDJSON are imported as imported results: repositories added, no run, and the same files again store nothing', async () => {
    await resetScheduling(ctx.db);
    const first = await cli(ctx.db, config, ['results', 'import', CLI_JSON, NDJSON_554, PRETTY_OLD]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stdout,
      [
        `${CLI_JSON}: 1 result: 1 imported, 0 already there; 1 repository added`,
        `${NDJSON_554}: 3 results: 3 imported, 0 already there; 2 repositories added`,
        `${PRETTY_OLD}: 1 result: 1 imported, 0 already there; 1 repository added`,
        '',
      ].join('\n'),
    );
    assert.equal(await count(ctx.db, 'runs'), 0, 'an imported result is never a run');
    assert.equal(await count(ctx.db, 'scores'), 5);
    assert.equal(await importedResultCount(ctx.db, 'github.com/posture-e2e/healthy'), 2);
    const healthy = await latestScore(ctx.db, 'github.com/posture-e2e/healthy');
    // The latest by the results' own dates, not by the order they were imported: the shard ran last.
    assert.equal(healthy?.date, '2026-12-07T22:34:13.000Z');
    assert.equal(healthy?.scorecardVersion, 'v5.4.0');
    assert.equal(healthy?.checks.length, JSON.parse(resultLines('real-v5.4.0-fake-github-shard-healthy.pod-log.txt')[0]).checks.length);
    // Repositories added by an import are first due a rescore interval after their result.
    const added = await getRepo(ctx.db, 'github.com/ossf/scorecard');
    assert.ok(added && new Date(added.next_due_at).getTime() >= Date.now() - 1000, 'a 2024 result is long past: due now');

    const again = await cli(ctx.db, config, ['results', 'import', CLI_JSON, NDJSON_554, PRETTY_OLD, NDJSON_555]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`${CLI_JSON}: 1 result: 0 imported, 1 already there\\n`));
    assert.match(again.stdout, /shard-v5\.4\.0\.ndjson: 3 results: 0 imported, 3 already there\n/);
    assert.match(again.stdout, /shard-v5\.5\.0\.ndjson: 3 results: 3 imported, 0 already there\n/, 'other runs: other results');
    assert.equal(await count(ctx.db, 'scores'), 8);
    const third = await cli(ctx.db, config, ['results', 'import', NDJSON_555]);
    assert.match(third.stdout, /0 imported, 3 already there/);
    assert.equal(await count(ctx.db, 'scores'), 8, 'idempotent');
  });

  test('files that are not Scorecard results are refused with one line each; the others are imported', async () => {
    await resetScheduling(ctx.db);
    const missing = join(dir, 'missing.json');
    const r = await cli(ctx.db, config, ['results', 'import', SARIF, OTHER_JSON, CLI_JSON, TEXT, EMPTY, missing]);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 5, r.stderr);
    assert.match(lines[0], /^posture: .*results\.sarif: not a Scorecard result: a SARIF file .*; nothing imported from it$/);
    assert.match(lines[1], /^posture: .*package\.json: not a Scorecard result: JSON without .*\(its keys: name, version\); nothing imported from it$/);
    assert.match(lines[2], /^posture: .*notes\.txt: not a Scorecard result: not JSON; nothing imported from it$/);
    assert.match(lines[3], /^posture: .*empty\.json: empty: not a Scorecard result; nothing imported from it$/);
    assert.match(lines[4], /^posture: cannot read .*missing\.json.*: no such file$/);
    assert.match(r.stdout, /healthy\.json: 1 result: 1 imported/);
    assert.equal(r.code, 2);
    assert.equal(await count(ctx.db, 'scores'), 1);
    // A bad line among results: that line is named, the rest imported.
    const mixed = write(
      'mixed.ndjson',
      `${resultLines('real-v5.4.0-fake-github-shard-healthy.pod-log.txt')[1]}\n{"date":"x","repo":{},"scorecard":{},"score":1,"checks":[]}\nnot json\n`,
    );
    const m = await cli(ctx.db, config, ['results', 'import', mixed]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /mixed\.ndjson:2: an invalid Scorecard result/);
    assert.match(m.stderr, /mixed\.ndjson:3: not a Scorecard result: not JSON/);
    assert.match(m.stdout, /1 result: 1 imported, 0 already there; 1 repository added, 2 rejected/);
  });

  test("history follows the results' dates: an older result imported later sorts before the newer, and never becomes latest over a harvested one", async () => {
    await resetScheduling(ctx.db);
    await cli(ctx.db, config, ['results', 'import', PRETTY_NEW]);
    await cli(ctx.db, config, ['results', 'import', PRETTY_OLD]);
    const history = await scoreHistory(ctx.db, 'github.com/ossf/scorecard');
    assert.deepEqual(
      history.map((h) => [h.date.slice(0, 10), h.score]),
      [
        ['2025-11-15', 9.7],
        ['2024-05-25', 9.6],
      ],
    );
    assert.equal((await latestScore(ctx.db, 'github.com/ossf/scorecard'))?.score, 9.7);
    // posture scores it now (a harvest); an import of an old result after that leaves the harvested one latest.
    await resetScheduling(ctx.db);
    await addRepos(ctx.db, [{ repo: repoOrThrow('github.com/posture-e2e/healthy') }]);
    const doc = JSON.parse(readFileSync(CLI_JSON, 'utf8'));
    const stored = await storeRecorded(ctx.db, {
      repoKey: 'github.com/posture-e2e/healthy',
      jobName: 'sc-healthy',
      jobUid: 'u1',
      checkSet: null,
      outcome: {
        ok: true,
        flagged: false,
        result: {
          repo: doc.repo.name,
          commit: 'new',
          date: new Date().toISOString(),
          scorecardVersion: 'v5.5.0',
          scorecardCommit: 'x',
          score: 3,
          checks: [{ name: 'License', score: 0, reason: 'none', details: null, documentation: null }],
          raw: doc,
        },
      },
      schedule: { rescoreIntervalSeconds: 604800, jitterSeconds: 0, failureBackoffBaseSeconds: 3600, failureBackoffMaxSeconds: 86400, random: 0 },
    });
    assert.equal(stored.status, 'stored');
    const imported = await cli(ctx.db, config, ['results', 'import', CLI_JSON]);
    assert.match(imported.stdout, /1 imported/);
    assert.doesNotMatch(imported.stdout, /score changed/, 'an older result changes nothing people see now');
    const latest = await latestScore(ctx.db, 'github.com/posture-e2e/healthy');
    assert.equal(latest?.repoCommit, 'new', 'the harvested result stays latest');
    const h = await scoreHistory(ctx.db, 'github.com/posture-e2e/healthy');
    assert.deepEqual(
      h.map((x) => x.repoCommit),
      ['new', doc.repo.commit],
    );
  });

  test('an imported result goes through the same change detection: the change against its predecessor, score.changed to the sink', async () => {
    await resetScheduling(ctx.db);
    events.length = 0;
    await cli(ctx.db, config, ['results', 'import', PRETTY_NEW], { K_SINK: sinkUrl });
    assert.equal(events.length, 0, 'a first result is no change');
    const doc = JSON.parse(readFileSync(PRETTY_NEW, 'utf8'));
    const fell = {
      ...doc,
      date: '2025-12-01T00:00:00Z',
      score: 6.2,
      checks: doc.checks.map((c: { name: string; score: number }) => (c.name === 'Code-Review' ? { ...c, score: 0, reason: 'no reviews' } : c)),
    };
    const file = write('fell.json', `${JSON.stringify(fell)}\n`);
    const r = await cli(ctx.db, config, ['results', 'import', file], { K_SINK: sinkUrl });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /score changed: github\.com\/ossf\/scorecard: score fell 3\.5 \(9\.7 → 6\.2\); Code-Review fell to 0\n/);
    assert.equal(events.length, 1);
    assert.equal(events[0].headers['ce-type'], 'dev.posture.score.changed');
    assert.equal(events[0].headers['ce-source'], '/posture/import');
    assert.match(String(events[0].headers['ce-id']), /^changed-import-\d+$/);
    assert.equal(events[0].body.previousScore, 9.7);
    assert.equal(events[0].body.runId, null);
    assert.deepEqual(
      events[0].body.changed.map((c: { name: string }) => c.name),
      ['Code-Review'],
    );
  });
});
