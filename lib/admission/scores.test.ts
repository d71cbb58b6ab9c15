// The gate's score cache: loading, staleness, incremental pulls with overlap, bounded size with
// misses filled in the background, events, and a failing feed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { ScoreCache, StaticScoreFeed, type ScoreRow } from './scores.ts';

const row = (key: string, score: number, at: number): ScoreRow => ({ repoKey: key, repo: key, score, date: '2026-11-01', updatedAt: new Date(at) });

function cache(feed: StaticScoreFeed, clock: { now: number }, max = 100) {
  return new ScoreCache({ feed, maxEntries: max, refreshMs: 1000, staleAfterMs: 10_000, overlapMs: 500, now: () => clock.now });
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
  feed.fail = new Error('db down');
  clock.now += 20_000;
  await c.refresh();
  const r = c.lookup('a', clock.now);
  assert.equal(r.state, 'unavailable');
  assert.match((r as { reason: string }).reason, /db down/);
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

test('bounded: least recently used out; a miss after eviction is fetched, not called unknown', async () => {
  const clock = { now: 0 };
  const feed = new StaticScoreFeed([row('a', 1, 1), row('b', 2, 2), row('c', 3, 3)]);
  const c = cache(feed, clock, 2);
  await c.refresh();
  assert.equal(c.status().entries, 2);
  assert.equal(c.status().complete, false);
  const miss = c.lookup('a', 0);
  assert.equal(miss.state, 'unavailable');
  assert.match((miss as { reason: string }).reason, /being loaded/);
  await tick();
  await tick();
  assert.equal(c.lookup('a', 0).state, 'hit');
  assert.equal(c.lookup('zzz', 0).state, 'unavailable');
  await tick();
  await tick();
  assert.deepEqual(c.lookup('zzz', 0), { state: 'unknown' }, 'absent in the database: unknown for a while');
  assert.ok(c.status().entries <= 2);
});

test('a score.updated event applies at once', async () => {
  const clock = { now: 0 };
  const c = cache(new StaticScoreFeed([row('a', 7, 1)]), clock);
  await c.refresh();
  c.notify({ repoKey: 'a', repo: 'a', score: 1.5 });
  c.notify({ repoKey: 'new', repo: 'new', score: 9 });
  c.notify(undefined);
  assert.equal((c.lookup('a', 0) as { score: number }).score, 1.5);
  assert.equal((c.lookup('new', 0) as { score: number }).score, 9);
});

test('start/stop: the background loop pulls and can be stopped', async () => {
  const feed = new StaticScoreFeed([row('a', 7, 1)]);
  const c = new ScoreCache({ feed, maxEntries: 10, refreshMs: 5, staleAfterMs: 1000 });
  c.start();
  await new Promise((r) => setTimeout(r, 40));
  c.stop();
  const calls = feed.calls.length;
  assert.ok(calls >= 2, `pulled ${calls} times`);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(feed.calls.length, calls);
});
