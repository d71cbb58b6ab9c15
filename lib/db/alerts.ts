// Alerts' storage (migration 012): each repository's open alert, each event acted on (once, by
// its CloudEvent id) and each delivery of it to a target with its outcome.
import type { Db } from './connect.ts';
import { numberOrNull, parsedJson, rowsOf } from './rows.ts';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'suppressed';

export interface AlertEventRecord {
  eventId: string;
  repo: string;
  type: string;
  action: string;
  reasons: string[];
  title: string;
  text: string;
  markdown: string;
  link: string | null;
  receivedAt: Date;
}

export interface DeliveryRecord {
  id: number;
  eventId: string;
  repo: string;
  action: string;
  target: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  detail: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewAlert<S> {
  eventId: string;
  repo: string;
  type: string;
  /** Decides from the repository's current state (read under a row lock). */
  decide(
    state: S | null,
    lastSentAt: Date | null,
  ): {
    action: string;
    reasons: string[];
    next: S | null;
    title: string;
    text: string;
    markdown: string;
    link?: string;
    deliveries: Array<{ target: string; status: 'pending' | 'suppressed' }>;
  };
}

const repoKey = (repo: string) => repo.toLowerCase();

function eventOf(r: Record<string, unknown>): AlertEventRecord {
  return {
    eventId: String(r.event_id),
    repo: String(r.repo),
    type: String(r.type),
    action: String(r.action),
    reasons: parsedJson<string[]>(r.reasons),
    title: String(r.title),
    text: String(r.text),
    markdown: String(r.markdown),
    link: (r.link as string | null) ?? null,
    receivedAt: new Date(r.received_at as string),
  };
}

function deliveryOf(r: Record<string, unknown>): DeliveryRecord {
  return {
    id: Number(r.id),
    eventId: String(r.event_id),
    repo: String(r.repo),
    action: String(r.action),
    target: String(r.target),
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    lastStatus: numberOrNull(r.last_status),
    lastError: (r.last_error as string | null) ?? null,
    detail: (r.detail as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/**
 * Records an event once: decides under the repository's row lock, stores the next state, the
 * event and its deliveries in one transaction. A second call with the same id changes nothing
 * (`fresh: false`) and returns what the first one stored.
 */
export async function recordAlertEvent<S>(db: Db, a: NewAlert<S>): Promise<{ fresh: boolean; event: AlertEventRecord }> {
  const repo = repoKey(a.repo);
  return db.transaction(async (tx) => {
    await tx.raw('INSERT INTO alert_state (repo, state) VALUES (?, NULL) ON CONFLICT (repo) DO NOTHING', [repo]);
    const st = rowsOf<{ state: unknown; last_sent_at: Date | null }>(
      await tx.raw('SELECT state, last_sent_at FROM alert_state WHERE repo = ? FOR UPDATE', [repo]),
    )[0];
    const seen = rowsOf<Record<string, unknown>>(await tx.raw('SELECT * FROM alert_events WHERE event_id = ?', [a.eventId]))[0];
    if (seen) return { fresh: false, event: eventOf(seen) };
    const state = st.state === null || st.state === undefined ? null : parsedJson<S>(st.state);
    const d = a.decide(state, st.last_sent_at ? new Date(st.last_sent_at) : null);
    const ev = rowsOf<Record<string, unknown>>(
      await tx.raw(
        `INSERT INTO alert_events (event_id, repo, type, action, reasons, title, text, markdown, link)
         VALUES (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?) RETURNING *`,
        [a.eventId, repo, a.type, d.action, JSON.stringify(d.reasons), d.title, d.text, d.markdown, d.link ?? null],
      ),
    )[0];
    for (const del of d.deliveries) {
      await tx.raw('INSERT INTO alert_deliveries (event_id, target, status) VALUES (?, ?, ?)', [a.eventId, del.target, del.status]);
    }
    const sent = d.deliveries.some((x) => x.status === 'pending');
    await tx.raw(`UPDATE alert_state SET state = ?::jsonb, updated_at = now(), last_sent_at = CASE WHEN ? THEN now() ELSE last_sent_at END WHERE repo = ?`, [
      d.next === null ? null : JSON.stringify(d.next),
      sent,
      repo,
    ]);
    return { fresh: true, event: eventOf(ev) };
  });
}

/** The deliveries of an event not yet done (pending, or failed and to be tried again). */
export async function undeliveredOf(db: Db, eventId: string): Promise<DeliveryRecord[]> {
  return rowsOf<Record<string, unknown>>(
    await db.raw(
      `SELECT d.*, e.repo, e.action FROM alert_deliveries d JOIN alert_events e USING (event_id)
       WHERE d.event_id = ? AND d.status IN ('pending', 'failed') ORDER BY d.id`,
      [eventId],
    ),
  ).map(deliveryOf);
}

/** Records the outcome of one delivery attempt series. */
export async function recordDelivery(
  db: Db,
  id: number,
  outcome: { ok: boolean; attempts: number; status?: number; error?: string; detail?: string },
): Promise<void> {
  await db.raw(
    `UPDATE alert_deliveries SET status = ?, attempts = attempts + ?, last_status = ?, last_error = ?, detail = COALESCE(?, detail),
       updated_at = now(), delivered_at = CASE WHEN ? THEN now() ELSE delivered_at END WHERE id = ?`,
    [
      outcome.ok ? 'delivered' : 'failed',
      outcome.attempts,
      outcome.status ?? null,
      outcome.ok ? null : (outcome.error ?? 'failed'),
      outcome.detail ?? null,
      outcome.ok,
      id,
    ],
  );
}

/** The alert state of a repository (null: nothing open). */
export async function alertStateOf<S>(db: Db, repo: string): Promise<S | null> {
  const r = rowsOf<{ state: unknown }>(await db.raw('SELECT state FROM alert_state WHERE repo = ?', [repoKey(repo)]))[0];
  return r?.state === null || r?.state === undefined ? null : parsedJson<S>(r.state);
}

/** A repository's alerts, newest first, with their deliveries (the dashboard). */
export async function alertsOfRepo(db: Db, repo: string, limit = 20): Promise<Array<AlertEventRecord & { deliveries: DeliveryRecord[] }>> {
  const events = rowsOf<Record<string, unknown>>(
    await db.raw(`SELECT * FROM alert_events WHERE repo = ? AND action <> 'none' ORDER BY received_at DESC, event_id DESC LIMIT ?`, [repoKey(repo), limit]),
  ).map(eventOf);
  if (events.length === 0) return [];
  const ids = events.map((e) => e.eventId);
  const dels = rowsOf<Record<string, unknown>>(
    await db.raw(
      `SELECT d.*, e.repo, e.action FROM alert_deliveries d JOIN alert_events e USING (event_id) WHERE d.event_id IN (${ids.map(() => '?').join(',')}) ORDER BY d.id`,
      ids,
    ),
  ).map(deliveryOf);
  return events.map((e) => ({ ...e, deliveries: dels.filter((d) => d.eventId === e.eventId) }));
}

/** Deliveries that failed (after their retries), newest first: the dashboard's list of what did not arrive. */
export async function failedDeliveries(db: Db, limit = 50): Promise<DeliveryRecord[]> {
  return rowsOf<Record<string, unknown>>(
    await db.raw(
      `SELECT d.*, e.repo, e.action FROM alert_deliveries d JOIN alert_events e USING (event_id)
       WHERE d.status = 'failed' ORDER BY d.updated_at DESC, d.id DESC LIMIT ?`,
      [limit],
    ),
  ).map(deliveryOf);
}
