import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPostgresDatabase, type TestDatabase } from '../db/testing.ts';
import { runCliCaptured } from './testing.ts';

describe('posture db prune [postgres]', () => {
  let pg: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    pg = await createPostgresDatabase();
    env = { DATABASE_URL: pg.url! };
    assert.equal((await runCliCaptured(['db', 'migrate'], env)).code, 0);
    // Two repositories: 4 and 1 results, each with a document and a check with details.
    await pg.db.raw(
      `INSERT INTO repos (key, canonical, host) VALUES ('github.com/a/b', 'github.com/a/b', 'github.com'), ('github.com/c/d', 'github.com/c/d', 'github.com')`,
    );
    for (const [repoId, n] of [
      [1, 4],
      [2, 1],
    ]) {
      for (let i = 0; i < n; i++) {
        const [run] = await pg
          .db('runs')
          .insert({ repo_id: repoId, job_name: `j-${repoId}-${i}`, outcome: 'succeeded' })
          .returning('id');
        const [score] = await pg
          .db('scores')
          .insert({
            repo_id: repoId,
            run_id: run.id,
            score: 5,
            scorecard_version: 'v5',
            scorecard_commit: 'x',
            repo_commit: 'y',
            result_date: new Date(Date.UTC(2030, 0, 1 + i)),
            raw: JSON.stringify({ i }),
          })
          .returning('id');
        await pg.db('checks').insert({ score_id: score.id, name: 'Fuzzing', score: 3, reason: 'r', details: JSON.stringify(['d']) });
      }
    }
  });
  after(async () => pg?.drop());

  test('prunes beyond --keep, or the detailedResults setting; a second run finds nothing', async () => {
    const first = await runCliCaptured(['db', 'prune', '--keep', '2'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^pruned 2 of 5 detailed results \(kept the newest 2 per repository; every score kept\)\n$/);
    assert.equal(Number((await pg.db('scores').count('* as n').first())!.n), 5);
    assert.equal(Number((await pg.db('checks').whereNull('details').count('* as n').first())!.n), 2);
    const again = await runCliCaptured(['db', 'prune'], { ...env, POSTURE_DETAILED_RESULTS: '1' });
    assert.match(again.stdout, /^pruned 1 of 3 detailed results \(kept the newest 1 per repository/);
  });

  test('a bad --keep is a usage error that changes nothing', async () => {
    for (const args of [['--keep', '0'], ['--keep', 'x'], ['--keep'], ['--force']]) {
      const r = await runCliCaptured(['db', 'prune', ...args], env);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /usage: posture db prune \[--keep N\]/);
    }
    assert.equal(Number((await pg.db('scores').whereNotNull('raw').count('* as n').first())!.n), 2);
  });
});
