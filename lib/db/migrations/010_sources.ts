// Onboarding an organisation (issue 37): sources (organisations rediscovered on a cadence), the
// GitHub pages they were listed from (ETags, so an unchanged page answers 304 and costs no
// quota), repositories a source retired (archived, or gone from it: kept with their history,
// never scheduled) and results imported from files (stored without a run).
import type { Knex } from 'knex';

/** What a retired repository's due time is held at: no claim ever reaches it (the claim reads next_due_at <= now). */
export const RETIRED_DUE_AT = '9999-12-31T00:00:00Z';

const upStatements = [
  `CREATE TABLE sources (
     id                 bigserial PRIMARY KEY,
     kind               text NOT NULL DEFAULT 'org' CHECK (kind IN ('org')),
     host               text NOT NULL,                  -- the repositories' identity host (github.com or the Enterprise host)
     name               text NOT NULL,                  -- the organisation's login as given
     key                text NOT NULL UNIQUE,           -- lower-cased host/name
     include_archived   boolean NOT NULL DEFAULT false,
     include_forks      boolean NOT NULL DEFAULT false,
     topic              text,                           -- only repositories with this topic
     next_due_at        timestamptz NOT NULL DEFAULT now(),
     last_discovered_at timestamptz,
     last_error         text,
     repo_count         integer,                        -- repositories the last discovery selected
     created_at         timestamptz NOT NULL DEFAULT now(),
     updated_at         timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX sources_due_idx ON sources (next_due_at)`,
  // One row per listing page posture fetched: its ETag and what it listed, so a 304 (free) is as
  // good as the page. Keyed by the page's URL (API base, path and query: never a credential).
  `CREATE TABLE github_pages (
     url        text PRIMARY KEY,
     etag       text NOT NULL,
     next_url   text,
     items      jsonb NOT NULL,
     fetched_at timestamptz NOT NULL DEFAULT now()
   )`,
  `ALTER TABLE repos ADD COLUMN source_id bigint REFERENCES sources(id) ON DELETE SET NULL`,
  `ALTER TABLE repos ADD COLUMN retired_at timestamptz`,
  `ALTER TABLE repos ADD COLUMN retired_reason text`,
  `CREATE INDEX repos_source_idx ON repos (source_id) WHERE source_id IS NOT NULL`,
  // A retired repository is never due, whatever writes its due time later (a harvest of a run
  // claimed before it was retired sets one): the row itself holds the rule.
  `CREATE FUNCTION posture_repo_retired() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF NEW.retired_at IS NOT NULL THEN NEW.next_due_at := '${RETIRED_DUE_AT}'::timestamptz; END IF;
     RETURN NEW;
   END $$`,
  `CREATE TRIGGER repos_retired BEFORE INSERT OR UPDATE ON repos FOR EACH ROW WHEN (NEW.retired_at IS NOT NULL) EXECUTE FUNCTION posture_repo_retired()`,
  // Imported results: no run (nothing was scheduled), marked as imported, and keyed so the same
  // result imported twice is stored once.
  `ALTER TABLE scores ALTER COLUMN run_id DROP NOT NULL`,
  `ALTER TABLE scores ADD COLUMN origin text NOT NULL DEFAULT 'scanned' CHECK (origin IN ('scanned', 'imported'))`,
  `ALTER TABLE scores ADD COLUMN import_key text`,
  `ALTER TABLE scores ADD CONSTRAINT scores_run_or_imported CHECK (run_id IS NOT NULL OR origin = 'imported')`,
  `CREATE UNIQUE INDEX scores_import_idx ON scores (repo_id, import_key) WHERE import_key IS NOT NULL`,
];

const downStatements = [
  `DROP INDEX IF EXISTS scores_import_idx`,
  `DELETE FROM checks WHERE score_id IN (SELECT id FROM scores WHERE run_id IS NULL)`,
  `UPDATE scores SET previous_score_id = NULL WHERE previous_score_id IN (SELECT id FROM scores WHERE run_id IS NULL)`,
  `DELETE FROM repo_latest WHERE score_id IN (SELECT id FROM scores WHERE run_id IS NULL)`,
  `DELETE FROM scores WHERE run_id IS NULL`,
  `ALTER TABLE scores DROP CONSTRAINT IF EXISTS scores_run_or_imported`,
  `ALTER TABLE scores DROP COLUMN IF EXISTS import_key`,
  `ALTER TABLE scores DROP COLUMN IF EXISTS origin`,
  `ALTER TABLE scores ALTER COLUMN run_id SET NOT NULL`,
  `DROP TRIGGER IF EXISTS repos_retired ON repos`,
  `DROP FUNCTION IF EXISTS posture_repo_retired()`,
  `DROP INDEX IF EXISTS repos_source_idx`,
  `ALTER TABLE repos DROP COLUMN IF EXISTS retired_reason`,
  `ALTER TABLE repos DROP COLUMN IF EXISTS retired_at`,
  `ALTER TABLE repos DROP COLUMN IF EXISTS source_id`,
  `DROP TABLE IF EXISTS github_pages`,
  `DROP TABLE IF EXISTS sources`,
];

// One statement at a time: PGlite's driver prepares each query, and a prepared statement holds one command.
export async function up(knex: Knex): Promise<void> {
  for (const s of upStatements) await knex.raw(s.replace(/\?/g, '\\?'));
}

export async function down(knex: Knex): Promise<void> {
  for (const s of downStatements) await knex.raw(s.replace(/\?/g, '\\?'));
}
