// `posture repos list` on 400,000 repositories (some scored, some failing), on PostgreSQL and
// PGlite: the default page, a page deep in the list (--after), a filter, and --all as JSON,
// each as a real CLI process; `posture --version` in the same run is the baseline (process and
// module start-up), so the figures beyond it are the query and the printing.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, migrate, openDb } from '../lib/db/index.ts';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { median } from './_util.ts';

const REPOS = Number(process.env.BENCH_REPOS ?? 400_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const POSTURE = join(import.meta.dirname, '..', 'bin', 'posture.ts');

async function fill(db: Db): Promise<void> {
  await migrate(db);
  await db.raw(`INSERT INTO repos (key, canonical, host, next_due_at, consecutive_failures, last_error)
    SELECT 'github.com/owner' || (i % 5000) || '/repo-' || i, 'github.com/owner' || (i % 5000) || '/repo-' || i, 'github.com',
           now() + (i % 1000) * interval '1 minute', CASE WHEN i % 50 = 0 THEN 2 ELSE 0 END, CASE WHEN i % 50 = 0 THEN 'pod-failed: exit 1' END
      FROM generate_series(1, ${REPOS}) AS i`);
  // One score in ten, through the same tables the harvester writes.
  await db.raw(`INSERT INTO runs (repo_id, job_name, outcome, finished_at) SELECT id, 'bench-' || id, 'succeeded', now() FROM repos WHERE id % 10 = 0`);
  await db.raw(`INSERT INTO scores (repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, raw)
    SELECT repo_id, id, (repo_id % 100) / 10.0, 'v5.3.0', 'c', 'r', now(), '{}'::jsonb FROM runs WHERE job_name LIKE 'bench-%'`);
  await db.raw('ANALYZE');
}

async function run(args: string[], env: Record<string, string>): Promise<{ seconds: number; bytes: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [POSTURE, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let err = '';
  child.stdout.on('data', (d: Buffer) => (bytes += d.length));
  child.stderr.on('data', (d) => (err += d));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`posture ${args.join(' ')} exited ${code}: ${err}`);
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

const cases: Array<[string, string[]]> = [
  ['baseline: --version', ['--version']],
  ['baseline: db migrate (opens the database)', ['db', 'migrate']],
  ['list (first page of 100)', ['repos', 'list']],
  ['list --after (page in the middle)', ['repos', 'list', '--after', 'github.com/owner2500/repo-200000']],
  ['list --state failing --limit 100', ['repos', 'list', '--state', 'failing', '--limit', '100']],
  ['list --below 3 --limit 100', ['repos', 'list', '--below', '3', '--limit', '100']],
  ['list --all -o json', ['repos', 'list', '--all', '-o', 'json']],
];

const pg = await createPostgresDatabase();
const dir = mkdtempSync(join(tmpdir(), 'posture-bench-list-'));
try {
  await fill(pg.db);
  if ((process.env.BENCH_TARGETS ?? 'pglite').includes('pglite')) {
    const lite = openDb({ dataDir: join(dir, 'data') });
    await fill(lite);
    await lite.destroy();
  }
  const targets = (process.env.BENCH_TARGETS ?? 'postgres,pglite').split(',');
  for (const [name, env] of [
    ['postgres', { DATABASE_URL: pg.url! }],
    ['pglite', { POSTURE_DATA_DIR: join(dir, 'data') }],
  ] as const) {
    if (!targets.includes(name)) continue;
    console.log(`${name}: ${REPOS.toLocaleString('en')} repositories, median of ${RUNS} runs`);
    let base = 0;
    for (const [label, args] of cases) {
      const rs: Array<{ seconds: number; bytes: number }> = [];
      for (let i = 0; i < RUNS; i++) rs.push(await run(args, env));
      const s = median(rs.map((r) => r.seconds));
      if (label.startsWith('baseline')) base = s; // the last baseline: opening the database
      console.log(`  ${label.padEnd(44)} ${s.toFixed(2)} s  (${(s - base).toFixed(2)} s over the baseline)  ${(rs[0].bytes / 1024).toFixed(0)} KiB out`);
    }
  }
} finally {
  await pg.drop();
}
