// Stored policy verdicts (migration 009): one row per repository under the policy set in force.
// lib/policy judges; these statements read what it needs and keep what it said.
import type { Db } from './connect.ts';
import { numberOrNull, parsedJson, rowsOf } from './rows.ts';

/** A repository's newest result as the policy evaluation reads it; no result: scoreId null. */
export interface ResultToJudge {
  repoId: number;
  key: string;
  canonical: string;
  scoreId: number | null;
  resultDate: Date | null;
  checks: Array<{ name: string; score: number; internalError: boolean }>;
}

/** The newest result and checks of each repository given (one probe of repo_latest and checks each). */
export async function resultsToJudge(db: Db, repoIds: readonly number[]): Promise<ResultToJudge[]> {
  if (repoIds.length === 0) return [];
  const res = await db.raw(
    `SELECT l.repo_id, l.key, r.canonical, l.score_id, l.result_date,
            (SELECT json_agg(json_build_array(c.name, c.score, c.internal_error)) FROM checks c WHERE c.score_id = l.score_id) AS checks
       FROM repo_latest l JOIN repos r ON r.id = l.repo_id
      WHERE l.repo_id = ANY(:ids::bigint[])
      ORDER BY l.repo_id`,
    { ids: repoIds.map(String) },
  );
  return rowsOf<{ repo_id: string | number; key: string; canonical: string; score_id: string | number | null; result_date: Date | null; checks: unknown }>(
    res,
  ).map((r) => ({
    repoId: Number(r.repo_id),
    key: r.key,
    canonical: r.canonical,
    scoreId: numberOrNull(r.score_id),
    resultDate: r.result_date === null ? null : new Date(r.result_date),
    checks: (parsedJson<Array<[string, number, boolean]> | null>(r.checks) ?? []).map(([name, score, internalError]) => ({
      name,
      score: Number(score),
      internalError: internalError === true,
    })),
  }));
}

/** Repository ids from `after` whose verdict is missing, of another policy set, or of an older result. */
export async function reposNeedingJudgement(db: Db, digest: string, after: number, limit: number): Promise<number[]> {
  const res = await db.raw(
    `SELECT l.repo_id FROM repo_latest l LEFT JOIN policy_verdicts v ON v.repo_id = l.repo_id
      WHERE l.repo_id > :after AND (v.repo_id IS NULL OR v.digest <> :digest OR v.score_id IS DISTINCT FROM l.score_id)
      ORDER BY l.repo_id LIMIT :limit`,
    { after, digest, limit },
  );
  return rowsOf<{ repo_id: string | number }>(res).map((r) => Number(r.repo_id));
}

export interface StoredVerdict {
  repoId: number;
  scoreId: number | null;
  digest: string;
  policy: string | null;
  verdict: 'pass' | 'fail' | 'unknown' | null;
  score: number | null;
  failing: string[];
  reasons: unknown[];
  expiresAt: Date | null;
}

interface VerdictRow {
  repo_id: string | number;
  score_id: string | number | null;
  digest: string;
  policy: string | null;
  verdict: StoredVerdict['verdict'];
  score: string | number | null;
  failing: unknown;
  reasons: unknown;
  expires_at: Date | null;
}

const fromRow = (r: VerdictRow): StoredVerdict => ({
  repoId: Number(r.repo_id),
  scoreId: numberOrNull(r.score_id),
  digest: r.digest,
  policy: r.policy,
  verdict: r.verdict,
  score: numberOrNull(r.score),
  failing: parsedJson<string[]>(r.failing) ?? [],
  reasons: parsedJson<unknown[]>(r.reasons) ?? [],
  expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
});

/**
 * Writes verdicts (one row per repository, replacing what was there) and returns what each
 * repository had before, in one transaction: the previous rows are locked, so two writers of
 * the same repository see each other's verdict as the previous one, never the same one twice.
 */
export async function replaceVerdicts(db: Db, verdicts: readonly StoredVerdict[]): Promise<Map<number, StoredVerdict>> {
  if (verdicts.length === 0) return new Map();
  return db.transaction(async (tx) => {
    const before = await tx.raw(
      `SELECT repo_id, score_id, digest, policy, verdict, score, failing, reasons, expires_at
         FROM policy_verdicts WHERE repo_id = ANY(:ids::bigint[]) ORDER BY repo_id FOR UPDATE`,
      { ids: verdicts.map((v) => String(v.repoId)) },
    );
    await tx.raw(
      `INSERT INTO policy_verdicts (repo_id, score_id, digest, policy, verdict, score, failing, reasons, expires_at, judged_at)
       SELECT x.repo_id, x.score_id, x.digest, x.policy, x.verdict, x.score, x.failing, x.reasons, x.expires_at, now()
         FROM json_to_recordset(:rows::json) AS x(repo_id bigint, score_id bigint, digest text, policy text, verdict text,
                                                   score numeric, failing jsonb, reasons jsonb, expires_at timestamptz)
       ON CONFLICT (repo_id) DO UPDATE
         SET score_id = EXCLUDED.score_id, digest = EXCLUDED.digest, policy = EXCLUDED.policy, verdict = EXCLUDED.verdict,
             score = EXCLUDED.score, failing = EXCLUDED.failing, reasons = EXCLUDED.reasons, expires_at = EXCLUDED.expires_at,
             judged_at = now()`,
      {
        rows: JSON.stringify(
          verdicts.map((v) => ({
            repo_id: v.repoId,
            score_id: v.scoreId,
            digest: v.digest,
            policy: v.policy,
            verdict: v.verdict,
            score: v.score,
            failing: v.failing,
            reasons: v.reasons,
            expires_at: v.expiresAt?.toISOString() ?? null,
          })),
        ),
      },
    );
    return new Map(rowsOf<VerdictRow>(before).map((r) => [Number(r.repo_id), fromRow(r)]));
  });
}

/** A repository's stored verdict (any policy set). */
export async function storedVerdict(db: Db, repoId: number): Promise<StoredVerdict | undefined> {
  const res = await db.raw(
    'SELECT repo_id, score_id, digest, policy, verdict, score, failing, reasons, expires_at FROM policy_verdicts WHERE repo_id = :repoId',
    { repoId },
  );
  const [r] = rowsOf<VerdictRow>(res);
  return r ? fromRow(r) : undefined;
}

/** The effective verdict in SQL: a pass past its expiry is unknown. */
export const EFFECTIVE_VERDICT = `CASE WHEN v.verdict = 'pass' AND v.expires_at IS NOT NULL AND v.expires_at <= :now THEN 'unknown' ELSE v.verdict END`;

export interface Compliance {
  pass: number;
  fail: number;
  unknown: number;
  /** Repositories no policy applies to. */
  none: number;
  /** Repositories not judged under the policies in force yet. */
  pending: number;
}

/** Fleet compliance under the policy set `digest` at `now`. */
export async function policyCompliance(db: Db, digest: string, now: Date): Promise<Compliance> {
  const res = await db.raw(
    `SELECT CASE WHEN v.repo_id IS NULL OR v.digest <> :digest THEN 'pending' WHEN v.verdict IS NULL THEN 'none' ELSE ${EFFECTIVE_VERDICT} END AS verdict,
            count(*)::int AS n
       FROM repo_latest l LEFT JOIN policy_verdicts v ON v.repo_id = l.repo_id
      GROUP BY 1`,
    { digest, now },
  );
  const out: Compliance = { pass: 0, fail: 0, unknown: 0, none: 0, pending: 0 };
  for (const r of rowsOf<{ verdict: keyof Compliance; n: number | string }>(res)) out[r.verdict] = Number(r.n);
  return out;
}

/** The rules that fail on most repositories under `digest` (policy and rule id), most first. */
export async function mostFailingRules(db: Db, digest: string, limit: number): Promise<Array<{ policy: string; rule: string; repos: number }>> {
  const res = await db.raw(
    `SELECT v.policy, f.rule, count(*)::int AS repos
       FROM policy_verdicts v CROSS JOIN LATERAL jsonb_array_elements_text(v.failing) AS f(rule)
      WHERE v.digest = :digest AND v.verdict = 'fail'
      GROUP BY v.policy, f.rule ORDER BY repos DESC, v.policy, f.rule LIMIT :limit`,
    { digest, limit },
  );
  return rowsOf<{ policy: string; rule: string; repos: number | string }>(res).map((r) => ({ policy: r.policy, rule: r.rule, repos: Number(r.repos) }));
}
