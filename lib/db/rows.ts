// Rows as the two drivers hand them back, made one shape. knex answers a raw statement with the
// driver's result object (rows inside) and a builder query with the rows themselves; PGlite
// returns numeric columns as strings where pg, with connect.ts's parsers, returns numbers.
// Every statement's rows go through these, so the differences are handled once.

/** The rows of a raw statement's result (or of a builder query, already an array). */
export function rowsOf<T>(res: unknown): T[] {
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] } | null)?.rows ?? []) as T[];
}

/** Rows a statement inserted, updated or deleted. */
export function rowCount(res: unknown): number {
  const r = res as { rowCount?: number; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}

/** A nullable numeric column as a number (PGlite: a string). */
export function numberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A json or jsonb column as a value (text where a driver did not parse it). */
export function parsedJson<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
