// Each repository's verdict under the Scorecard policies in force (lib/policy): what the list,
// its verdict filter, the exports and the dashboard's compliance read, and what the harvester
// compares a new verdict against (dev.posture.policy.changed). One row per repository, judged
// under one policy set (digest): rows of another set are re-judged by the API's sweep. The
// verdict is the result's own, without its age: a pass past expires_at (its date plus the
// policy's maxAge) reads as unknown.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite prepares each.
  await knex.raw(`CREATE TABLE IF NOT EXISTS policy_verdicts (
      repo_id    bigint PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
      score_id   bigint,                                -- the result judged; null: none yet
      digest     text NOT NULL,                         -- the policy set it was judged under
      policy     text,                                  -- the policy that applies; null: none
      verdict    text CHECK (verdict IN ('pass', 'fail', 'unknown')),
      score      numeric(3,1),                          -- the policy's own aggregate
      failing    jsonb NOT NULL DEFAULT '[]'::jsonb,    -- rule ids that fail
      reasons    jsonb NOT NULL DEFAULT '[]'::jsonb,    -- every reason, as lib/policy gives them
      expires_at timestamptz,                           -- a pass is unknown from then (maxAge)
      judged_at  timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS policy_verdicts_verdict_idx ON policy_verdicts (digest, verdict)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS policy_verdicts');
}
