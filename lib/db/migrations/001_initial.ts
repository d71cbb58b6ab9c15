// The whole schema. Written as SQL because both targets are PostgreSQL and the claim index
// must be exactly what the claim query scans.
import type { Knex } from 'knex';

const schema = `
    CREATE TABLE repos (
      id               bigserial PRIMARY KEY,
      key              text NOT NULL UNIQUE,          -- lower-cased canonical name: GitHub is case-insensitive
      canonical        text NOT NULL,                 -- host/owner/name in the case first seen
      host             text NOT NULL,
      priority         integer NOT NULL DEFAULT 0,    -- higher is scored first
      metadata         text,                          -- the CSV's metadata column, as given
      next_due_at      timestamptz NOT NULL DEFAULT now(),
      lease_owner      text,                          -- tick slot that claimed it
      lease_expires_at timestamptz,
      claimed_due_at   timestamptz,                   -- next_due_at when claimed (names the Job)
      consecutive_failures integer NOT NULL DEFAULT 0,
      last_error       text,
      last_finished_at timestamptz,                   -- newest harvested run; older events cannot move the schedule back
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now()
    );
    -- The claim is one range scan of this index: due rows first within each priority.
    CREATE INDEX repos_claim_idx ON repos (priority DESC, next_due_at);

    CREATE TABLE runs (
      id            bigserial PRIMARY KEY,
      repo_id       bigint NOT NULL REFERENCES repos(id),
      job_name      text NOT NULL UNIQUE,
      job_uid       text UNIQUE,
      tick_slot     text,
      created_at    timestamptz NOT NULL DEFAULT now(),
      finished_at   timestamptz,
      outcome       text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'succeeded', 'failed')),
      failure_class text,
      reason        text,
      flagged       boolean NOT NULL DEFAULT false  -- stored, but some checks reported "internal error:"
    );
    CREATE INDEX runs_repo_idx ON runs (repo_id, id DESC);
    CREATE INDEX runs_pending_idx ON runs (created_at) WHERE outcome = 'pending';

    CREATE TABLE scores (
      id                bigserial PRIMARY KEY,
      repo_id           bigint NOT NULL REFERENCES repos(id),
      run_id            bigint NOT NULL UNIQUE REFERENCES runs(id),
      score             numeric(3,1) NOT NULL,
      scorecard_version text NOT NULL,
      scorecard_commit  text NOT NULL,
      repo_commit       text NOT NULL,
      result_date       timestamptz NOT NULL,
      check_set         jsonb,                       -- the --checks the run used; null: all
      raw               jsonb NOT NULL,
      created_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX scores_repo_idx ON scores (repo_id, result_date DESC, id DESC);
    CREATE INDEX scores_created_idx ON scores (created_at);

    CREATE TABLE checks (
      id                  bigserial PRIMARY KEY,
      score_id            bigint NOT NULL REFERENCES scores(id),
      name                text NOT NULL,
      score               smallint NOT NULL CHECK (score BETWEEN -1 AND 10),
      reason              text NOT NULL,
      details             jsonb,
      documentation_url   text,
      documentation_short text,
      internal_error      boolean NOT NULL DEFAULT false,
      UNIQUE (score_id, name)
    );

    -- One row: the seed's tick backoff, kept here so every replica and restart sees it.
    CREATE TABLE scheduler_state (
      id               integer PRIMARY KEY CHECK (id = 1),
      not_before       timestamptz,
      backoff_seconds  integer NOT NULL DEFAULT 0,
      last_tick_slot   text,
      tick_lock_owner  text,                        -- one tick at a time counts Jobs and creates them
      tick_lock_until  timestamptz,                 -- a crashed tick's lock expires
      updated_at       timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO scheduler_state (id) VALUES (1);

    -- A tick's logical key is its cron slot: the same slot delivered twice does the work once.
    CREATE TABLE ticks (
      slot        text PRIMARY KEY,
      started_at  timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      summary     jsonb
    );

    -- GitHub budget: Scorecard runs started per clock hour.
    CREATE TABLE budget (
      hour         timestamptz PRIMARY KEY,
      runs_started integer NOT NULL DEFAULT 0
    );
`;

export async function up(knex: Knex): Promise<void> {
  // One statement at a time: PGlite's driver prepares each query, and a prepared statement holds one command.
  for (const statement of schema
    .split(/;\s*\n/)
    .map((x) => x.trim())
    .filter((x) => x.replace(/--.*$/gm, '').trim() !== '')) {
    await knex.raw(statement);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS budget, ticks, scheduler_state, checks, scores, runs, repos CASCADE');
}
