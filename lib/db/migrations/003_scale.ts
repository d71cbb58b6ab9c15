// What a tick needs at a million repositories: every statement it runs on an index, a place
// for the Job sweep's cursor and the prune's cursor, and scores whose raw document may be
// pruned (the score row itself is kept forever).
import type { Knex } from 'knex';

const schema = `
    -- releaseExpiredLeases and claimsOf touch leased rows only: a few hundred out of a million.
    CREATE INDEX repos_lease_expiry_idx ON repos (lease_expires_at) WHERE lease_owner IS NOT NULL;
    CREATE INDEX repos_lease_owner_idx ON repos (lease_owner) WHERE lease_owner IS NOT NULL;

    -- Retention: raw documents and check details are kept for the last N results of a repository.
    ALTER TABLE scores ALTER COLUMN raw DROP NOT NULL;
    -- The prune walks only the results that still hold a document.
    CREATE INDEX scores_detailed_idx ON scores (id) WHERE raw IS NOT NULL;

    -- One row: where the scheduler's slow background work resumes on the next tick.
    CREATE TABLE maintenance (
      id                 integer PRIMARY KEY CHECK (id = 1),
      job_sweep_continue text,                     -- continue token of the Job sweep (metadata-only pages)
      job_sweep_pages    bigint NOT NULL DEFAULT 0,
      prune_after_id     bigint NOT NULL DEFAULT 0, -- the prune resumes after this score id
      updated_at         timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO maintenance (id) VALUES (1);
`;

export async function up(knex: Knex): Promise<void> {
  for (const statement of schema
    .split(/;\s*\n/)
    .map((x) => x.trim())
    .filter((x) => x.replace(/--.*$/gm, '').trim() !== '')) {
    await knex.raw(statement);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS maintenance');
  await knex.raw('DROP INDEX IF EXISTS scores_detailed_idx');
  await knex.raw(`UPDATE scores SET raw = '{}'::jsonb WHERE raw IS NULL`);
  await knex.raw('ALTER TABLE scores ALTER COLUMN raw SET NOT NULL');
  await knex.raw('DROP INDEX IF EXISTS repos_lease_owner_idx');
  await knex.raw('DROP INDEX IF EXISTS repos_lease_expiry_idx');
}
