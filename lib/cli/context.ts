// What a command needs to talk to the database: config from the environment, an open,
// reachable, migrated database. Unreachable → DatabaseUnreachableError (exit 3, one line).
// Inside `posture up` (a forwarded command) the database is up's, and close() leaves it open.
import { loadConfig, type Config } from '../config/index.ts';
import { checkConnection, migrate, openDb, type Db, type DbOptions } from '../db/index.ts';
import { lockDataDir } from '../db/lock.ts';
import type { CliIO } from './types.ts';

export interface DbContext {
  config: Config;
  db: Db;
  close(): Promise<void>;
}

export function dbOptions(config: Config): DbOptions {
  return { databaseUrl: config.databaseUrl, dataDir: config.dataDir };
}

/** Opens the database for a command: pass the command's io (or, as older commands do, its env). */
export async function openDbContext(source: CliIO | Record<string, string | undefined>, options: { migrate?: boolean } = {}): Promise<DbContext> {
  const io = isIO(source) ? source : undefined;
  if (io?.database) return { config: io.database.config, db: io.database.db, close: async () => {} };
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
