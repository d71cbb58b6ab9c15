// Which failures are the database's, and what a reply may say about them: a reply (an event's
// answer, an API error, a page) says DATABASE_UNAVAILABLE, never pg's own words, which name the
// host and port, the user and the database. Logs carry describeDatabaseError (lib/db/connect.ts).
import { DATABASE_UNAVAILABLE, redactUrlsIn } from '../config/redact.ts';

const DATABASE_ERROR_NAMES = new Set(['DatabaseUnreachableError', 'KnexTimeoutError']);

/** Whether err came from the database or the way to it (pg, knex's pool, the socket to PostgreSQL). */
export function isDatabaseError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; severity?: unknown; message?: unknown };
  if (typeof e.name === 'string' && DATABASE_ERROR_NAMES.has(e.name)) return true;
  // pg's server errors carry a SQLSTATE and a severity.
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string') return true;
  // pg's own client-side failures.
  return typeof e.message === 'string' && /^(Connection terminated|timeout expired|Client has encountered a connection error)/.test(e.message);
}

/**
 * What a reply may say about err: DATABASE_UNAVAILABLE for a database failure; a socket's bare
 * error code (`connect ECONNREFUSED 10.0.0.5:5432` names the target: ECONNREFUSED does not);
 * otherwise its message.
 */
export function publicFailure(err: unknown): string {
  if (isDatabaseError(err)) return DATABASE_UNAVAILABLE;
  const e = err as { syscall?: unknown; code?: unknown; message?: unknown } | null;
  if (typeof e?.syscall === 'string' && typeof e.code === 'string') return e.code;
  return typeof e?.message === 'string' ? e.message : String(err);
}

/**
 * A database failure as an operator's log or the command line may carry it: the target redacted
 * (lib/config/redact.ts) and pg's message with any URL in it redacted. The host, port, user and
 * database stay: the operator set them, and a log that does not say which database failed does
 * not help them; passwords and key paths never appear.
 */
export function describeDatabaseError(err: unknown): string {
  return redactUrlsIn((err as Error)?.message ?? String(err));
}
