// The circuit breaker reads the newest finished runs every tick (recentOutcomes): an index on
// their finish time, partial to finished runs, keeps that a short index scan at millions of
// runs instead of a sequential scan of the table (bench/tick.ts shows the difference).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS runs_finished_recent_idx ON runs (finished_at DESC) WHERE outcome <> 'pending'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS runs_finished_recent_idx');
}
