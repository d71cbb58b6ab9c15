// Score changes and the dashboard's read model. Every score row learns its predecessor (the
// repository's previous result by result date) and the delta when it is inserted, and
// repo_latest keeps one row per repository with its newest result, so the list route and the
// fleet page are index scans, not a DISTINCT ON over the whole history. Triggers keep both
// right for every writer (the harvester, `posture demo`, a restore), out-of-order results too.
import type { Knex } from 'knex';

const statements = [
  `ALTER TABLE scores ADD COLUMN previous_score_id bigint`,
  `ALTER TABLE scores ADD COLUMN delta numeric(3,1)`,

  `CREATE TABLE repo_latest (
     repo_id     bigint PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
     key         text NOT NULL,                 -- repos.key, for name order and paging
     owner       text NOT NULL,                 -- lower-cased owner (second segment of key)
     score_id    bigint,                        -- the newest result by (result_date, id); null: never scored
     score       numeric(3,1),
     delta       numeric(3,1),                  -- score minus the previous result's; null: first result
     result_date timestamptz,
     scored_at   timestamptz,                   -- when posture stored it
     failing     boolean NOT NULL DEFAULT false -- the newest run failed (repos.consecutive_failures > 0)
   )`,
  `CREATE UNIQUE INDEX repo_latest_key_idx ON repo_latest (key)`,
  `CREATE INDEX repo_latest_owner_idx ON repo_latest (owner, key)`,
  `CREATE INDEX repo_latest_score_idx ON repo_latest (score, repo_id) WHERE score IS NOT NULL`,
  `CREATE INDEX repo_latest_delta_idx ON repo_latest (delta, repo_id) WHERE delta IS NOT NULL`,
  `CREATE INDEX repo_latest_result_idx ON repo_latest (result_date, repo_id) WHERE result_date IS NOT NULL`,
  `CREATE INDEX repo_latest_failing_idx ON repo_latest (key) WHERE failing`,
  // Fresh and overdue are ages of results among repositories that are not failing (see listRepos's sparse states).
  `CREATE INDEX repo_latest_age_idx ON repo_latest (result_date) WHERE NOT failing`,
  `CREATE INDEX repo_latest_never_idx ON repo_latest (key) WHERE score_id IS NULL`,
  // Recent failures by class on the fleet page.
  `CREATE INDEX runs_failed_idx ON runs (finished_at) WHERE outcome = 'failed'`,

  // One row: the fleet page's aggregates, recomputed in the background (they scan every latest result).
  `CREATE TABLE fleet_snapshot (
     id               integer PRIMARY KEY CHECK (id = 1),
     computed_at      timestamptz,
     took_ms          integer,
     data             jsonb,
     refreshing_until timestamptz                -- one refresher at a time across replicas
   )`,
  `INSERT INTO fleet_snapshot (id) VALUES (1)`,

  `CREATE FUNCTION posture_repo_latest_insert() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO repo_latest (repo_id, key, owner, failing)
     VALUES (NEW.id, NEW.key, split_part(NEW.key, '/', 2), NEW.consecutive_failures > 0)
     ON CONFLICT (repo_id) DO NOTHING;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER repos_latest_insert AFTER INSERT ON repos FOR EACH ROW EXECUTE FUNCTION posture_repo_latest_insert()`,

  `CREATE FUNCTION posture_repo_latest_failing() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     UPDATE repo_latest SET failing = NEW.consecutive_failures > 0
      WHERE repo_id = NEW.id AND failing IS DISTINCT FROM (NEW.consecutive_failures > 0);
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER repos_latest_failing AFTER UPDATE OF consecutive_failures ON repos FOR EACH ROW EXECUTE FUNCTION posture_repo_latest_failing()`,

  // Before insert: the predecessor is the newest result ordered before this one.
  `CREATE FUNCTION posture_score_previous() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE prev record;
   BEGIN
     SELECT id, score INTO prev FROM scores
      WHERE repo_id = NEW.repo_id AND (result_date, id) < (NEW.result_date, NEW.id)
      ORDER BY result_date DESC, id DESC LIMIT 1;
     IF FOUND THEN
       NEW.previous_score_id := prev.id;
       NEW.delta := NEW.score - prev.score;
     ELSE
       NEW.previous_score_id := NULL;
       NEW.delta := NULL;
     END IF;
     RETURN NEW;
   END $$`,
  `CREATE TRIGGER scores_previous BEFORE INSERT ON scores FOR EACH ROW EXECUTE FUNCTION posture_score_previous()`,

  // After insert: a result that arrived late becomes its successor's predecessor, and the
  // repository's newest result is re-read (it is this one unless this one arrived late).
  `CREATE FUNCTION posture_score_latest() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     UPDATE scores SET previous_score_id = NEW.id, delta = score - NEW.score
      WHERE id = (SELECT id FROM scores
                   WHERE repo_id = NEW.repo_id AND (result_date, id) > (NEW.result_date, NEW.id)
                   ORDER BY result_date, id LIMIT 1);
     INSERT INTO repo_latest (repo_id, key, owner, score_id, score, delta, result_date, scored_at, failing)
     SELECT r.id, r.key, split_part(r.key, '/', 2), s.id, s.score, s.delta, s.result_date, s.created_at, r.consecutive_failures > 0
       FROM repos r
       JOIN LATERAL (SELECT * FROM scores x WHERE x.repo_id = r.id ORDER BY x.result_date DESC, x.id DESC LIMIT 1) s ON true
      WHERE r.id = NEW.repo_id
     ON CONFLICT (repo_id) DO UPDATE
       SET score_id = EXCLUDED.score_id, score = EXCLUDED.score, delta = EXCLUDED.delta,
           result_date = EXCLUDED.result_date, scored_at = EXCLUDED.scored_at;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER scores_latest AFTER INSERT ON scores FOR EACH ROW EXECUTE FUNCTION posture_score_latest()`,

  // Rows that existed before this migration.
  `UPDATE scores s SET previous_score_id = p.prev_id, delta = s.score - p.prev_score
     FROM (SELECT id, lag(id) OVER w AS prev_id, lag(score) OVER w AS prev_score
             FROM scores WINDOW w AS (PARTITION BY repo_id ORDER BY result_date, id)) p
    WHERE p.id = s.id AND p.prev_id IS NOT NULL`,
  `INSERT INTO repo_latest (repo_id, key, owner, score_id, score, delta, result_date, scored_at, failing)
   SELECT r.id, r.key, split_part(r.key, '/', 2), s.id, s.score, s.delta, s.result_date, s.created_at, r.consecutive_failures > 0
     FROM repos r
     LEFT JOIN LATERAL (SELECT * FROM scores x WHERE x.repo_id = r.id ORDER BY x.result_date DESC, x.id DESC LIMIT 1) s ON true`,
];

export async function up(knex: Knex): Promise<void> {
  // One statement at a time: PGlite's driver prepares each query, and a prepared statement holds one command.
  for (const s of statements) await knex.raw(s.replace(/\?/g, '\\?'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS scores_latest ON scores');
  await knex.raw('DROP TRIGGER IF EXISTS scores_previous ON scores');
  await knex.raw('DROP TRIGGER IF EXISTS repos_latest_failing ON repos');
  await knex.raw('DROP TRIGGER IF EXISTS repos_latest_insert ON repos');
  await knex.raw('DROP FUNCTION IF EXISTS posture_score_latest(), posture_score_previous(), posture_repo_latest_failing(), posture_repo_latest_insert()');
  await knex.raw('DROP TABLE IF EXISTS fleet_snapshot, repo_latest');
  await knex.raw('DROP INDEX IF EXISTS runs_failed_idx');
  await knex.raw('ALTER TABLE scores DROP COLUMN IF EXISTS delta, DROP COLUMN IF EXISTS previous_score_id');
}
