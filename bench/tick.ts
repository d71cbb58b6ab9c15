// One scheduler tick at scale: 1,000,000 repositories in PostgreSQL and 10,000 posture Jobs in
// the local control plane (suspended: they hold their place in the API server but run nothing),
// 100 of them still pending in the database, the rest harvested and kept (POSTURE_KEEP_JOBS).
// Each round is one real tick (claim, create, reconcile, prune step) on a fresh slot; between
// rounds the Jobs it created are removed. Printed: the database time of the tick's statements,
// the heap it grew, the API bytes it read, its wall time, and the same for the old way of
// listing every posture Job as full objects, measured in the same run; then EXPLAIN of every
// statement the tick ran. Env: BENCH_TICK_REPOS, BENCH_TICK_JOBS, BENCH_TICK_ROUNDS.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as k8s from '@kubernetes/client-node';
import type { Knex } from 'knex';
import { defaultConfig } from '../lib/config/index.ts';
import { migrate } from '../lib/db/index.ts';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { buildScorecardJob, jobName, POSTURE_JOB_SELECTOR } from '../lib/jobs/spec.ts';
import { clusterApi } from '../lib/kube/cluster.ts';
import { sharedTransport } from '../lib/kube/transport.ts';
import { silentLogger } from '../lib/log/index.ts';
import { parseRepo, type RepoId } from '../lib/repo/identity.ts';
import { databaseClock } from '../lib/scheduler/clock.ts';
import { runTick } from '../lib/scheduler/tick.ts';
import { getSharedControlPlane } from '../test/cluster/harness.ts';
import { median } from './_util.ts';

const REPOS = Number(process.env.BENCH_TICK_REPOS ?? 1_000_000);
const JOBS = Number(process.env.BENCH_TICK_JOBS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_TICK_ROUNDS ?? 5);
const PENDING = 100;
const NAMESPACE = 'posture-bench-tick';
const DUE = new Date('2026-01-01T00:00:00Z');
const repoName = (i: number) => `github.com/bench/r${i}`;
const repo = (i: number): RepoId => (parseRepo(repoName(i)) as { ok: true; repo: RepoId }).repo;
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mib = (b: number) => b / 1024 / 1024;

const log = (s: string) => process.stderr.write(`[bench tick] ${s}\n`);
const cp = await getSharedControlPlane({ log });

// Set-up traffic goes through its own kubeconfig object, so its connections and rate limit are
// not the tick's (the tick uses posture's defaults).
const setupKc = new k8s.KubeConfig();
setupKc.loadFromFile(cp.kubeconfigPath);
const setup = clusterApi(setupKc, { qps: 2000, burst: 2000 });
const core = setupKc.makeApiClient(k8s.CoreV1Api);

async function ensureJobs(): Promise<Map<string, string>> {
  try {
    await core.readNamespace({ name: NAMESPACE });
  } catch {
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  }
  const uids = new Map<string, string>();
  for (let cont: string | undefined; ; ) {
    const page = await setup.listJobMetadataPage(NAMESPACE, POSTURE_JOB_SELECTOR, { limit: 5000, continue: cont });
    for (const j of page.jobs) uids.set(j.name, j.uid);
    cont = page.continue;
    if (!cont) break;
  }
  const config = {
    namespace: NAMESPACE,
    scorecardImage: 'ghcr.io/ossf/scorecard:v5.3.0',
    scorecardChecks: [],
    githubTokenSecret: 's',
    githubTokenSecretKey: 'k',
    jobDeadlineSeconds: 600,
    jobTtlSeconds: 86400,
    githubHost: '',
    githubCaConfigMap: '',
    jobMemoryLimit: '1Gi',
    jobStorageLimit: '4Gi',
  };
  const missing = Array.from({ length: JOBS }, (_, i) => i + 1).filter((i) => !uids.has(jobName(repo(i), DUE)));
  if (missing.length) log(`creating ${missing.length} suspended Jobs (${uids.size} already there)`);
  const t = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = missing.shift(); i !== undefined; i = missing.shift()) {
        const job = buildScorecardJob({ repo: repo(i), dueWindow: DUE }, config);
        job.spec!.suspend = true; // held, never run: no pods
        const r = await setup.createJob(NAMESPACE, job);
        uids.set(job.metadata!.name!, r.job.metadata!.uid!);
      }
    }),
  );
  if (performance.now() - t > 1000) log(`Jobs ready in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  return uids;
}

async function seedDatabase(db: Knex, uids: Map<string, string>): Promise<void> {
  const t = performance.now();
  // 1M repositories: 10% at priority 1, all of those not yet due (the rows the old claim walked);
  // 2,000 due at priority 0; 300 held by leases, 100 of them expired.
  await db.raw(
    `INSERT INTO repos (key, canonical, host, priority, next_due_at, lease_owner, lease_expires_at, last_finished_at)
     SELECT lower(c), c, 'github.com', CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END,
            CASE WHEN g % 10 <> 0 AND g % 450 = 1 THEN ?::timestamptz - interval '1 hour' ELSE ?::timestamptz + (g % 10000) * interval '1 minute' END,
            CASE WHEN g % 3333 = 7 THEN 'old-slot' END,
            CASE WHEN g % 3333 = 7 THEN ?::timestamptz + CASE WHEN g % 3 = 0 THEN interval '-1 hour' ELSE interval '1 hour' END END,
            ?::timestamptz - interval '7 days'
       FROM generate_series(1, ?) g, LATERAL (SELECT 'github.com/bench/r' || g AS c) n`,
    [new Date(), new Date(), new Date(), new Date(), REPOS],
  );
  // The Jobs' runs: the first PENDING still pending (active), the rest harvested with a score.
  const names = Array.from({ length: JOBS }, (_, i) => jobName(repo(i + 1), DUE));
  await db.raw(
    `INSERT INTO runs (repo_id, job_name, job_uid, tick_slot, created_at, finished_at, outcome)
     SELECT g, n, u, 'seed', now() - interval '1 day', CASE WHEN g > ? THEN now() - interval '1 hour' END, CASE WHEN g > ? THEN 'succeeded' ELSE 'pending' END
       FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS x(n, u, g)`,
    [PENDING, PENDING, names, names.map((n) => uids.get(n) ?? `missing-${n}`)],
  );
  // History: 5 weekly results for each of 40k repositories (200k scores, 400k checks), documents kept for 3.
  await db.raw(
    `WITH r AS (
       INSERT INTO runs (repo_id, job_name, job_uid, outcome, created_at, finished_at)
       SELECT (g % 40000) + 1, 'hist-' || g, 'hist-' || g, 'succeeded', now(), now() FROM generate_series(1, 200000) g
       RETURNING id, repo_id)
     INSERT INTO scores (repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, raw)
     SELECT repo_id, id, 5.5, 'v5.3.0', 'x', 'y', now() - (id % 5) * interval '7 days', '{"checks":[]}'::jsonb FROM r`,
  );
  await db.raw(
    `INSERT INTO checks (score_id, name, score, reason, details)
     SELECT s.id, n, 5, 'reason', '["detail"]'::jsonb FROM scores s, unnest(ARRAY['Fuzzing', 'Pinned-Dependencies']) n`,
  );
  await db.raw('ANALYZE');
  log(`database seeded in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}

interface Statement {
  sql: string;
  bindings: readonly unknown[];
  ms: number;
}

/** Times every statement the database answers while `f` runs. */
async function recordStatements<T>(db: Knex, f: () => Promise<T>): Promise<{ value: T; statements: Statement[] }> {
  const started = new Map<string, { t: number; sql: string; bindings: readonly unknown[] }>();
  const statements: Statement[] = [];
  const onQuery = (q: { __knexQueryUid: string; sql: string; bindings?: readonly unknown[] }) =>
    started.set(q.__knexQueryUid, { t: performance.now(), sql: q.sql, bindings: q.bindings ?? [] });
  const onDone = (_r: unknown, q: { __knexQueryUid: string }) => {
    const s = started.get(q.__knexQueryUid);
    if (s) statements.push({ sql: s.sql, bindings: s.bindings, ms: performance.now() - s.t });
  };
  db.on('query', onQuery)
    .on('query-response', onDone)
    .on('query-error', (_e: unknown, q: { __knexQueryUid: string }) => onDone(undefined, q));
  try {
    return { value: await f(), statements };
  } finally {
    db.removeListener('query', onQuery).removeListener('query-response', onDone);
  }
}

interface Plan {
  sql: string;
  /** Planning + execution time inside the server. */
  ms: number;
  /** As the tick saw it: round trip included (on a loaded machine, mostly waiting for a CPU). */
  clientMs: number;
  lines: string[];
  seq: boolean;
}

/**
 * The database's own time for each statement: replayed under EXPLAIN ANALYZE in a transaction
 * that is rolled back (so nothing changes), right after the tick, on the same data.
 */
async function explain(db: Knex, statements: Statement[]): Promise<Plan[]> {
  const out: Plan[] = [];
  for (const st of statements) {
    if (/^\s*(begin|commit|rollback|savepoint|release)\b/i.test(st.sql)) continue;
    const tx = await db.transaction();
    try {
      // The statement as sent ($1, $2…), back into knex's ? placeholders with its bindings.
      const bindings: unknown[] = [];
      const sql = st.sql.replace(/\$(\d+)/g, (_m, k: string) => {
        bindings.push(st.bindings[Number(k) - 1]);
        return '?';
      });
      const r = await tx.raw(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) ${sql}`, bindings as readonly Knex.RawBinding[]);
      const lines = ((r.rows ?? []) as Array<{ 'QUERY PLAN': string }>).map((x) => x['QUERY PLAN']);
      const time = (label: string) => Number(new RegExp(`${label} Time: ([0-9.]+) ms`).exec(lines.join('\n'))?.[1] ?? 0);
      out.push({
        sql: st.sql,
        ms: time('Planning') + time('Execution'),
        clientMs: st.ms,
        lines,
        seq: lines.some((l) => /Seq Scan on (repos|runs|scores|checks)\b/.test(l)),
      });
    } finally {
      await tx.rollback();
    }
  }
  return out;
}

/** Peak heap growth while `f` runs (sampled every 2 ms and at the end). */
async function heapPeak<T>(f: () => Promise<T>): Promise<{ value: T; mb: number }> {
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 2);
  try {
    const value = await f();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { value, mb: mib(peak - base) };
  } finally {
    clearInterval(timer);
  }
}

const uids = await ensureJobs();
const database = await createPostgresDatabase();
const db = database.db;
await migrate(db);
await seedDatabase(db, uids);

const tickKc = new k8s.KubeConfig();
tickKc.loadFromFile(cp.kubeconfigPath);
const config = defaultConfig({
  namespace: NAMESPACE,
  githubTokenCount: 0,
  maxConcurrentJobs: PENDING + 20,
  claimBatch: 100,
  keepJobs: true,
  detailedResults: 3,
});
const cluster = clusterApi(tickKc); // posture's defaults: 50 QPS, burst 100
const transport = sharedTransport(tickKc);

const rounds: Array<{ db: number; dbClient: number; heap: number; api: number; wall: number; created: number; plans: Plan[] }> = [];
const old: Array<{ heap: number; api: number; wall: number }> = [];
for (let i = 0; i < ROUNDS; i++) {
  await db('scheduler_state').update({ not_before: null, backoff_seconds: 0 });
  const bytes0 = transport.stats.bytesIn;
  const t0 = performance.now();
  const { value: rec, mb } = await heapPeak(() =>
    recordStatements(db, async () =>
      runTick(`2026-11-26T10:${String(i).padStart(2, '0')}Z`, { db, cluster, config, log: silentLogger, now: await databaseClock(db) }),
    ),
  );
  const wall = performance.now() - t0;
  const s = rec.value;
  if (s.errors.length) throw new Error(`tick errors: ${s.errors.slice(0, 3).join('; ')}`);
  const plans = await explain(db, rec.statements);
  rounds.push({
    db: plans.reduce((n, x) => n + x.ms, 0),
    dbClient: rec.statements.reduce((n, x) => n + x.ms, 0),
    heap: mb,
    api: mib(transport.stats.bytesIn - bytes0),
    wall,
    created: s.created,
    plans,
  });
  log(
    `round ${i + 1}: active ${s.active}, claimed ${s.claimed}, created ${s.created}, leases released ${s.reconciled.leasesReleased}, ${rec.statements.length} statements`,
  );

  // The old listing, same run: every posture Job as a full object.
  const b0 = transport.stats.bytesIn;
  const t1 = performance.now();
  const { mb: oldHeap } = await heapPeak(async () => (await cluster.listJobs(NAMESPACE, POSTURE_JOB_SELECTOR)).length);
  old.push({ heap: oldHeap, api: mib(transport.stats.bytesIn - b0), wall: performance.now() - t1 });

  // Undo the round's creates so every round sees 10,000 Jobs and 100 pending runs.
  const made = await db('runs')
    .where({ tick_slot: `2026-11-26T10:${String(i).padStart(2, '0')}Z` })
    .select('job_name', 'job_uid');
  await Promise.all(made.map((r) => setup.deleteJob(NAMESPACE, r.job_name, r.job_uid ?? undefined)));
  await db('runs')
    .whereIn(
      'job_name',
      made.map((r) => r.job_name),
    )
    .update({ outcome: 'succeeded', finished_at: new Date() });
}

console.log('EXPLAIN of each statement of the last tick (database at 1M repositories; replayed in a rolled-back transaction):');
for (const p of rounds[rounds.length - 1].plans) {
  console.log(
    `\n-- server ${p.ms.toFixed(2)} ms, client ${p.clientMs.toFixed(2)} ms: ${p.sql.replace(/\s+/g, ' ').slice(0, 150)}${p.seq ? '   <-- SEQUENTIAL SCAN' : ''}`,
  );
  for (const l of p.lines.filter((x) => !/^(Planning|Execution) Time/.test(x)).slice(0, 14)) console.log(`   ${l}`);
}

const m = (xs: number[]) => median(xs);
const seqScans = rounds.flatMap((r) => r.plans).filter((p) => p.seq);
console.log(
  `\nstatements with a sequential scan of a large table: ${seqScans.length ? [...new Set(seqScans.map((p) => p.sql.slice(0, 80)))].join(' | ') : 'none'}`,
);
console.log(
  `db: the server's planning + execution time of the tick's statements (EXPLAIN ANALYZE replay); client-observed median ${m(rounds.map((r) => r.dbClient)).toFixed(0)} ms on this machine (load ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} CPUs)`,
);
console.log(
  `\nold listing (every posture Job as a full object), same run, median of ${ROUNDS}: heap ${m(old.map((o) => o.heap)).toFixed(1)} MB, api ${m(old.map((o) => o.api)).toFixed(1)} MB, wall ${m(old.map((o) => o.wall)).toFixed(0)} ms`,
);
console.log(
  `tick / old listing: heap ${(m(rounds.map((r) => r.heap)) / m(old.map((o) => o.heap))).toFixed(2)}, api ${(m(rounds.map((r) => r.api)) / m(old.map((o) => o.api))).toFixed(3)}, wall ${(m(rounds.map((r) => r.wall)) / m(old.map((o) => o.wall))).toFixed(2)}`,
);
console.log(
  `rounds: ${rounds.map((r) => `db ${r.db.toFixed(1)} ms (client-observed ${r.dbClient.toFixed(0)} ms) / heap ${r.heap.toFixed(1)} MB / api ${r.api.toFixed(2)} MB / wall ${r.wall.toFixed(0)} ms / created ${r.created}`).join('; ')}`,
);
await database.drop();
await cp.stop();
console.log(
  `tick at 1M repos / 10k Jobs: db ${m(rounds.map((r) => r.db)).toFixed(1)} ms, heap ${m(rounds.map((r) => r.heap)).toFixed(1)} MB, api ${m(rounds.map((r) => r.api)).toFixed(2)} MB, wall ${m(rounds.map((r) => r.wall)).toFixed(0)} ms`,
);
