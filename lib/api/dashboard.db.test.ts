// The dashboard's routes on both databases: the changes route against two stored real
// fixtures (ossf/scorecard, fixture 08 then fixture 06), the list's filters and keyset paging,
// the exports, the pages, the gauges, and what each kind of bad input gets.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { addRepos, type Db } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import type { StructuredReturn } from '../function/handle.ts';
import { silentLogger } from '../log/index.ts';
import { registry } from '../metrics/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { fleetConfigOf } from './dashboard.ts';
import { fleetSnapshot, refreshSnapshot } from './fleet.ts';
import { createApiHandle } from './handler.ts';
import { listRepos } from './list.ts';
import { fixture06, replyText, requestContext, storeDocument } from './testing.ts';

const FX08 = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const FX06 = fixture06();
const CHANGES = '/projects/github.com/ossf/scorecard/changes';
const body = (r: StructuredReturn) => JSON.parse(String(r.body));

/** The expected diff, computed straight from the two documents. */
function expectedDiff(a: any, b: any) {
  const before = new Map<string, number>(a.checks.map((c: any) => [c.name, c.score]));
  const after = new Map<string, number>(b.checks.map((c: any) => [c.name, c.score]));
  const changed = [...after]
    .filter(([n, s]) => before.has(n) && before.get(n) !== s)
    .map(([n, s]) => [n, before.get(n), s])
    .sort();
  const added = [...after.keys()].filter((n) => !before.has(n)).sort();
  const removed = [...before.keys()].filter((n) => !after.has(n)).sort();
  const unchanged = [...after].filter(([n, s]) => before.get(n) === s).length;
  return { changed, added, removed, unchanged };
}

async function reset(db: Db) {
  await db.raw('TRUNCATE checks, scores, runs, repos RESTART IDENTITY CASCADE');
}

/** Every link of a page that stays on this server (href="/…"), as path and query. */
function localLinks(html: string): Array<{ path: string; query: Record<string, string> }> {
  return [...html.matchAll(/href="(\/[^"]*)"/g)].map((m) => {
    const url = new URL(m[1].replaceAll('&amp;', '&'), 'http://localhost');
    return { path: url.pathname, query: Object.fromEntries(url.searchParams) };
  });
}

/** A result date this many days before the test runs: fresh means scored within the 7-day rescore interval of now. */
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

/** Fixture 06 renamed and rescored: one result of another repository (fresh unless dated otherwise). */
function other(name: string, score: number, date = daysAgo(3)) {
  const d = fixture06();
  d.repo.name = `github.com/${name}`;
  d.score = score;
  d.date = date;
  return d;
}

describeEachDatabase('dashboard', (ctx) => {
  const config = { allowedHosts: ['github.com'], rescoreIntervalSeconds: 7 * 86400, jitterSeconds: 0 };
  const handle = createApiHandle(async () => ({ db: ctx.db, config, log: silentLogger }));
  const call = (path: string, query: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    handle(requestContext('GET', path, query, headers)) as Promise<StructuredReturn>;

  test('changes: two stored fixtures of ossf/scorecard, by default the last two', async () => {
    await reset(ctx.db);
    assert.equal((await storeDocument(ctx.db, FX08)).status, 'stored');
    assert.equal((await storeDocument(ctx.db, FX06)).status, 'stored');
    const r = await call(CHANGES);
    assert.equal(r.statusCode, 200);
    const b = body(r);
    const want = expectedDiff(FX08, FX06);
    assert.equal(b.repo, 'github.com/ossf/scorecard');
    assert.equal(b.from.score, 9.6);
    assert.equal(b.to.score, 9.7);
    assert.equal(b.from.commit, FX08.repo.commit);
    assert.equal(b.to.commit, FX06.repo.commit);
    assert.equal(b.delta, 0.1);
    assert.deepEqual(b.changed.map((c: any) => [c.name, c.from, c.to]).sort(), want.changed);
    assert.deepEqual(
      b.added.map((c: any) => c.name),
      want.added,
    );
    assert.deepEqual(
      b.removed.map((c: any) => c.name),
      want.removed,
    );
    assert.equal(b.unchanged, want.unchanged);
    assert.ok(want.changed.length > 0, 'the fixtures differ in some checks');
    // By commit, backwards: the same checks, the other way round.
    const back = body(await call(CHANGES, { from: FX06.repo.commit, to: FX08.repo.commit }));
    assert.equal(back.delta, -0.1);
    assert.deepEqual(back.changed.map((c: any) => [c.name, c.to, c.from]).sort(), want.changed);
    // By date: the newest result at or before the end of that day.
    const byDate = body(await call(CHANGES, { from: '2024-05-25', to: '2025-11-15' }));
    assert.deepEqual([byDate.from.score, byDate.to.score], [9.6, 9.7]);
    // By id, as the pages link it.
    assert.equal(body(await call(CHANGES, { from: String(b.from.id), to: String(b.to.id) })).delta, 0.1);
    // ETag and 304.
    const again = await call(CHANGES, {}, { 'if-none-match': r.headers!.etag });
    assert.equal(again.statusCode, 304);
  });

  test('changes: a first result has nothing to compare with; unknown, unscored and missing results are 404s with a reason', async () => {
    await reset(ctx.db);
    await storeDocument(ctx.db, FX06);
    const first = body(await call(CHANGES));
    assert.equal(first.from, null);
    assert.equal(first.delta, null);
    assert.deepEqual(first.changed, []);
    const unknown = await call('/projects/github.com/nobody/nothing/changes');
    assert.equal(unknown.statusCode, 404);
    assert.equal(body(unknown).reason, 'unknown-repo');
    await addRepos(ctx.db, [{ repo: (parseRepo('github.com/a/unscored') as any).repo }]);
    assert.equal(body(await call('/projects/github.com/a/unscored/changes')).reason, 'not-scored');
    const missing = await call(CHANGES, { from: 'f'.repeat(40) });
    assert.equal(missing.statusCode, 404);
    assert.equal(body(missing).reason, 'no-such-result');
    assert.match(body(missing).error, /no result for from=commit f{40}/);
    assert.equal((await call(CHANGES, { from: '1999-01-01' })).statusCode, 404, 'nothing at or before 1999');
    assert.equal((await call(CHANGES, { from: 'soon' })).statusCode, 400);
  });

  test('list: filters, sorts and keyset pages that visit every repository once', async () => {
    await reset(ctx.db);
    const scores = [3.1, 7.5, 5.0, 9.9, 0.4, 5.0, 6.2, 8.8];
    for (const [i, s] of scores.entries()) await storeDocument(ctx.db, other(`${i % 2 ? 'acme' : 'zeta'}/r${i}`, s));
    await storeDocument(ctx.db, other('acme/r1', 6.0, daysAgo(1))); // r1 falls 1.5
    await storeDocument(ctx.db, other('zeta/old', 4.0, '2020-01-01T00:00:00Z')); // overdue
    await addRepos(ctx.db, [{ repo: (parseRepo('github.com/acme/new') as any).repo }]); // never scored
    await ctx.db('repos').where({ key: 'github.com/zeta/r2' }).update({ consecutive_failures: 2, last_error: '=HYPERLINK("x")' }); // failing
    const all = body(await call('/projects', { limit: '1000' }));
    assert.equal(all.count, 10);
    assert.deepEqual(
      all.items.map((i: any) => i.key),
      [...all.items.map((i: any) => i.key)].sort(),
      'name order',
    );
    assert.equal(all.cursor, undefined, 'no next page');
    const states = async (s: string) => body(await call('/projects', { state: s })).items.map((i: any) => i.key.split('/').slice(1).join('/'));
    assert.deepEqual(await states('never'), ['acme/new']);
    assert.deepEqual(await states('failing'), ['zeta/r2']);
    assert.deepEqual(await states('overdue'), ['zeta/old']);
    assert.equal((await states('fresh')).length, 7);
    // The sparse plan (a state read from the result-date index first) answers exactly what the plain one does.
    for (const state of ['fresh', 'overdue'] as const) {
      for (const sort of ['name', '-score', 'delta', 'date'] as const) {
        const plain = await listRepos(ctx.db, { state, sort, limit: 3 }, config);
        const sparse = await listRepos(ctx.db, { state, sort, limit: 3 }, config, new Date(), { sparse: true });
        assert.deepEqual(sparse, plain, `${state} by ${sort}`);
        if (plain.next)
          assert.deepEqual(
            await listRepos(ctx.db, { state, sort, limit: 3, after: plain.next }, config, new Date(), { sparse: true }),
            await listRepos(ctx.db, { state, sort, limit: 3, after: plain.next }, config),
          );
      }
    }
    assert.deepEqual(
      body(await call('/projects', { owner: 'ACME' })).items.map((i: any) => i.key.split('/')[2]),
      ['new', 'r1', 'r3', 'r5', 'r7'],
    );
    assert.deepEqual(
      body(await call('/projects', { min: '5', max: '7.5', sort: 'score' })).items.map((i: any) => i.score),
      [5, 5, 6, 6.2],
    );
    const r1 = body(await call('/projects', { sort: 'delta' })).items[0];
    assert.deepEqual([r1.key, r1.previousScore, r1.score, r1.delta], ['github.com/acme/r1', 7.5, 6, -1.5]);
    // Keyset paging by score, two at a time, with a tie (5.0 twice) on a page boundary.
    const seen: string[] = [];
    let q: Record<string, string> = { sort: '-score', limit: '2' };
    for (let pages = 0; pages < 20; pages++) {
      const r = await call('/projects', q);
      const b = body(r);
      seen.push(...b.items.map((i: any) => `${i.score}:${i.key}`));
      if (!b.cursor) break;
      assert.equal(r.headers!.link, `<${b.next}>; rel="next"`);
      q = { ...q, cursor: b.cursor };
    }
    const scored = all.items.filter((i: any) => i.score !== null);
    assert.equal(seen.length, scored.length, 'every scored repository once');
    assert.equal(new Set(seen).size, seen.length, 'no repository twice');
    assert.deepEqual(
      seen.map((s) => Number(s.split(':')[0])),
      [...seen.map((s) => Number(s.split(':')[0]))].sort((a, b) => b - a),
    );
  });

  test('exports: CSV (formula-safe) and JSON of every repository matching the filter', async () => {
    const csv = await call('/export/latest.csv');
    assert.equal(csv.statusCode, 200);
    assert.equal(csv.headers!['content-type'], 'text/csv; charset=utf-8');
    assert.match(csv.headers!['content-disposition'], /attachment; filename="posture-latest.csv"/);
    const lines = (await replyText(csv)).trimEnd().split('\r\n');
    assert.equal(lines[0], 'repo,state,score,previous_score,delta,date,scored_at,failures,last_error,next_due_at,policy,verdict,policy_score,failing_rules');
    assert.equal(lines.length, 11);
    const failing = lines.find((l) => l.startsWith('github.com/zeta/r2,'))!;
    assert.match(failing, /,"'=HYPERLINK\(""x""\)",/, 'a formula is quoted and defused');
    assert.match(lines.find((l) => l.startsWith('github.com/acme/r1,'))!, /^github\.com\/acme\/r1,fresh,6,7\.5,-1\.5,/);
    // In parts behind Link headers when there are more rows than one response holds.
    const small = createApiHandle(async () => ({ db: ctx.db, config: { ...config, exportRows: 4 }, log: silentLogger }));
    const got: string[] = [];
    let path: string | undefined = '/export/latest.csv';
    let parts = 0;
    while (path) {
      const u = new URL(path, 'http://x');
      const r = (await small(requestContext('GET', u.pathname, Object.fromEntries(u.searchParams)))) as StructuredReturn;
      const partLines = (await replyText(r)).trimEnd().split('\r\n');
      assert.equal(partLines[0], lines[0], 'each part has the header');
      got.push(...partLines.slice(1));
      path = /^<([^>]+)>; rel="next"$/.exec(r.headers!.link ?? '')?.[1];
      parts++;
    }
    assert.equal(parts, 3);
    assert.deepEqual(got, lines.slice(1), 'the parts add up to the whole export');
    const jsonPart = JSON.parse(await replyText((await small(requestContext('GET', '/export/latest.json'))) as StructuredReturn));
    assert.equal(jsonPart.repositories.length, 4);
    assert.match(jsonPart.next, /^\/export\/latest\.json\?cursor=/);
    const json = JSON.parse(await replyText(await call('/export/latest.json', { owner: 'acme' })));
    assert.equal(json.repositories.length, 5);
    assert.equal((await call('/export/latest.json', { min: 'x' })).statusCode, 400);
  });

  test('pages: fleet, list, repository and diff in HTML; unknown repository is a 404 page; / sends browsers to /ui', async () => {
    await refreshSnapshot(ctx.db, fleetConfigOf(config));
    const fleet = await call('/ui');
    assert.equal(fleet.statusCode, 200);
    assert.equal(fleet.headers!['content-type'], 'text/html; charset=utf-8');
    assert.match(fleet.headers!['content-security-policy'], /default-src 'none'/);
    const html = String(fleet.body);
    assert.match(html, /<h1>Fleet<\/h1>/);
    assert.match(html, /Fresh<\/div><div class="big"><a href="\/ui\/projects\?state=fresh">7<\/a>/);
    assert.match(html, /Never scored<\/div><div class="big"><a href="\/ui\/projects\?state=never">1<\/a>/);
    assert.match(html, /<svg[^>]*role="img"[^>]*><title>Repositories by newest score<\/title>/);
    assert.doesNotMatch(html, /<script/i, 'no JavaScript');
    assert.match(html, /github\.com\/acme\/r1<\/a> <a href="\/ui\/projects\/github\.com\/acme\/r1\/diff">diff<\/a>/, 'the drop is listed');
    const list = String((await call('/ui/projects', { sort: 'score', limit: '2' })).body);
    assert.match(list, /rel="next" href="\/ui\/projects\?sort=score&amp;limit=2&amp;cursor=/);
    const repo = await call('/ui/projects/github.com/ossf/scorecard', {}, { host: 'posture.example:8080' });
    assert.equal(repo.statusCode, 404, 'ossf/scorecard was truncated away');
    await storeDocument(ctx.db, FX08);
    await storeDocument(ctx.db, FX06);
    const page = String((await call('/ui/projects/github.com/ossf/scorecard', {}, { host: 'posture.example:8080' })).body);
    for (const c of FX06.checks) assert.ok(page.includes(`<strong>${c.name}</strong>`), c.name);
    assert.match(
      page,
      /\[!\[OpenSSF Scorecard\]\(http:\/\/posture\.example:8080\/projects\/github\.com\/ossf\/scorecard\/badge\)\]\(http:\/\/posture\.example:8080\/ui\/projects\/github\.com\/ossf\/scorecard\)/,
    );
    assert.match(page, /<title>Score of github\.com\/ossf\/scorecard over time<\/title>/);
    const hostile = String((await call('/ui/projects/github.com/ossf/scorecard', {}, { host: '"><script>x</script>' })).body);
    assert.ok(hostile.includes('http://localhost/projects/github.com/ossf/scorecard/badge') && !hostile.includes('<script>x'), 'a hostile Host is not echoed');
    const diff = String((await call('/ui/projects/github.com/ossf/scorecard/diff')).body);
    const want = expectedDiff(FX08, FX06);
    for (const [name] of want.changed) assert.ok(diff.includes(`<td>${name}</td>`), `${name} in the diff`);
    // Every link the pages show resolves on this server (metrics, for one, live on another port).
    const fleetAgain = String((await call('/ui')).body);
    const links = [fleetAgain, list, page, diff].flatMap(localLinks);
    assert.ok(links.length > 10, `links found: ${links.length}`);
    for (const link of links) {
      const r = await call(link.path, link.query);
      assert.ok(r.statusCode !== undefined && r.statusCode < 400, `${link.path}?${new URLSearchParams(link.query)} answers ${r.statusCode}`);
    }
    assert.equal((await call('/ui/projects/github.com/ossf/scorecard/diff', { from: '999999' })).statusCode, 404);
    const missing = await call('/ui/projects/github.com/nobody/nothing');
    assert.equal(missing.statusCode, 404);
    assert.match(String(missing.body), /not known to posture/);
    const bad = await call('/ui/projects', { sort: 'nope' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.headers!['content-type'], /text\/html/);
    const index = await call('/', {}, { accept: 'text/html,application/xhtml+xml' });
    assert.equal(index.statusCode, 303);
    assert.equal(index.headers!.location, '/ui');
    const jsonIndex = await call('/', {}, { accept: 'application/json' });
    assert.equal(jsonIndex.statusCode, 200);
    assert.equal(jsonIndex.headers!.vary, 'Accept', 'a cache keeps the page redirect and the JSON apart');
    // A documentation URL that is not a web link is shown as text, never as a link.
    const evil = fixture06();
    evil.repo.name = 'github.com/evil/docs';
    await storeDocument(ctx.db, evil);
    // The harvester's schema refuses such a URL; a row written around it (a restore, a hand edit) must still not become a link.
    await ctx.db.raw(
      `UPDATE scores SET raw = jsonb_set(raw, '{checks,0,documentation,url}', '"javascript:alert(1)"') WHERE repo_id = (SELECT id FROM repos WHERE key = 'github.com/evil/docs')`,
    );
    const evilPage = String((await call('/ui/projects/github.com/evil/docs')).body);
    assert.ok(!evilPage.includes('javascript:alert'), 'no javascript: link');
    assert.match(evilPage, /<strong>Code-Review<\/strong><div class="muted">/);
  });

  test('fleet snapshot: served stale while one caller refreshes it in the background; a costly one is kept longer', async () => {
    const fc = fleetConfigOf(config);
    const t0 = new Date();
    const first = await refreshSnapshot(ctx.db, fc, t0);
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const row = async () => (await ctx.db.raw('SELECT computed_at, refreshing_until, data FROM fleet_snapshot WHERE id = 1')).rows[0];
    // The background refresh's own queries wait for `release`, so the claim is seen while it is
    // held: unheld, a refresh on a fast database finished before the test read the row.
    let release!: () => void;
    let held = new Promise<void>((r) => (release = r));
    const hold = () => (held = new Promise<void>((r) => (release = r)));
    // A refresh's queries run one after another, so while held each refresh waits on one query.
    let waiting = 0;
    const gated = {
      raw: (sql: string, bindings?: unknown) => {
        if (sql.includes('fleet_snapshot')) return ctx.db.raw(sql, bindings as any);
        waiting++;
        return held.then(() => {
          waiting--;
          return ctx.db.raw(sql, bindings as any);
        });
      },
    } as unknown as Db;
    const released = async () => {
      release();
      for (let i = 0; i < 200 && (await row()).refreshing_until !== null; i++) await new Promise((r) => setTimeout(r, 50));
    };
    assert.deepEqual(await fleetSnapshot(gated, fc, { now: at(30_000) }), first, 'fresh: served as is');
    assert.equal((await row()).refreshing_until, null, 'no refresh started');
    assert.deepEqual(await fleetSnapshot(gated, fc, { now: at(120_000) }), first, 'stale: still served at once');
    assert.ok((await row()).refreshing_until, 'one refresh claimed');
    const claim = String((await row()).refreshing_until);
    assert.deepEqual(await fleetSnapshot(gated, fc, { now: at(120_000) }), first, 'a second caller meanwhile is served the stale one');
    assert.equal(String((await row()).refreshing_until), claim, 'and claims nothing: the first claim holds');
    assert.equal(waiting, 1, 'one refresh running, not two');
    await released();
    assert.equal((await row()).refreshing_until, null, 'the background refresh finished and released its claim');
    assert.ok(new Date((await row()).computed_at).getTime() > t0.getTime(), 'and stored a new snapshot');
    // A snapshot that took 20 s is not refreshed two minutes later (ten times its cost is 200 s).
    hold();
    await ctx.db.raw(`UPDATE fleet_snapshot SET computed_at = ?, data = jsonb_set(data, '{tookMs}', '20000') WHERE id = 1`, [t0]);
    await fleetSnapshot(gated, fc, { now: at(120_000) });
    assert.equal((await row()).refreshing_until, null, 'not stale yet');
    await fleetSnapshot(gated, fc, { now: at(201_000) });
    assert.ok((await row()).refreshing_until, 'stale after ten times its cost');
    await released();
    assert.equal((await row()).refreshing_until, null, 'and released once refreshed');
  });

  test('gauges: repositories by state, by score, and the sweep, read at scrape time', async () => {
    createApiHandle(async () => ({ db: ctx.db, config, log: silentLogger })); // the process's api function reads this database
    await refreshSnapshot(ctx.db, fleetConfigOf(config));
    const text = await registry.metrics();
    assert.match(text, /posture_repositories\{state="fresh"\} \d+/);
    assert.match(text, /posture_repositories\{state="never"\} 1/);
    assert.match(text, /posture_repositories_by_score\{score="9"\} \d+/);
    assert.match(text, /posture_sweep\{measure="fresh_ratio"\} [0-9.]+/);
  });
  test('fleet page: a refused token shows the pause at the top; stuck repositories are counted and listed with their reason', async () => {
    await reset(ctx.db);
    await ctx.db('scheduler_state').update({ github_wait_until: null });
    await addRepos(
      ctx.db,
      ['st/one', 'st/two', 'st/ok'].map((n) => ({ repo: (parseRepo(n) as { ok: true; repo: any }).repo })),
    );
    await ctx
      .db('repos')
      .whereIn('key', ['github.com/st/one', 'github.com/st/two'])
      .update({ other_failures: 5, other_error: 'infrastructure: the Scorecard image could not be pulled' });
    const repoId = (await ctx.db('repos').where({ key: 'github.com/st/ok' }).first()).id;
    await ctx
      .db('runs')
      .insert({ repo_id: repoId, job_name: 'j-401', outcome: 'failed', failure_class: 'credentials', reason: '401', finished_at: new Date() });
    await refreshSnapshot(ctx.db, fleetConfigOf(config));
    const html = String((await call('/ui')).body);
    assert.match(
      html,
      /<p class="alert" role="alert"><strong>Paused: GitHub refused the token\.<\/strong> GitHub refused the token \(401 Bad credentials\): fix the token Secret/,
    );
    assert.match(html, /<a href="\/ui\/projects\?state=stuck">2 repositories are stuck<\/a>/);
    const list = String((await call('/ui/projects', { state: 'stuck' })).body);
    assert.match(list, /st\/one/);
    assert.match(list, /st\/two/);
    assert.doesNotMatch(list, /st\/ok/);
    assert.match(list, /stuck<\/strong>/);
    assert.match(list, /not its own: infrastructure: the Scorecard image could not be pulled/);
    await ctx.db('runs').insert({ repo_id: repoId, job_name: 'j-ok', outcome: 'succeeded', finished_at: new Date(Date.now() + 1000) });
    assert.doesNotMatch(String((await call('/ui')).body), /Paused/, 'a newer success shows the token works again');
  });

  test('repository page: a result dated after posture stored it is flagged, and the genuine result stored after it is the newest', async () => {
    const page = async () => String((await call('/ui/projects/github.com/clock/ahead')).body);
    const item = async () => body(await call('/projects', { owner: 'clock' })).items[0];
    const storedAt = new Date(Date.now() - 2 * 86_400_000);
    await storeDocument(ctx.db, other('clock/ahead', 9.9, '2031-01-01T00:00:00Z'), { finishedAt: storedAt });
    const flagged = await page();
    assert.match(flagged, /<div class="muted">Score<\/div><div class="big"><span class="score"[^>]*>9\.9<\/span>/);
    assert.ok(
      flagged.includes(
        `This result is dated 2031-01-01 00:00 UTC, after posture stored it on ${storedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC: the scorecard pod's clock is ahead.`,
      ),
      'the note says both times',
    );
    assert.deepEqual((({ score, date, scoredAt, futureDated }) => ({ score, date, scoredAt, futureDated }))(await item()), {
      score: 9.9,
      date: '2031-01-01T00:00:00.000Z',
      scoredAt: storedAt.toISOString(),
      futureDated: true,
    });

    await storeDocument(ctx.db, other('clock/ahead', 2.0, daysAgo(1)));
    const after = await page();
    assert.match(after, /<div class="muted">Score<\/div><div class="big"><span class="score"[^>]*>2\.0<\/span>/, 'the genuine result is the newest');
    assert.doesNotMatch(after, /id="future-dated"/, 'the newest result is not future-dated');
    assert.match(
      after,
      /<td>2031-01-01 <span class="tag" title="dated after posture stored it on [^"]*">future-dated<\/span><\/td><td[^>]*><span class="score"[^>]*>9\.9/,
      'the 2031 result is flagged in the history',
    );
    const now = await item();
    assert.deepEqual([now.score, now.delta, now.previousScore, now.futureDated], [2.0, -7.9, 9.9, false]);
    assert.equal(now.state, 'fresh');
  });
});
