// Runs the migrations, from an explicit list (ESM-safe, no directory scanning at run time).
import type { Knex } from 'knex';
import * as m001 from './migrations/001_initial.ts';
import * as m002 from './migrations/002_faults.ts';
import * as m003 from './migrations/003_scale.ts';
import * as m004 from './migrations/004_dashboard.ts';
import * as m005 from './migrations/005_recent_runs.ts';
import * as m006 from './migrations/006_not_the_repositorys.ts';

const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '001_initial': m001,
  '002_faults': m002,
  '003_scale': m003,
  '004_dashboard': m004,
  '005_recent_runs': m005,
  '006_not_the_repositorys': m006,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name],
};

/** Applies pending migrations; returns the names applied. Safe to call on every start. */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: source, tableName: 'posture_migrations' })) as [number, string[]];
  return applied;
}
