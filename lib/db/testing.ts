// Runs a database test suite twice: on embedded PGlite and on the real PostgreSQL of the
// machine, in a database created for the run and dropped after it.

import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import pg from 'pg';
import { type Db, openDb } from './connect.ts';
import { migrate } from './migrate.ts';
import { getRepo } from './repos.ts';
import { type HarvestInput, type HarvestStored, recordRun, storeHarvest } from './runs.ts';

/** Server used for the PostgreSQL half (its `test` database is only used to create ours). */
export const TEST_PG_ADMIN_URL = process.env.POSTURE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  db: Db;
  url?: string;
  drop(): Promise<void>;
}

export async function createPostgresDatabase(): Promise<TestDatabase> {
  const name = `posture_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const db = openDb({ databaseUrl: url.toString() });
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.destroy();
      const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function createPgliteDatabase(): Promise<TestDatabase> {
  const db = openDb({ dataDir: 'memory' });
  return { db, drop: () => db.destroy() };
}

export const databaseKinds = [
  { kind: 'pglite', create: createPgliteDatabase },
  { kind: 'postgres', create: createPostgresDatabase },
] as const;

/**
 * describe() the suite once per database kind; `ctx.db` is a migrated, empty database for the
 * whole suite. Titles end in [pglite] or [postgres], so the test output shows both ran.
 */
export function describeEachDatabase(title: string, suite: (ctx: { readonly db: Db; readonly kind: string; readonly url?: string }) => void): void {
  for (const { kind, create } of databaseKinds) {
    describe(`${title} [${kind}]`, () => {
      let t: TestDatabase | undefined;
      const ctx = {
        kind,
        get db(): Db {
          if (!t) throw new Error('database not ready');
          return t.db;
        },
        get url() {
          return t?.url;
        },
      };
      before(async () => {
        t = await create();
        await migrate(t.db);
      });
      after(async () => {
        await t?.drop();
      });
      suite(ctx);
    });
  }
}

/** A database per kind, not migrated: for tests of a migration, which migrate it as far as they need. */
export function describeEachFreshDatabase(title: string, suite: (ctx: { readonly db: Db }) => void): void {
  for (const { kind, create } of databaseKinds) {
    describe(`${title} [${kind}]`, () => {
      let t: TestDatabase | undefined;
      const ctx = {
        get db(): Db {
          if (!t) throw new Error('database not ready');
          return t.db;
        },
      };
      before(async () => {
        t = await create();
      });
      after(async () => t?.drop());
      suite(ctx);
    });
  }
}

/** Makes every repository due at `at` (tests that schedule through the real tick). */
export async function setEveryRepoDueAt(db: Db, at: Date): Promise<void> {
  await db('repos').update({ next_due_at: at });
}

/** Every repository due at `at` and claimed by nobody (a test's next tick claims them afresh). */
export async function setEveryRepoDueAndFree(db: Db, at: Date): Promise<void> {
  await db('repos').update({ next_due_at: at, lease_owner: null, lease_expires_at: null });
}

/** Empties what a tick and a harvest write, and frees the scheduler's state, between tests of one suite. */
export async function resetScheduling(db: Db): Promise<void> {
  await db.raw('TRUNCATE checks, scores, runs, repos, ticks, budget RESTART IDENTITY CASCADE');
  await db('scheduler_state').update({ not_before: null, backoff_seconds: 0, tick_lock_owner: null, tick_lock_until: null, github_wait_until: null });
}

/**
 * For tests of the harvest's write: records the run the scheduler would have (a harvest never
 * creates one), then stores. A repository not in the database gets no run.
 */
export async function storeRecorded(db: Db, input: HarvestInput): Promise<HarvestStored> {
  const repo = await getRepo(db, input.repoKey);
  if (repo) await recordRun(db, { repoId: repo.id, jobName: input.jobName, tickSlot: null });
  return storeHarvest(db, input);
}

/** Every row of every table as text (tests that search the whole database, e.g. for a secret that must not be there). */
export async function everyRowAsText(db: Db): Promise<string> {
  const { rowsOf } = await import('./rows.ts');
  const tables = rowsOf<{ table_name: string }>(
    await db.raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`),
  );
  const out: string[] = [];
  for (const t of tables) {
    const rows = rowsOf<{ row: string }>(await db.raw(`SELECT t::text AS row FROM "${t.table_name.replace(/"/g, '""')}" t`));
    out.push(`-- ${t.table_name}`, ...rows.map((r) => r.row));
  }
  return out.join('\n');
}
