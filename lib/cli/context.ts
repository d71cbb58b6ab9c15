// What a command needs to talk to the database: config from the environment, an open,
// reachable, migrated database. Unreachable → DatabaseUnreachableError (exit 3, one line).
// Inside `posture up` (a forwarded command) the database is up's, and close() leaves it open.
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Config, loadConfig } from '../config/index.ts';
import { checkConnection, type Db, dbOptions, migrate, openDb } from '../db/index.ts';
import { lockDataDir } from '../db/lock.ts';
import type { CliIO, SharedDatabase } from './types.ts';

/** The database of the `posture up` a forwarded command runs in (set around the whole command). */
const upDatabase = new AsyncLocalStorage<SharedDatabase>();

/** Runs f with `database` as the database every openDbContext inside it returns. */
export function withSharedDatabase<T>(database: SharedDatabase, f: () => Promise<T>): Promise<T> {
  return upDatabase.run(database, f);
}

export interface DbContext {
  config: Config;
  db: Db;
  close(): Promise<void>;
}

/** Opens the database for a command: pass the command's io (or, as older commands do, its env). */
export async function openDbContext(source: CliIO | Record<string, string | undefined>, options: { migrate?: boolean } = {}): Promise<DbContext> {
  const io = isIO(source) ? source : undefined;
  const shared = io?.database ?? upDatabase.getStore();
  if (shared) return { config: shared.config, db: shared.db, close: async () => {} };
  const config = loadConfig(io ? io.env : (source as Record<string, string | undefined>));
  const release = config.databaseUrl ? () => {} : lockDataDir(config.dataDir, 'posture (command line)');
  const db = openDb(dbOptions(config));
  try {
    await checkConnection(db, dbOptions(config));
    if (options.migrate !== false) await migrate(db);
  } catch (err) {
    await db.destroy().catch(() => {});
    release();
    throw err;
  }
  return { config, db, close: () => db.destroy().finally(release) };
}

function isIO(x: unknown): x is CliIO {
  return typeof x === 'object' && x !== null && 'stdout' in x && 'env' in x && typeof (x as CliIO).env === 'object';
}
