// "Latest" by the time posture stored a result (issue 34, finding 2). A result's date is the
// Scorecard pod's clock: one dated 2031 must not pin "latest" over the genuine results stored
// after it, in any read (latestScore, repo_latest, the gate's scoresChangedSince, the history,
// the change a harvest reports), and it is flagged. Plus migration 007 on data an older release
// left: the backfill un-pins a future-dated row, and the down migration restores the old order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import type { NormalizedResult } from '../scorecard/classify.ts';
import { isFutureDated } from '../scorecard/clock.ts';
import { newestScoreLinkAtOrBefore, recentScoreSteps } from './changes.ts';
import type { Db } from './connect.ts';
import {
  addRepos,
  getRepo,
  type HarvestInput,
  latestScore,
  migrate,
  migrateDownOne,
  recordRun,
  scoreHistory,
  scoresChangedSince,
  storeHarvest,
} from './index.ts';
import { latestPage, repoWithLatest } from './listing.ts';
import { listRepoStatus } from './repo-admin.ts';
import { rowsOf } from './rows.ts';
import { describeEachDatabase, describeEachFreshDatabase } from './testing.ts';

const repoIdOf = (name: string): RepoId => {
  const r = parseRepo(name);
  if (!r.ok) throw new Error(r.reason);
  return r.repo;
};
const T0 = Date.parse('2030-01-01T00:00:00Z');
const minutes = (n: number) => new Date(T0 + n * 60_000);
const FUTURE = '2031-01-01T00:00:00.000Z';
const schedule = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 };

function result(repo: string, score: number, date: string, commit: string): NormalizedResult {
  return {
    repo,
    commit,
    date,
    scorecardVersion: 'v5.3.0',
    scorecardCommit: 'abc',
    score,
    checks: [{ name: 'Code-Review', score: Math.round(score), reason: 'r', details: null, documentation: null }],
    raw: { date, score } as unknown as NormalizedResult['raw'],
  };
}

/** Records the scheduler's run, then stores its result as the harvester does, the Job finished at `finishedAt`. */
async function harvest(db: Db, key: string, n: number, score: number, date: string, finishedAt: Date) {
  const repo = await getRepo(db, key);
  const jobName = `job-${key.split('/')[2]}-${n}`;
  await recordRun(db, { repoId: Number(repo!.id), jobName, jobUid: `uid-${jobName}` });
  const input: HarvestInput = {
    repoKey: key,
    jobName,
    jobUid: `uid-${jobName}`,
    finishedAt,
    checkSet: null,
    outcome: { ok: true, flagged: false, result: result(key, score, date, n.toString(16).padStart(40, '0')) },
    schedule,
  };
  const stored = await storeHarvest(db, input);
  assert.equal(stored.status, 'stored');
  if (stored.status !== 'stored') throw new Error('not stored');
  return stored;
}

async function repoLatestOf(db: Db, key: string) {
  return rowsOf<{ score: string | number; score_id: string | number; result_date: Date; scored_at: Date }>(
    await db.raw('SELECT l.score, l.score_id, l.result_date, l.scored_at FROM repo_latest l JOIN repos r ON r.id = l.repo_id WHERE r.key = ?', [key]),
  )[0];
}

describeEachDatabase('latest by stored time', (ctx) => {
  const KEY = 'github.com/clock/ahead';

  test('a result dated 2031 scoring 9.9 does not hide the three genuine 2.0 results stored after it', async () => {
    await addRepos(ctx.db, [{ repo: repoIdOf(KEY) }]);
    const first = await harvest(ctx.db, KEY, 1, 5.0, minutes(0).toISOString(), minutes(5));
    // The pod's clock is a year ahead: its result is stored at the Job's finish.
    const ahead = await harvest(ctx.db, KEY, 2, 9.9, FUTURE, minutes(65));
    assert.equal(ahead.latest, true, 'the newest stored result, whatever its date');
    assert.equal(ahead.previous?.id, first.scoreId);

    let before = { id: ahead.scoreId!, score: 9.9 };
    const stored: Array<Date | null> = [];
    for (const k of [1, 2, 3]) {
      const at = 60 * (1 + k);
      const g = await harvest(ctx.db, KEY, 2 + k, 2.0, minutes(at).toISOString(), minutes(at + 5));
      assert.equal(g.latest, true, `genuine result ${k} is the newest`);
      assert.deepEqual({ id: g.previous?.id, score: g.previous?.score }, before, `genuine result ${k}'s change is reported against the result before it`);
      assert.equal(g.previous?.date, k === 1 ? FUTURE : minutes(at - 60).toISOString(), "the previous result's own date is kept");
      before = { id: g.scoreId!, score: 2.0 };
      stored.push(g.storedAt);
    }
    // The write returns the stored time; the 2031 result is flagged against it, the genuine ones are not.
    assert.equal(ahead.storedAt?.toISOString(), minutes(65).toISOString());
    assert.ok(isFutureDated(new Date(FUTURE), ahead.storedAt!), 'flagged: dated past its stored time');
    assert.deepEqual(
      stored.map((d) => d?.toISOString()),
      [minutes(125), minutes(185), minutes(245)].map((d) => d.toISOString()),
    );

    assert.equal((await latestScore(ctx.db, KEY))?.score, 2.0);
    const l = await repoLatestOf(ctx.db, KEY);
    assert.equal(Number(l.score), 2.0);
    assert.equal(Number(l.score_id), before.id);
    assert.equal(new Date(l.scored_at).toISOString(), minutes(245).toISOString(), 'repo_latest.scored_at is the stored time');
    assert.equal(new Date(l.result_date).toISOString(), minutes(240).toISOString(), "repo_latest keeps the result's own date");
    const repoId = Number((await getRepo(ctx.db, KEY))!.id);
    assert.equal((await repoWithLatest(ctx.db, KEY))?.latestScoredAt?.toISOString(), minutes(245).toISOString());

    // The admission gate's loads, cold and incremental.
    assert.deepEqual(
      (await scoresChangedSince(ctx.db, undefined)).filter((c) => c.repoKey === KEY).map((c) => [c.score, c.date]),
      [[2.0, minutes(240).toISOString()]],
    );
    assert.deepEqual(
      (await scoresChangedSince(ctx.db, new Date(0))).filter((c) => c.repoKey === KEY).map((c) => c.score),
      [2.0],
    );

    // History in stored order; the 2031 result keeps its date and is flagged.
    const steps = await recentScoreSteps(ctx.db, repoId, 10);
    assert.deepEqual(
      steps.map((s) => [s.score, s.resultDate.toISOString(), isFutureDated(s.resultDate, s.storedAt)]),
      [
        [2.0, minutes(240).toISOString(), false],
        [2.0, minutes(180).toISOString(), false],
        [2.0, minutes(120).toISOString(), false],
        [9.9, FUTURE, true],
        [5.0, minutes(0).toISOString(), false],
      ],
    );
    assert.deepEqual(
      steps.map((s) => s.delta),
      [0, 0, -7.9, 4.9, null],
    );
    assert.deepEqual(
      (await scoreHistory(ctx.db, KEY)).map((s) => s.score),
      [2.0, 2.0, 2.0, 9.9, 5.0],
    );
    // "As of" a time is by stored time: an hour and a bit in, the 2031 result was the newest stored.
    assert.equal((await newestScoreLinkAtOrBefore(ctx.db, repoId, minutes(70)))?.score, 9.9);
    assert.equal((await newestScoreLinkAtOrBefore(ctx.db, repoId, minutes(130)))?.score, 2.0);

    // The command line's list shows the newest genuine result, its own date and stored time.
    const status = (await listRepoStatus(ctx.db, { limit: 10, match: 'clock/ahead', stuckAfterRuns: 3 }))[0];
    assert.deepEqual([status.score, status.date?.toISOString(), status.scoredAt?.toISOString()], [2.0, minutes(240).toISOString(), minutes(245).toISOString()]);
  });

  test("the list's date sort and fresh/overdue go by the stored time", async () => {
    const OTHER = 'github.com/clock/right';
    await addRepos(ctx.db, [{ repo: repoIdOf(OTHER) }]);
    // Stored after clock/ahead's newest (minute 245) but dated far before the 2031 result.
    await harvest(ctx.db, OTHER, 1, 7.0, minutes(290).toISOString(), minutes(295));
    const page = await latestPage(ctx.db, { owner: 'clock', freshCutoff: minutes(250), sort: 'date', descending: true, limit: 10 });
    assert.deepEqual(
      page.map((r) => r.key),
      [OTHER, KEY],
    );
    const fresh = await latestPage(ctx.db, { owner: 'clock', state: 'fresh', freshCutoff: minutes(250), sort: 'name', descending: false, limit: 10 });
    assert.deepEqual(
      fresh.map((r) => r.key),
      [OTHER],
      'clock/ahead was stored before the cutoff: overdue',
    );
    const sparse = await latestPage(ctx.db, {
      owner: 'clock',
      state: 'overdue',
      sparse: true,
      freshCutoff: minutes(250),
      sort: 'name',
      descending: false,
      limit: 10,
    });
    assert.deepEqual(
      sparse.map((r) => r.key),
      [KEY],
    );
  });
});

describeEachFreshDatabase('migration 007', (ctx) => {
  const KEY = 'github.com/old/history';
  // (result_date, created_at, score): f was dated 2031 by a pod whose clock was ahead, and stored on day 2.
  // In the past, so that a row the database dates now() (after the down migration) sorts after them.
  const day = (d: number, m = 0) => new Date(Date.UTC(2025, 0, d, 0, m)).toISOString();
  const rows = [
    { name: 'a', date: day(1), created: day(1, 5), score: 5.0 },
    { name: 'f', date: FUTURE, created: day(2, 5), score: 9.9 },
    { name: 'b', date: day(3), created: day(3, 5), score: 2.0 },
    { name: 'c', date: day(4), created: day(4, 5), score: 3.0 },
  ];
  const ids = new Map<string, number>();

  const indexDef = async (name: string) =>
    rowsOf<{ indexdef: string }>(await ctx.db.raw('SELECT indexdef FROM pg_indexes WHERE indexname = ?', [name]))[0]?.indexdef ?? '';
  const scoreRows = async () =>
    rowsOf<{ id: string | number; previous_score_id: string | number | null; delta: string | number | null }>(
      await ctx.db.raw('SELECT id, previous_score_id, delta FROM scores ORDER BY id'),
    ).map((r) => [Number(r.id), r.previous_score_id === null ? null : Number(r.previous_score_id), r.delta === null ? null : Number(r.delta)]);

  test('under 006 the future-dated row pins repo_latest', async () => {
    assert.deepEqual(await migrate(ctx.db, { to: '006_not_the_repositorys' }), [
      '001_initial',
      '002_faults',
      '003_scale',
      '004_dashboard',
      '005_recent_runs',
      '006_not_the_repositorys',
    ]);
    const [repo] = rowsOf<{ id: number }>(await ctx.db.raw(`INSERT INTO repos (key, canonical, host) VALUES (?, ?, 'github.com') RETURNING id`, [KEY, KEY]));
    for (const r of rows) {
      const [run] = rowsOf<{ id: number }>(
        await ctx.db.raw(`INSERT INTO runs (repo_id, job_name, outcome, finished_at) VALUES (?, ?, 'succeeded', ?) RETURNING id`, [
          repo.id,
          `job-${r.name}`,
          r.created,
        ]),
      );
      const [s] = rowsOf<{ id: number }>(
        await ctx.db.raw(
          `INSERT INTO scores (repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, raw, created_at)
           VALUES (?, ?, ?, 'v5', 'abc', ?, ?, '{}'::jsonb, ?) RETURNING id`,
          [repo.id, run.id, r.score, r.name.repeat(40), r.date, r.created],
        ),
      );
      ids.set(r.name, Number(s.id));
    }
    const l = await repoLatestOf(ctx.db, KEY);
    assert.equal(Number(l.score_id), ids.get('f'), 'the old order: by result date');
  });

  test('migrating to 007 backfills stored_at and un-pins the future-dated row; new results follow in stored order', async () => {
    // Up to 008 by name: later migrations (009, …) are not this test's, and its down steps undo 008 then 007.
    assert.deepEqual(await migrate(ctx.db, { to: '008_shard_runs' }), ['007_stored_order', '008_shard_runs']);
    const stored = rowsOf<{ id: string | number; stored_at: Date }>(await ctx.db.raw('SELECT id, stored_at FROM scores ORDER BY id'));
    assert.deepEqual(
      stored.map((r) => new Date(r.stored_at).toISOString()),
      [day(1), day(2, 5), day(3), day(4)],
      'LEAST(result_date, created_at): genuine rows keep their date, the future-dated one its storing time',
    );
    const l = await repoLatestOf(ctx.db, KEY);
    assert.deepEqual([Number(l.score_id), Number(l.score), new Date(l.scored_at).toISOString()], [ids.get('c'), 3.0, day(4)]);
    // The chain in stored order: a, f, b, c.
    assert.deepEqual(await scoreRows(), [
      [ids.get('a'), null, null],
      [ids.get('f'), ids.get('a'), 4.9],
      [ids.get('b'), ids.get('f'), -7.9],
      [ids.get('c'), ids.get('b'), 1.0],
    ]);
    assert.equal((await latestScore(ctx.db, KEY))?.score, 3.0);

    // A new genuine result through the harvest path is the newest and follows c.
    const g = await harvest(ctx.db, KEY, 9, 4.0, day(5), new Date(day(5, 5)));
    assert.equal(g.latest, true);
    assert.equal(g.previous?.id, ids.get('c'));
    assert.equal(Number((await repoLatestOf(ctx.db, KEY)).score), 4.0);
    // stored_at is required and defaults to the database's time for other writers.
    const nullable = rowsOf<{ is_nullable: string; column_default: string | null }>(
      await ctx.db.raw(`SELECT is_nullable, column_default FROM information_schema.columns WHERE table_name = 'scores' AND column_name = 'stored_at'`),
    )[0];
    assert.equal(nullable.is_nullable, 'NO');
    assert.match(nullable.column_default ?? '', /now\(\)/);
    assert.match(await indexDef('scores_repo_idx'), /\(repo_id, stored_at DESC, id DESC\)/);
    assert.match(await indexDef('repo_latest_age_idx'), /\(scored_at\) WHERE \(NOT failing\)/);
  });

  test('the down migration restores the order by result date', async () => {
    assert.deepEqual(await migrateDownOne(ctx.db), ['008_shard_runs']);
    assert.deepEqual(await migrateDownOne(ctx.db), ['007_stored_order']);
    const l = await repoLatestOf(ctx.db, KEY);
    assert.equal(Number(l.score_id), ids.get('f'), 'by result date again');
    const cols = rowsOf(await ctx.db.raw(`SELECT 1 FROM information_schema.columns WHERE table_name = 'scores' AND column_name = 'stored_at'`));
    assert.equal(cols.length, 0);
    assert.match(await indexDef('scores_repo_idx'), /\(repo_id, result_date DESC, id DESC\)/);
    assert.deepEqual(await migrate(ctx.db, { to: '008_shard_runs' }), ['007_stored_order', '008_shard_runs'], 'and up again');
    assert.equal(Number((await repoLatestOf(ctx.db, KEY)).score), 4.0);
  });
});
