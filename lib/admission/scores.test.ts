// The gate's score cache: loading, staleness, incremental pulls with overlap, every score held past
// the expected size, events that only ask for a pull, and a failing feed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScoreCache, ScoreIndex, type ScoreRow, StaticScoreFeed } from './scores.ts';

const row = (key: string, score: number, at: number): ScoreRow => ({ repoKey: key, repo: key, score, date: '2026-11-01', updatedAt: new Date(at) });

function cache(feed: StaticScoreFeed, clock: { now: number }) {
  return new ScoreCache({ feed, refreshMs: 1000, staleAfterMs: 10_000, overlapMs: 500, now: () => clock.now });
}

test('unavailable until loaded; hit, unknown; stale after the limit', async () => {
  const clock = { now: 1_000_000 };
  const feed = new StaticScoreFeed([row('a', 7, 10)]);
  const c = cache(feed, clock);
  assert.equal(c.lookup('a', clock.now).state, 'unavailable');
  await c.refresh();
  assert.deepEqual(c.lookup('a', clock.now), { state: 'hit', repo: 'a', score: 7, date: '2026-11-01' });
  assert.deepEqual(c.lookup('b', clock.now), { state: 'unknown' });
  assert.match(JSON.stringify(c.lookup('a', clock.now + 10_001)), /stale/);
  feed.fail = new Error('connect ECONNREFUSED 10.0.0.5:5432');
  clock.now += 20_000;
  await c.refresh();
  const r = c.lookup('a', clock.now);
  assert.equal(r.state, 'unavailable');
  // The reason reaches kubectl warnings and /readyz: it says the database failed, never pg's words.
  assert.match((r as { reason: string }).reason, /database unavailable/);
  assert.doesNotMatch(JSON.stringify([r, c.status(clock.now)]), /10\.0\.0\.5|5432|ECONNREFUSED/);
  feed.fail = undefined;
  await c.refresh();
  assert.equal(c.lookup('a', clock.now).state, 'hit');
});

test('incremental pulls ask from the newest change minus the overlap, and apply updates', async () => {
  const clock = { now: 0 };
  const feed = new StaticScoreFeed([row('a', 7, 10_000), row('b', 3, 20_000)]);
  const c = cache(feed, clock);
  await c.refresh();
  assert.equal(feed.calls[0], undefined);
  feed.rows.push(row('a', 2, 30_000));
  await c.refresh();
  assert.deepEqual(feed.calls[1], new Date(19_500));
  assert.equal((c.lookup('a', 0) as { score: number }).score, 2);
});

test('more repositories than expectedEntries: every score is held, none is answered wrong', async () => {
  // The old cache evicted beyond its size and then answered "unavailable" (failing open under
  // Ignore); the index grows instead. 5,000 repositories, sized for 1.
  const clock = { now: 0 };
  const rows = Array.from({ length: 5000 }, (_, i) => row(`github.com/o${i}/r${i}`, i % 11, i));
  const c = new ScoreCache({ feed: new StaticScoreFeed(rows), expectedEntries: 1, refreshMs: 1000, staleAfterMs: 10_000, now: () => clock.now });
  await c.refresh();
  assert.equal(c.status().entries, 5000);
  for (let i = 0; i < 5000; i++) {
    const r = c.lookup(`github.com/o${i}/r${i}`, 0);
    assert.equal(r.state, 'hit', `repository ${i}`);
    assert.equal((r as { score: number }).score, i % 11);
  }
  for (const k of ['github.com/o1/r2', 'github.com/o5000/r5000', 'github.com/o1/r1x', '']) assert.deepEqual(c.lookup(k, 0), { state: 'unknown' }, k);
});

test('ScoreIndex: exact keys, updates in place, non-ASCII keys, keys too long refused, dates to the day', () => {
  const ix = new ScoreIndex(2);
  assert.equal(ix.set('github.com/a/b', 3.2, '2026-11-01T05:00:00Z'), true);
  assert.equal(ix.set('github.com/a/c', 7, ''), true);
  assert.equal(ix.set('gitlab.example/ü/ß', 4.4, '2026-01-02'), true);
  assert.deepEqual(ix.get('github.com/a/b'), { score: 3.2, date: '2026-11-01' });
  assert.deepEqual(ix.get('github.com/a/c'), { score: 7, date: '' });
  assert.deepEqual(ix.get('gitlab.example/ü/ß'), { score: 4.4, date: '2026-01-02' });
  assert.equal(ix.get('gitlab.example/u/ß'), undefined);
  assert.equal(ix.get('github.com/a/'), undefined);
  ix.set('github.com/a/b', 9.9, '2026-12-01');
  assert.deepEqual(ix.get('github.com/a/b'), { score: 9.9, date: '2026-12-01' });
  assert.equal(ix.size, 3);
  assert.equal(ix.set('x'.repeat(70_000), 1, ''), false);
  assert.equal(ix.set('', 1, ''), false);
  assert.equal(ix.size, 3);
  // Grows well past its start size; every key still found.
  for (let i = 0; i < 20_000; i++) ix.set(`k${i}`, i / 10, '');
  for (let i = 0; i < 20_000; i++) assert.equal(ix.get(`k${i}`)?.score, i / 10);
  assert.ok(ix.bytes > 0);
});

test('a score.updated event only asks for a pull: its content never reaches the cache', async () => {
  const clock = { now: 0 };
  const feed = new StaticScoreFeed([row('a', 2.1, 1)]);
  const c = new ScoreCache({ feed, refreshMs: 1000, staleAfterMs: 10_000, eventPullDelayMs: 5, now: () => clock.now });
  c.start();
  await new Promise((r) => setTimeout(r, 20));
  const before = feed.calls.length;
  for (let i = 0; i < 10_000; i++) c.notify();
  const deadline = Date.now() + 5000;
  while (feed.calls.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  c.stop();
  assert.equal(feed.calls.length, before + 1, 'a flood of events costs one pull');
  assert.equal((c.lookup('a', 0) as { score: number }).score, 2.1);
  assert.equal(c.lookup('new', 0).state, 'unknown');
});

test('start/stop: the background loop pulls and can be stopped', async () => {
  const feed = new StaticScoreFeed([row('a', 7, 1)]);
  const c = new ScoreCache({ feed, refreshMs: 5, staleAfterMs: 1000 });
  c.start();
  // Poll rather than sleep a fixed time: a loaded machine may run the timers late.
  const deadline = Date.now() + 5000;
  while (feed.calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  c.stop();
  const calls = feed.calls.length;
  assert.ok(calls >= 2, `pulled ${calls} times`);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(feed.calls.length, calls);
});

// A cold load used to take every repository's row in one answer: at 300,000 the admission server
// ran out of a 128 MB heap (what V8 gives a 512 MiB container). The cache now asks page by page,
// and the watermark moves only once the whole pull has been read.
test('a pull reads the feed in pages of at most pageRows; a page that fails leaves the watermark and the last success alone', async () => {
  const rows = Array.from({ length: 12_345 }, (_, i) => row(`r${i}`, i % 10, 1_000 + i));
  const asked: Array<{ since: Date | undefined; after: string | undefined; limit: number | undefined; rows: number }> = [];
  let failAt: string | undefined;
  // Answers the paged protocol; a caller that asks without a page gets every row (and is caught).
  const feed = {
    async scoresChangedSince(since: Date | undefined, page?: { after: string | undefined; limit: number }) {
      if (!page) {
        asked.push({ since, after: undefined, limit: undefined, rows: rows.length });
        return rows as never;
      }
      if (failAt !== undefined && page.after === failAt) throw new Error('connection lost mid-pull');
      const start = page.after === undefined ? 0 : Number(page.after);
      const out = rows.slice(start, start + page.limit).filter((r) => since === undefined || r.updatedAt >= since);
      asked.push({ since, after: page.after, limit: page.limit, rows: out.length });
      return { rows: out, next: start + page.limit < rows.length ? String(start + page.limit) : undefined };
    },
  };
  const clock = { now: 1_000_000 };
  const c = new ScoreCache({ feed, refreshMs: 1000, staleAfterMs: 10_000, overlapMs: 0, pageRows: 5_000, now: () => clock.now });
  await c.refresh();
  assert.ok(
    asked.every((a) => a.limit === 5_000 && a.rows <= 5_000),
    JSON.stringify(asked),
  );
  assert.deepEqual(
    asked.map((a) => a.after),
    [undefined, '5000', '10000'],
  );
  assert.equal(c.status().entries, 12_345);
  assert.deepEqual(c.lookup('r12344', clock.now), { state: 'hit', repo: 'r12344', score: 4, date: '2026-11-01' });

  // An incremental pull whose second page fails: nothing counts as loaded, the next pull asks from the same point.
  rows.push(...Array.from({ length: 6_000 }, (_, i) => row(`n${i}`, 9, 50_000 + i)));
  asked.length = 0;
  failAt = '5000';
  clock.now += 5_000;
  const lastRefresh = c.status().lastRefresh;
  await c.refresh();
  assert.equal(c.status().lastRefresh, lastRefresh, 'a partial pull is not a success');
  assert.equal(c.status().lastError, 'database unavailable', "the failure is said without pg's words");
  const sinceBefore = asked[0].since?.getTime();
  failAt = undefined;
  asked.length = 0;
  await c.refresh();
  assert.equal(asked[0].since?.getTime(), sinceBefore, 'the watermark did not move on the failed pull');
  assert.equal(c.lookup('n5999', clock.now).state, 'hit');
  assert.equal(c.status().entries, 12_345 + 6_000);
});

// A row that changes on a page the pull has already read is missed by that pull; the next one
// reaches back by the last pull's duration as well as the overlap, so it is read then.
test("the next pull reaches back by the last pull's duration as well as the overlap", async () => {
  const clock = { now: 1_000_000 };
  const rows = Array.from({ length: 10 }, (_, i) => row(`r${i}`, 5, 500_000 + i));
  const asked: Array<Date | undefined> = [];
  const feed = {
    async scoresChangedSince(since: Date | undefined, page: { after: string | undefined; limit: number }) {
      if (page.after === undefined) asked.push(since);
      clock.now += 4_000; // each page takes 4 s
      const start = page.after === undefined ? 0 : Number(page.after);
      return { rows: rows.slice(start, start + page.limit), next: start + page.limit < rows.length ? String(start + page.limit) : undefined };
    },
  };
  const c = new ScoreCache({ feed, refreshMs: 1000, staleAfterMs: 60_000, overlapMs: 500, pageRows: 5, now: () => clock.now });
  await c.refresh();
  await c.refresh();
  // Newest change 500,009; overlap 500 ms; the first pull took two pages of 4 s.
  assert.equal(asked[1]?.getTime(), 500_009 - 500 - 8_000);
});
