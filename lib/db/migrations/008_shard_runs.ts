// Shards: one Scorecard Job scores several repositories (`--repos=a,b,c`), so a run is one
// repository's part of one Job. A Job's name and UID no longer name one run: the identity is
// (Job, repository), by name as the scheduler records it before the create and by UID once the
// API server answered, so a duplicated or reordered event still finds at most one run per
// repository of the Job.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite prepares each.
  await knex.raw('ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_job_name_key');
  await knex.raw('ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_job_uid_key');
  // job_name first: the harvester's and the reconcile's reads by Job name use this index.
  await knex.raw('ALTER TABLE runs ADD CONSTRAINT runs_job_name_repo_key UNIQUE (job_name, repo_id)');
  await knex.raw('ALTER TABLE runs ADD CONSTRAINT runs_job_uid_repo_key UNIQUE (job_uid, repo_id)');
}

export async function down(knex: Knex): Promise<void> {
  // Only a database with no shard runs goes back: a Job of several repositories has no one-run form.
  await knex.raw('ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_job_uid_repo_key');
  await knex.raw('ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_job_name_repo_key');
  await knex.raw('ALTER TABLE runs ADD CONSTRAINT runs_job_name_key UNIQUE (job_name)');
  await knex.raw('ALTER TABLE runs ADD CONSTRAINT runs_job_uid_key UNIQUE (job_uid)');
}
