// Promises under faults: the GitHub budget hour a claim was paid from (so a claim given back
// without a Job refunds that hour, not the current one).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE repos ADD COLUMN claim_budget_hour timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE repos DROP COLUMN IF EXISTS claim_budget_hour');
}
