// Shared by the admission benchmarks: the database the Scorecard gate reads its score from, and
// starting a server as a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What the admission benchmarks start from: the database (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/posture_bench_apiserver, prepared as below), a temporary
 * folder (the caller removes it) and a self-signed serving certificate in it.
 */
export async function admissionBench(name: string): Promise<{ databaseUrl: string; dir: string; certFile: string; keyFile: string }> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/posture_bench_apiserver';
  const dir = mkdtempSync(join(tmpdir(), `posture-bench-${name}-`));
  await prepareBenchDatabase(databaseUrl);
  const { selfSignedCertificate } = await import('../lib/up/tls.ts');
  const { certFile, keyFile } = await selfSignedCertificate(join(dir, 'tls'));
  return { databaseUrl, dir, certFile, keyFile };
}

/**
 * Creates the database if missing, migrates it, and stores one repository with a passing score
 * (7.1 >= the default threshold 5), so the gate admits after a cache hit, as the floor admits.
 */
export async function prepareBenchDatabase(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const u = new URL(url);
  const dbName = u.pathname.slice(1);
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const c = new pg.Client({ connectionString: adminUrl.toString() });
  await c.connect();
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
  if (exists.rowCount === 0) await c.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
  await c.end();
  const { openDb, migrate } = await import('../lib/db/index.ts');
  const db = openDb({ databaseUrl: url, dataDir: tmpdir() });
  await migrate(db);
  await db.raw(`INSERT INTO repos (key, canonical, host) VALUES ('github.com/bench/web', 'github.com/bench/web', 'github.com') ON CONFLICT (key) DO NOTHING`);
  const repo = (await db('repos').where({ key: 'github.com/bench/web' }).first()) as { id: number };
  if (!(await db('scores').where({ repo_id: repo.id }).first())) {
    const [run] = await db('runs')
      .insert({ repo_id: repo.id, job_name: `bench-apiserver-${Date.now()}`, outcome: 'succeeded', finished_at: new Date() })
      .returning('id');
    await db('scores').insert({
      repo_id: repo.id,
      run_id: (run as { id: number }).id,
      score: 7.1,
      scorecard_version: 'v5.3.0',
      scorecard_commit: 'bench',
      repo_commit: 'bench',
      result_date: new Date(),
      raw: JSON.stringify({}),
    });
  }
  await db.destroy();
}

/** The environment of a `bin/serve.ts admission` child: this process's, the bench's database and certificate, any free port. */
export function admissionServerEnv(bench: { databaseUrl: string; certFile: string; keyFile: string }, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: bench.databaseUrl,
    POSTURE_TLS_CERT_FILE: bench.certFile,
    POSTURE_TLS_KEY_FILE: bench.keyFile,
    POSTURE_ADMISSION_PORT: '0',
    POSTURE_LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Starts a child and resolves with the port it reports (a JSON line with `port`). */
export function startChild(args: string[], env: NodeJS.ProcessEnv, what: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    // BENCH_SERVER_NODE_FLAGS (e.g. "--trace-deopt") are given to every server; with
    // BENCH_SERVER_LOG_DIR each server's standard output is kept there, one file per target.
    const flags = (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, [...flags, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env, cwd: ROOT });
    let out = '';
    const onData = (c: Buffer) => {
      out += c;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { port?: number };
          if (typeof j.port === 'number' && j.port > 0) {
            child.stdout!.off('data', onData);
            if (process.env.BENCH_SERVER_LOG_DIR)
              child.stdout!.pipe(createWriteStream(join(process.env.BENCH_SERVER_LOG_DIR, `${what.replace(/[^a-z0-9-]+/gi, '_')}.log`)));
            else child.stdout!.resume(); // keep draining its logs
            resolve({ child, port: j.port });
            return;
          }
        } catch {
          /* not a JSON line */
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited ${code} before listening`)));
  });
}
