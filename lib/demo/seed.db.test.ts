// posture demo on both databases: idempotence, and the labelled mix of states the dashboard
// should show (its pure parts are in seed.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDatabase } from '../db/testing.ts';
import { seedDemo } from './seed.ts';

describeEachDatabase('posture demo', (ctx) => {
  test('seeds labelled repositories with histories; a second run adds nothing', async () => {
    const now = new Date('2026-11-20T12:00:00Z');
    const first = await seedDemo(ctx.db, { repos: 11, history: 4, now });
    assert.deepEqual({ ...first }, { repos: 11, results: 40, failures: 1, alreadyThere: 0 });
    const again = await seedDemo(ctx.db, { repos: 11, history: 4, now });
    assert.deepEqual({ ...again }, { repos: 11, results: 0, failures: 0, alreadyThere: 41 });
    const repos = await ctx.db('repos').select('key', 'metadata');
    assert.equal(repos.length, 11);
    assert.ok(repos.every((r: any) => r.key.startsWith('github.com/posture-demo/') && r.metadata === 'posture demo'));
    const latest = (
      await ctx.db.raw(
        `SELECT count(*) FILTER (WHERE score_id IS NULL)::int AS never, count(*) FILTER (WHERE failing)::int AS failing, count(*) FILTER (WHERE delta IS NOT NULL)::int AS with_delta FROM repo_latest`,
      )
    ).rows[0];
    assert.deepEqual(latest, { never: 1, failing: 1, with_delta: 10 });
  });
});
