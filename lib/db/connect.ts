// Opens the database: PostgreSQL when DATABASE_URL is set, otherwise the embedded PGlite in
// <dataDir>/db. Both speak the same SQL, so one set of migrations and queries serves both.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knexModule, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { type Config, redactUrl } from '../config/index.ts';
import { describeDatabaseError } from './errors.ts';

export type Db = Knex;

// Return int8 and numeric columns as JS numbers (our ids stay far below 2^53; scores are x.y).
pg.types.setTypeParser(20, (v: string) => Number(v));
pg.types.setTypeParser(1700, (v: string) => Number(v));

export { DATABASE_UNAVAILABLE } from '../config/redact.ts';
export { describeDatabaseError, isDatabaseError, publicFailure } from './errors.ts';

export class DatabaseUnreachableError extends Error {
  constructor(target: string, cause: unknown) {
    super(`cannot reach the database at ${target}: ${describeDatabaseError(cause)}`);
    this.name = 'DatabaseUnreachableError';
  }
}

// knex prints pool errors with stacks to stderr; every such error also rejects the query, and
// callers report it once, clearly.
const quietKnexLog = { warn() {}, error() {}, deprecate() {}, debug() {} };

export interface DbOptions {
  databaseUrl?: string;
  /** Folder of the embedded database; `memory` keeps it in memory (tests). */
  dataDir?: string;
  poolMax?: number;
  /** PostgreSQL: prepare the hot statements once per connection, by name (default true). */
  preparedStatements?: boolean;
}

/** The database options a process's configuration gives. */
export function dbOptions(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPreparedStatements'>): DbOptions {
  return { databaseUrl: config.databaseUrl, dataDir: config.dataDir, preparedStatements: config.dbPreparedStatements };
}

// Set in the knex configuration (which knex copies with its unknown keys, and shares with the
// instance's transactions) when hot statements are prepared by name. Why: the harvest's one write
// is a long statement of CTEs that PostgreSQL parsed and planned again for every result, a large
// share of its time on the server (bench/harvest.ts prints both). Never for PGlite: the embedded
// database is in the process, and its driver has no named statements.
const PREPARED = 'posturePreparedStatements';

/**
 * Query options that make PostgreSQL prepare a statement once per connection under `name` (pg's
 * named statements: the first run parses it, later runs bind and execute), or none where the
 * database is PGlite or prepared statements are turned off. `name` must always go with the same text.
 */
export function preparedAs(db: Knex | Knex.Transaction, name: string): { name?: string } {
  return (db.client.config as Record<string, unknown>)[PREPARED] === true ? { name } : {};
}

export function describeTarget(options: DbOptions): string {
  if (options.databaseUrl) return redactUrl(options.databaseUrl);
  if (options.dataDir === 'memory') return 'embedded PGlite (in memory)';
  return `embedded PGlite in ${join(resolve(options.dataDir ?? '.posture'), 'db')}`;
}

/** Creates the knex instance; does not connect until first use (see checkConnection). */
export function openDb(options: DbOptions): Db {
  const knex = (knexModule as unknown as { knex: typeof knexModule }).knex ?? knexModule;
  if (options.databaseUrl) {
    const config: Knex.Config & { [PREPARED]?: boolean } = {
      client: 'pg',
      connection: { connectionString: options.databaseUrl, connectionTimeoutMillis: 5000 },
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: 10000,
      log: quietKnexLog,
    };
    if (options.preparedStatements !== false) config[PREPARED] = true;
    return knex(config);
  }
  let connection: object = {};
  if (options.dataDir !== 'memory') {
    const dir = join(resolve(options.dataDir ?? '.posture'), 'db');
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // the data folder too, where it is new: see lib/db/lock.ts
    connection = { filename: dir };
  }
  return knex({ client: ClientPgLite as unknown as Knex.Config['client'], dialect: 'postgres', connection, log: quietKnexLog });
}

/** Fails fast with DatabaseUnreachableError (a clear message, no stack) when the database is down. */
export async function checkConnection(db: Db, options: DbOptions): Promise<void> {
  try {
    await db.raw('select 1');
  } catch (err) {
    throw new DatabaseUnreachableError(describeTarget(options), err);
  }
}
