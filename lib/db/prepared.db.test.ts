// The harvest's write as a named prepared statement on PostgreSQL: prepared once per connection,
// the same results as unprepared, still right after a migration changes a table it writes, on
// every connection of the pool; off with POSTURE_DB_PREPARED_STATEMENTS=false, never on PGlite.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { defaultConfig } from '../config/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { addRepos, type Db, dbOptions, getRepo, type HarvestInput, latestScore, migrate, openDb, preparedAs, recordRun } from './index.ts';
import { createPgliteDatabase, createPostgresDatabase, storeRecorded } from './testing.ts';

const repo = (s: string): RepoId => {
  const r = parseRepo(s);
  if (!r.ok) throw new Error(r.reason);
  return r.repo;
};
const schedule = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 };
const finished = new Date('2030-01-01T00:00:00Z');

function input(key: string, job: string, score: number): HarvestInput {
  return {
    repoKey: key,
    jobName: job,
    jobUid: `uid-${job}`,
    finishedAt: finished,
    checkSet: null,
    schedule,
    outcome: {
      ok: true,
      flagged: false,
      result: {
        repo: key,
        commit: 'c0ffee',
        date: finished.toISOString(),
        scorecardVersion: 'v5.0.0',
        scorecardCommit: 'abc',
        score,
        checks: [{ name: 'Fuzzing', score: 3, reason: 'some fuzzing', details: ['d1'], documentation: { url: 'https://x/f', short: 'fuzz' } }],
        raw: { hello: 'world' } as never,
      },
    },
  };
}

/** Harvests `n` Jobs of one new repository and returns what each call answered and the latest score. */
async function harvestSome(db: Db, name: string, n: number) {
  await addRepos(db, [{ repo: repo(name) }]);
  const r = await getRepo(db, `github.com/${name}`);
  const answers = [];
  for (let i = 0; i < n; i++) {
    await recordRun(db, { repoId: r!.id, jobName: `${name.replace('/', '-')}-${i}`, jobUid: `uid-${name.replace('/', '-')}-${i}` });
    answers.push((await storeRecorded(db, input(`github.com/${name}`, `${name.replace('/', '-')}-${i}`, 5 + i))).status);
  }
  // The duplicate of the last one is still a duplicate.
  answers.push((await storeRecorded(db, input(`github.com/${name}`, `${name.replace('/', '-')}-${n - 1}`, 5 + n - 1))).status);
  return { answers, latest: await latestScore(db, `github.com/${name}`) };
}

/** Prepared statements of every session of this database, by name (pg_prepared_statements is per session: asked on each pooled connection). */
async function preparedOnEachConnection(db: Db, connections: number): Promise<string[][]> {
  const held = await Promise.all(Array.from({ length: connections }, () => db.client.acquireConnection() as Promise<pg.Client>));
  try {
    return await Promise.all(held.map(async (c) => (await c.query('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name as string)));
  } finally {
    for (const c of held) db.client.releaseConnection(c);
  }
}

test('PostgreSQL: the harvest write is prepared by name, once per connection, and answers as the unprepared one does', async () => {
  const t = await createPostgresDatabase();
  const plain = openDb({ databaseUrl: t.url, preparedStatements: false });
  try {
    await migrate(t.db);
    assert.deepEqual(preparedAs(t.db, 'x'), { name: 'x' });
    assert.deepEqual(preparedAs(plain, 'x'), {}, 'turned off');
    await t.db.transaction(async (trx) => assert.deepEqual(preparedAs(trx, 'x'), { name: 'x' }, 'a transaction of the same database prepares too'));

    const prepared = await harvestSome(t.db, 'p/prepared', 8);
    const unprepared = await harvestSome(plain, 'p/plain', 8);
    assert.deepEqual(prepared.answers, [...Array(8).fill('stored'), 'duplicate']);
    assert.deepEqual(unprepared.answers, prepared.answers);
    assert.equal(prepared.latest?.score, 12);
    const same = (l: typeof prepared.latest) => ({ ...l, repo: '', repoKey: '', runId: 0, createdAt: null });
    assert.deepEqual(same(prepared.latest), same(unprepared.latest));

    const names = (await preparedOnEachConnection(t.db, 1)).flat();
    assert.deepEqual(
      names.filter((n) => n === 'posture_harvest_write'),
      ['posture_harvest_write'],
      'prepared once on the connection that ran it',
    );
    assert.deepEqual((await preparedOnEachConnection(plain, 1)).flat(), [], 'nothing prepared with the setting off');
  } finally {
    await plain.destroy();
    await t.drop();
  }
});

test('PostgreSQL: a prepared harvest write still works after a migration changes a table it writes, and on concurrent connections', async () => {
  const t = await createPostgresDatabase();
  try {
    await migrate(t.db);
    assert.deepEqual((await harvestSome(t.db, 'p/before', 2)).answers, ['stored', 'stored', 'duplicate']);
    // A later release adds a column while this process still holds the statement: PostgreSQL
    // re-plans it (its result columns are named, so its row type stays the same).
    await t.db.raw('ALTER TABLE scores ADD COLUMN later_column integer');
    await t.db.raw('ALTER TABLE checks ADD COLUMN later_column text');
    assert.deepEqual((await harvestSome(t.db, 'p/after', 2)).answers, ['stored', 'stored', 'duplicate']);
    // Four harvests at once take four connections; each prepares the statement itself.
    await addRepos(
      t.db,
      [0, 1, 2, 3].map((i) => ({ repo: repo(`p/c${i}`) })),
    );
    const runs = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const r = await getRepo(t.db, `github.com/p/c${i}`);
        await recordRun(t.db, { repoId: r!.id, jobName: `c-${i}`, jobUid: `uid-c-${i}` });
      }),
    );
    assert.equal(runs.length, 4);
    const stored = await Promise.all([0, 1, 2, 3].map((i) => storeRecorded(t.db, input(`github.com/p/c${i}`, `c-${i}`, 7))));
    assert.deepEqual(
      stored.map((s) => s.status),
      ['stored', 'stored', 'stored', 'stored'],
    );
  } finally {
    await t.drop();
  }
});

test('PGlite never prepares by name; the configuration turns PostgreSQL statements on by default and off on request', async () => {
  const t = await createPgliteDatabase();
  try {
    assert.deepEqual(preparedAs(t.db, 'x'), {});
  } finally {
    await t.drop();
  }
  assert.equal(defaultConfig().dbPreparedStatements, true);
  assert.equal(dbOptions(defaultConfig()).preparedStatements, true);
  assert.equal(dbOptions(defaultConfig({ dbPreparedStatements: false })).preparedStatements, false);
});
