// Fills a PostgreSQL database with N repositories and their history for the dashboard
// benchmark, in SQL (generate_series), not JS loops: HISTORY results per repository (runs,
// scores with their predecessor and delta), the 18 checks of each newest result, a share of
// repositories whose newest run failed, and repo_latest as the triggers would have left it.
// Triggers are off during the load (session_replication_role = replica) and the derived
// columns are computed by the same SQL in bulk.
import type { Knex } from 'knex';
import type { Db } from '../lib/db/connect.ts';

export const BENCH_CHECKS = [
  'Binary-Artifacts',
  'Branch-Protection',
  'CI-Tests',
  'CII-Best-Practices',
  'Code-Review',
  'Contributors',
  'Dangerous-Workflow',
  'Dependency-Update-Tool',
  'Fuzzing',
  'License',
  'Maintained',
  'Packaging',
  'Pinned-Dependencies',
  'SAST',
  'Security-Policy',
  'Signed-Releases',
  'Token-Permissions',
  'Vulnerabilities',
];

export async function seedBulk(db: Db, n: number, history: number, say: (s: string) => void): Promise<void> {
  const step = async (what: string, sql: string, bindings: readonly Knex.RawBinding[] = []) => {
    const t = Date.now();
    await db.raw(sql, bindings);
    say(`  ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
  await db.transaction(async (tx) => {
    const run = async (what: string, sql: string, b: readonly Knex.RawBinding[] = []) => {
      const t = Date.now();
      await tx.raw(sql, b);
      say(`  ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    };
    await tx.raw(`SET LOCAL session_replication_role = replica`);
    await tx.raw(`SET LOCAL work_mem = '256MB'`);
    // Owners of 20 repositories each; 3% of repositories failing, 0.5% never scored.
    await run(
      'repos',
      `
      INSERT INTO repos (id, key, canonical, host, next_due_at, consecutive_failures, last_error, last_finished_at, created_at)
      SELECT i, 'github.com/owner' || (i % (?::int / 20)) || '/repo-' || i, 'github.com/owner' || (i % (?::int / 20)) || '/repo-' || i, 'github.com',
             now() + ((i * 7919) % 604800) * interval '1 second' - interval '1 day',
             CASE WHEN i % 33 = 0 THEN 1 + i % 4 ELSE 0 END,
             CASE WHEN i % 33 = 0 THEN 'pod-failed: exit code 1' END,
             now() - ((i * 104729) % 604800) * interval '1 second', now() - interval '60 days'
        FROM generate_series(1::bigint, ?::bigint) i`,
      [n, n, n],
    );
    await run(
      'runs',
      `
      INSERT INTO runs (id, repo_id, job_name, job_uid, created_at, finished_at, outcome, failure_class, reason)
      SELECT (i - 1) * ?::int + h + 1, i, 'posture-bench-' || i || '-' || h, 'uid-' || i || '-' || h,
             now() - (? - 1 - h) * interval '7 days' - ((i * 104729) % 604800) * interval '1 second',
             now() - (? - 1 - h) * interval '7 days' - ((i * 104729) % 604800) * interval '1 second' + interval '5 minutes',
             CASE WHEN i % 33 = 0 AND h = ? - 1 THEN 'failed' ELSE 'succeeded' END,
             CASE WHEN i % 33 = 0 AND h = ? - 1 THEN (ARRAY['pod-failed','no-result','deadline-exceeded','invalid-result'])[1 + i % 4] END,
             CASE WHEN i % 33 = 0 AND h = ? - 1 THEN 'bench failure' END
        FROM generate_series(1::bigint, ?::bigint) i, generate_series(0, ? - 1) h
       WHERE i % 200 <> 0`,
      [history, history, history, history, history, history, n, history],
    );
    // Scores: a per-repository level with a small walk; failing repositories lack their last result.
    await run(
      'scores',
      `
      INSERT INTO scores (id, repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, raw, created_at, stored_at, previous_score_id, delta)
      SELECT id, i, id, sc, 'v5.3.0', 'c5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5', lpad(to_hex(id), 40, '0'), t,
             jsonb_build_object('date', t, 'repo', jsonb_build_object('name', 'github.com/owner' || (i % (?::int / 20)) || '/repo-' || i), 'score', sc, 'bench', true),
             t + interval '5 minutes', t + interval '5 minutes',
             CASE WHEN h > 0 THEN id - 1 END,
             CASE WHEN h > 0 THEN sc - lag(sc) OVER (PARTITION BY i ORDER BY h) END
        FROM (SELECT i, h, (i - 1) * ?::int + h + 1 AS id,
                     least(10, greatest(0, round(((i * 2654435761::bigint) % 80) / 10.0 + 1 + ((i * 31 + h * 17) % 13 - 6) / 10.0, 1)))::numeric(3,1) AS sc,
                     now() - (? - 1 - h) * interval '7 days' - ((i * 104729) % 604800) * interval '1 second' AS t
                FROM generate_series(1::bigint, ?::bigint) i, generate_series(0, ? - 1) h
               WHERE i % 200 <> 0 AND NOT (i % 33 = 0 AND h = ? - 1)) x`,
      [n, history, history, n, history, history],
    );
    await run(
      'repo_latest',
      `
      INSERT INTO repo_latest (repo_id, key, owner, score_id, score, delta, result_date, scored_at, failing)
      SELECT r.id, r.key, split_part(r.key, '/', 2), s.id, s.score, s.delta, s.result_date, s.stored_at, r.consecutive_failures > 0
        FROM repos r LEFT JOIN LATERAL (SELECT * FROM scores x WHERE x.repo_id = r.id ORDER BY x.stored_at DESC, x.id DESC LIMIT 1) s ON true`,
    );
    await run(
      'checks of each newest result',
      `
      INSERT INTO checks (score_id, name, score, reason, documentation_url, documentation_short)
      SELECT l.score_id, c.name,
             CASE WHEN (l.repo_id * 7 + c.k * 13) % 17 = 0 THEN -1 ELSE least(10, greatest(0, round(l.score + ((l.repo_id * 31 + c.k * 7) % 9) - 4)))::int END,
             'bench reason', 'https://github.com/ossf/scorecard/blob/main/docs/checks.md#' || lower(c.name), 'bench'
        FROM repo_latest l, unnest(?::text[]) WITH ORDINALITY AS c(name, k)
       WHERE l.score_id IS NOT NULL`,
      [BENCH_CHECKS],
    );
    await run(
      'sequences',
      `SELECT setval('repos_id_seq', (SELECT max(id) FROM repos)), setval('runs_id_seq', (SELECT max(id) FROM runs)), setval('scores_id_seq', (SELECT max(id) FROM scores))`,
    );
  });
  await step('analyze', 'ANALYZE');
}
