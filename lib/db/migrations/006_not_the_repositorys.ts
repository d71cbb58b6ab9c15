// Failures that are not the repository's, counted apart from its own: after a setting's worth in
// a row a repository is stuck (shown with its reason, retried on the backoff instead of after the
// base delay forever). And when GitHub's rate limit resets, as a Scorecard log said: the fleet
// starts no Job before then.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite prepares each.
  await knex.raw('ALTER TABLE repos ADD COLUMN IF NOT EXISTS other_failures integer NOT NULL DEFAULT 0');
  await knex.raw('ALTER TABLE repos ADD COLUMN IF NOT EXISTS other_error text');
  await knex.raw('ALTER TABLE scheduler_state ADD COLUMN IF NOT EXISTS github_wait_until timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE repos DROP COLUMN IF EXISTS other_failures');
  await knex.raw('ALTER TABLE repos DROP COLUMN IF EXISTS other_error');
  await knex.raw('ALTER TABLE scheduler_state DROP COLUMN IF EXISTS github_wait_until');
}
