// Shared by the admission benchmarks: the database the Scorecard gate reads its score from.
import { tmpdir } from 'node:os';

/**
 * Creates the database if missing, migrates it, and stores one repository with a passing score
 * (7.1 >= the default threshold 5), so the gate admits after a cache hit, as the floor admits.
 */
export async function prepareBenchDatabase(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const u = new URL(url);
  const dbName = u.pathname.slice(1);
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const c = new pg.Client({ connectionString: adminUrl.toString() });
  await c.connect();
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
  if (exists.rowCount === 0) await c.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
  await c.end();
  const { openDb, migrate } = await import('../lib/db/index.ts');
  const db = openDb({ databaseUrl: url, dataDir: tmpdir() });
  await migrate(db);
  await db.raw(`INSERT INTO repos (key, canonical, host) VALUES ('github.com/bench/web', 'github.com/bench/web', 'github.com') ON CONFLICT (key) DO NOTHING`);
  const repo = (await db('repos').where({ key: 'github.com/bench/web' }).first()) as { id: number };
  if (!(await db('scores').where({ repo_id: repo.id }).first())) {
    const [run] = await db('runs').insert({ repo_id: repo.id, job_name: `bench-apiserver-${Date.now()}`, outcome: 'succeeded', finished_at: new Date() }).returning('id');
    await db('scores').insert({
      repo_id: repo.id,
      run_id: (run as { id: number }).id,
      score: 7.1,
      scorecard_version: 'v5.3.0',
      scorecard_commit: 'bench',
      repo_commit: 'bench',
      result_date: new Date(),
      raw: JSON.stringify({}),
    });
  }
  await db.destroy();
}

