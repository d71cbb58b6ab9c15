// What a command needs to talk to the database: config from the environment, an open,
// reachable, migrated database. Unreachable → DatabaseUnreachableError (exit 3, one line).
import { loadConfig, type Config } from '../config/index.ts';
import { checkConnection, migrate, openDb, type Db, type DbOptions } from '../db/index.ts';
import { lockDataDir } from '../db/lock.ts';

export interface DbContext {
  config: Config;
  db: Db;
  close(): Promise<void>;
}

export function dbOptions(config: Config): DbOptions {
  return { databaseUrl: config.databaseUrl, dataDir: config.dataDir };
}

export async function openDbContext(env: Record<string, string | undefined>, options: { migrate?: boolean } = {}): Promise<DbContext> {
  const config = loadConfig(env);
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
