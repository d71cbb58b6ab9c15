import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import type { NormalizedResult } from '../scorecard/classify.ts';
import { addRepos, type Db, getRepo, latestScore, pruneDetails, pruneDetailsStep, scoreHistory, scoresChangedPage, scoresChangedSince } from './index.ts';
import { describeEachDatabase, storeRecorded } from './testing.ts';

const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * 86400000);
const schedule = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 };

/** Stores `n` weekly results of a repository, result dates in order (or reversed: stored out of order). */
async function history(db: Db, name: string, n: number, options: { reversed?: boolean } = {}) {
  const r = repo(name);
  await addRepos(db, [{ repo: r }]);
  const days = Array.from({ length: n }, (_, i) => i * 7);
  if (options.reversed) days.reverse();
  for (const d of days) {
    const result = {
      repo: r.canonical,
      commit: `c${d}`,
      date: at(d).toISOString(),
      scorecardVersion: 'v5',
      scorecardCommit: 'x',
      score: d % 10,
      checks: [{ name: 'Fuzzing', score: 3, reason: `week ${d}`, details: [`detail of day ${d}`], documentation: null }],
      raw: { day: d } as unknown as NormalizedResult['raw'],
    };
    await storeRecorded(db, {
      repoKey: r.key,
      jobName: `${r.name}-${d}`,
      jobUid: `${r.name}-${d}`,
      finishedAt: at(d),
      checkSet: null,
      outcome: { ok: true, flagged: false, result },
      schedule,
    });
  }
  return r;
}

async function reset(db: Db) {
  await db.raw('TRUNCATE checks, scores, runs, repos RESTART IDENTITY CASCADE');
  await db('maintenance').update({ prune_after_id: 0, job_sweep_continue: null });
}

describeEachDatabase('retention', (ctx) => {
  test('prune keeps every score row, and the document and check details of the newest N only', async () => {
    await reset(ctx.db);
    const a = await history(ctx.db, 'r/a', 8);
    const b = await history(ctx.db, 'r/b', 5, { reversed: true }); // stored newest first
    const c = await history(ctx.db, 'r/c', 2);
    const got = await pruneDetails(ctx.db, { keep: 3, batch: 4 });
    assert.deepEqual(got, { pruned: 5 + 2 + 0, scanned: 15 });
    for (const [r, n] of [
      [a, 8],
      [b, 5],
      [c, 2],
    ] as const) {
      const h = await scoreHistory(ctx.db, r.key);
      assert.equal(h.length, n, 'every score row kept');
      // Newest first: the first 3 keep their document and details, the rest keep scores and reasons.
      assert.deepEqual(
        h.map((s) => s.raw !== null),
        h.map((_, i) => i < 3),
        r.key,
      );
      assert.deepEqual(
        h.map((s) => s.checks[0].details !== null),
        h.map((_, i) => i < 3),
      );
      assert.ok(h.every((s) => s.checks[0].reason.startsWith('week ') && s.checks[0].score === 3));
    }
    assert.equal((await latestScore(ctx.db, a.key))?.date, at(49).toISOString());
    assert.deepEqual(await pruneDetails(ctx.db, { keep: 3 }), { pruned: 0, scanned: 3 + 3 + 2 }, 'a second prune finds nothing');
  });

  test("the scheduler's step prunes a small batch and resumes where it stopped, then starts over", async () => {
    await reset(ctx.db);
    await history(ctx.db, 'r/a', 6);
    await history(ctx.db, 'r/b', 6);
    const steps = [];
    for (let i = 0; i < 5; i++) steps.push(await pruneDetailsStep(ctx.db, { keep: 2, limit: 5 }));
    // ids 1-6 are r/a's weeks, 7-12 r/b's; ids 1-4 and 7-10 have 2 newer results.
    assert.deepEqual(
      steps.map((s) => [s.scanned, s.pruned]),
      [
        [5, 4],
        [5, 4],
        [2, 0],
        [4, 0],
        [4, 0],
      ],
    );
    assert.equal(steps[2].nextAfterId, 0, 'the walk reached the end and starts over');
    const left = await ctx.db('scores').whereNotNull('raw').count('* as n').first();
    assert.equal(Number((left as { n: number }).n), 4);
  });

  test('a new result makes the oldest kept one prunable; keep must be positive', async () => {
    await reset(ctx.db);
    const a = await history(ctx.db, 'r/a', 3);
    assert.equal((await pruneDetails(ctx.db, { keep: 3 })).pruned, 0);
    const r = repo('r/a');
    await storeRecorded(ctx.db, {
      repoKey: r.key,
      jobName: 'late',
      jobUid: 'late',
      finishedAt: at(100),
      checkSet: null,
      schedule,
      outcome: {
        ok: true,
        flagged: false,
        result: {
          repo: r.canonical,
          commit: 'z',
          date: at(100).toISOString(),
          scorecardVersion: 'v5',
          scorecardCommit: 'x',
          score: 9,
          checks: [],
          raw: {} as NormalizedResult['raw'],
        },
      },
    });
    assert.equal((await pruneDetails(ctx.db, { keep: 3 })).pruned, 1);
    assert.equal((await scoreHistory(ctx.db, a.key)).at(-1)?.raw, null);
    await assert.rejects(pruneDetails(ctx.db, { keep: 0 }), /keep must be a positive integer/);
  });

  test("the gate's feed reads the latest score of each repository, after pruning too", async () => {
    await reset(ctx.db);
    await history(ctx.db, 'r/a', 4);
    await history(ctx.db, 'r/b', 3, { reversed: true });
    await addRepos(ctx.db, [{ repo: repo('r/never-scored') }]);
    await pruneDetails(ctx.db, { keep: 1 });
    const all = await scoresChangedSince(ctx.db, undefined);
    assert.deepEqual(all.map((s) => [s.repoKey, s.date]).sort(), [
      ['github.com/r/a', at(21).toISOString()],
      ['github.com/r/b', at(14).toISOString()],
    ]);
    const since = await scoresChangedSince(ctx.db, new Date(Date.now() + 3600000));
    assert.deepEqual(since, []);
    assert.ok(await getRepo(ctx.db, 'github.com/r/never-scored'));
  });

  // The gate's cold load reads pages, never every repository's row at once (issue 40: at 300,000
  // repositories a single answer exhausted a 128 MB heap). A repository with no score yet is in a
  // page's id range but not in its rows, so a page may hold fewer rows than asked and still not be the last.
  test("the gate's feed pages by repository id: every latest score once, pages at most the limit, unscored repositories skipped", async () => {
    await reset(ctx.db);
    await addRepos(ctx.db, [{ repo: repo('r/unscored-1') }, { repo: repo('r/unscored-2') }, { repo: repo('r/unscored-3') }]);
    const names = ['r/p0', 'r/p1', 'r/p2', 'r/p3', 'r/p4'];
    for (const n of names) await history(ctx.db, n, 2);
    for (const since of [undefined, new Date(0)]) {
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const p = await scoresChangedPage(ctx.db, since, { after, limit: 2 });
        assert.ok(p.rows.length <= 2);
        seen.push(...p.rows.map((r) => r.repoKey));
        after = p.next;
        pages++;
      } while (after !== undefined && pages < 20);
      assert.deepEqual(seen.sort(), names.map((n) => `github.com/${n}`).sort(), `since ${since?.toISOString()}`);
      // Every row is the repository's latest (two results each, a week apart).
      const all = await scoresChangedSince(ctx.db, since, 2);
      assert.ok(all.every((r) => r.date === at(7).toISOString()));
      assert.equal(all.length, names.length);
    }
    // Three unscored repositories first: the first page (ids 1-2 of the range) has no rows but a next.
    const first = await scoresChangedPage(ctx.db, undefined, { limit: 2 });
    assert.deepEqual(first.rows, []);
    assert.notEqual(first.next, undefined);
  });
});
