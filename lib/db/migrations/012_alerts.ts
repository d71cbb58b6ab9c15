// Alerts (issue 38): what each repository was told, so a redelivered change event is the same
// alert (at-least-once in, once out), a restart finds the open alert again, and a failed
// delivery is recorded and retried, never lost silently. Keyed by the repository's name as the
// events carry it (lower case): an alert outlives a repository removed from the fleet.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite prepares each.
  await knex.raw(`CREATE TABLE alert_state (
    repo text PRIMARY KEY,
    state jsonb,
    last_sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`);
  await knex.raw(`CREATE TABLE alert_events (
    event_id text PRIMARY KEY,
    repo text NOT NULL,
    type text NOT NULL,
    action text NOT NULL,
    reasons jsonb NOT NULL DEFAULT '[]',
    title text NOT NULL DEFAULT '',
    text text NOT NULL DEFAULT '',
    markdown text NOT NULL DEFAULT '',
    link text,
    received_at timestamptz NOT NULL DEFAULT now()
  )`);
  await knex.raw('CREATE INDEX alert_events_repo_idx ON alert_events (repo, received_at DESC)');
  await knex.raw(`CREATE TABLE alert_deliveries (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL REFERENCES alert_events (event_id) ON DELETE CASCADE,
    target text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'suppressed')),
    attempts integer NOT NULL DEFAULT 0,
    last_status integer,
    last_error text,
    detail text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (event_id, target)
  )`);
  await knex.raw(`CREATE INDEX alert_deliveries_failed_idx ON alert_deliveries (updated_at DESC) WHERE status = 'failed'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS alert_deliveries');
  await knex.raw('DROP TABLE IF EXISTS alert_events');
  await knex.raw('DROP TABLE IF EXISTS alert_state');
}
