// Runs the migrations, from an explicit list (ESM-safe, no directory scanning at run time).
import type { Knex } from 'knex';
import * as m001 from './migrations/001_initial.ts';
import * as m002 from './migrations/002_faults.ts';
import * as m003 from './migrations/003_scale.ts';
import * as m004 from './migrations/004_dashboard.ts';
import * as m005 from './migrations/005_recent_runs.ts';
import * as m006 from './migrations/006_not_the_repositorys.ts';
import * as m007 from './migrations/007_stored_order.ts';
import * as m008 from './migrations/008_shard_runs.ts';
import * as m009 from './migrations/009_policy.ts';
import * as m010 from './migrations/010_sources.ts';
import * as m011 from './migrations/011_audit.ts';
import * as m012 from './migrations/012_alerts.ts';

const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '001_initial': m001,
  '002_faults': m002,
  '003_scale': m003,
  '004_dashboard': m004,
  '005_recent_runs': m005,
  '006_not_the_repositorys': m006,
  '007_stored_order': m007,
  '008_shard_runs': m008,
  '009_policy': m009,
  '010_sources': m010,
  '011_audit': m011,
  '012_alerts': m012,
};

/** The migrations up to and including `last` (all when undefined). */
function sourceUpTo(last?: string): Knex.MigrationSource<string> {
  return {
    getMigrations: async () =>
      Object.keys(migrations)
        .sort()
        .filter((n) => last === undefined || n <= last),
    getMigrationName: (name) => name,
    getMigration: async (name) => migrations[name],
  };
}

const TABLE = 'posture_migrations';

/**
 * Applies pending migrations; returns the names applied. Safe to call on every start. `to`
 * stops after that migration (tests of a migration's data: a database as an older release left it).
 */
export async function migrate(db: Knex, options: { to?: string } = {}): Promise<string[]> {
  if (options.to !== undefined && !Object.hasOwn(migrations, options.to)) throw new Error(`no migration named ${options.to}`);
  const [, applied] = (await db.migrate.latest({ migrationSource: sourceUpTo(options.to), tableName: TABLE })) as [number, string[]];
  return applied;
}

/** Undoes the newest applied migration; returns its name (tests of a down migration). */
export async function migrateDownOne(db: Knex): Promise<string[]> {
  const [, undone] = (await db.migrate.down({ migrationSource: sourceUpTo(), tableName: TABLE })) as [number, string[]];
  return undone;
}
