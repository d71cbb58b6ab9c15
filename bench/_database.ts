// A named PostgreSQL database a benchmark builds once and reuses while it still holds what the
// benchmark needs (building a million rows takes minutes): dropped and created again otherwise.
import pg from 'pg';
import { type Db, migrate, openDb } from '../lib/db/index.ts';
import { TEST_PG_ADMIN_URL } from '../lib/db/testing.ts';

/**
 * Opens database `name` on the test server, migrated. `complete` says (from a plain client)
 * whether an existing one can be reused; `fresh` drops it regardless. `reused` tells the caller
 * whether to build its rows.
 */
export async function benchDatabase(
  name: string,
  complete: (c: pg.Client) => Promise<boolean>,
  fresh = false,
): Promise<{ url: string; db: Db; reused: boolean }> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`a benchmark database needs a plain name, got ${name}`);
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  let reused = false;
  if (exists && !fresh) {
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      reused = await complete(c);
    } catch {
      reused = false;
    }
    await c.end();
  }
  if (!reused) {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  }
  await admin.end();
  const db = openDb({ databaseUrl: url.toString() });
  await migrate(db);
  return { url: url.toString(), db, reused };
}
