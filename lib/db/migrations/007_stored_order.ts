// "Latest" by the time posture stored a result, not by the date the result carries. That date
// comes from the Scorecard pod's clock: one result dated years ahead stayed the newest by date,
// hid every later result and froze the gate's score. scores.stored_at is the run's finish as the
// database saw it; the order of a repository's results (the predecessor and delta, repo_latest,
// every "latest" read) is (stored_at, id). The result's own date is kept and shown.
import type { Knex } from 'knex';

/** The triggers of migration 004, in the order given by `col` (stored_at here, result_date on the way down). */
function triggerFunctions(col: 'stored_at' | 'result_date', storedCol: 'stored_at' | 'created_at'): string[] {
  return [
    // Before insert: the predecessor is the newest result ordered before this one.
    `CREATE OR REPLACE FUNCTION posture_score_previous() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE prev record;
     BEGIN
       SELECT id, score INTO prev FROM scores
        WHERE repo_id = NEW.repo_id AND (${col}, id) < (NEW.${col}, NEW.id)
        ORDER BY ${col} DESC, id DESC LIMIT 1;
       IF FOUND THEN
         NEW.previous_score_id := prev.id;
         NEW.delta := NEW.score - prev.score;
       ELSE
         NEW.previous_score_id := NULL;
         NEW.delta := NULL;
       END IF;
       RETURN NEW;
     END $$`,
    // After insert: a result stored out of order becomes its successor's predecessor, and the
    // repository's newest result is re-read (it is this one unless this one sorts before another).
    `CREATE OR REPLACE FUNCTION posture_score_latest() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       UPDATE scores SET previous_score_id = NEW.id, delta = score - NEW.score
        WHERE id = (SELECT id FROM scores
                     WHERE repo_id = NEW.repo_id AND (${col}, id) > (NEW.${col}, NEW.id)
                     ORDER BY ${col}, id LIMIT 1);
       INSERT INTO repo_latest (repo_id, key, owner, score_id, score, delta, result_date, scored_at, failing)
       SELECT r.id, r.key, split_part(r.key, '/', 2), s.id, s.score, s.delta, s.result_date, s.${storedCol}, r.consecutive_failures > 0
         FROM repos r
         JOIN LATERAL (SELECT * FROM scores x WHERE x.repo_id = r.id ORDER BY x.${col} DESC, x.id DESC LIMIT 1) s ON true
        WHERE r.id = NEW.repo_id
       ON CONFLICT (repo_id) DO UPDATE
         SET score_id = EXCLUDED.score_id, score = EXCLUDED.score, delta = EXCLUDED.delta,
             result_date = EXCLUDED.result_date, scored_at = EXCLUDED.scored_at;
       RETURN NULL;
     END $$`,
  ];
}

/** Every predecessor, delta and repo_latest row again in the order given by `col`; only rows that change are written. */
function reorder(col: 'stored_at' | 'result_date', storedCol: 'stored_at' | 'created_at'): string[] {
  return [
    `UPDATE scores s SET previous_score_id = p.prev_id, delta = s.score - p.prev_score
       FROM (SELECT id, lag(id) OVER w AS prev_id, lag(score) OVER w AS prev_score
               FROM scores WINDOW w AS (PARTITION BY repo_id ORDER BY ${col}, id)) p
      WHERE p.id = s.id AND s.previous_score_id IS DISTINCT FROM p.prev_id`,
    `UPDATE repo_latest l
        SET score_id = s.id, score = s.score, delta = s.delta, result_date = s.result_date, scored_at = s.${storedCol}
       FROM (SELECT DISTINCT ON (repo_id) id, repo_id, score, delta, result_date, ${storedCol}
               FROM scores ORDER BY repo_id, ${col} DESC, id DESC) s
      WHERE l.repo_id = s.repo_id`,
  ];
}

const upStatements = [
  `ALTER TABLE scores ADD COLUMN stored_at timestamptz`,
  // A genuine result is dated before posture stored it (Scorecard runs, then the harvest), so its
  // date keeps the history's order; a row dated after it was stored takes its storing time instead.
  `UPDATE scores SET stored_at = LEAST(result_date, created_at)`,
  `ALTER TABLE scores ALTER COLUMN stored_at SET DEFAULT now()`,
  `ALTER TABLE scores ALTER COLUMN stored_at SET NOT NULL`,
  // Same name, new order: every "latest" read probes it.
  `DROP INDEX IF EXISTS scores_repo_idx`,
  `CREATE INDEX scores_repo_idx ON scores (repo_id, stored_at DESC, id DESC)`,
  ...triggerFunctions('stored_at', 'stored_at'),
  ...reorder('stored_at', 'stored_at'),
  // The list's date sort and the fresh/overdue states read the stored time.
  `DROP INDEX IF EXISTS repo_latest_result_idx`,
  `DROP INDEX IF EXISTS repo_latest_age_idx`,
  `CREATE INDEX repo_latest_scored_idx ON repo_latest (scored_at, repo_id) WHERE scored_at IS NOT NULL`,
  `CREATE INDEX repo_latest_age_idx ON repo_latest (scored_at) WHERE NOT failing`,
];

const downStatements = [
  `DROP INDEX IF EXISTS repo_latest_age_idx`,
  `DROP INDEX IF EXISTS repo_latest_scored_idx`,
  `CREATE INDEX repo_latest_result_idx ON repo_latest (result_date, repo_id) WHERE result_date IS NOT NULL`,
  `CREATE INDEX repo_latest_age_idx ON repo_latest (result_date) WHERE NOT failing`,
  ...triggerFunctions('result_date', 'created_at'),
  ...reorder('result_date', 'created_at'),
  `DROP INDEX IF EXISTS scores_repo_idx`,
  `CREATE INDEX scores_repo_idx ON scores (repo_id, result_date DESC, id DESC)`,
  `ALTER TABLE scores DROP COLUMN IF EXISTS stored_at`,
];

// One statement at a time: PGlite's driver prepares each query, and a prepared statement holds one command.
export async function up(knex: Knex): Promise<void> {
  for (const s of upStatements) await knex.raw(s.replace(/\?/g, '\\?'));
}

export async function down(knex: Knex): Promise<void> {
  for (const s of downStatements) await knex.raw(s.replace(/\?/g, '\\?'));
}
