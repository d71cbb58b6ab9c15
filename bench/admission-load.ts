// The Scorecard gate's cold load at scale, under the admission Deployment's memory limit: an
// admission app (webhooks, dispatcher, score cache) in a child process whose V8 heap is what V8
// gives a container of that limit (a quarter of it: V8 sizes its old generation from the cgroup's
// memory, 128 MB for 512 MiB), loading every repository's latest score from PostgreSQL through
// the same feed the admission function uses (lib/db/scores.ts scoresChangedPage). The parent
// samples the child's resident memory (peak and after the load) and compares it with the limit.
//
// BENCH_GATE_REPOS repositories (default 1,000,000), one score each, generated in SQL in a database
// of its own (BENCH_GATE_DB, default posture_bench_gate) kept between runs (BENCH_GATE_FRESH=1
// rebuilds it). BENCH_GATE_PAGE_ROWS sets the rows a page (default: the cache's own); a value of at
// least BENCH_GATE_REPOS reads everything in one answer, as the load did before it was paged.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEBHOOKS_DIR } from '../functions/admission/webhooks-dir.ts';
import { createAdmissionApp } from '../lib/admission/app.ts';
import { SCORE_PAGE_ROWS } from '../lib/admission/scores.ts';
import { applyAdmissionV8Flags } from '../lib/admission/v8-flags.ts';
import { defaultConfig } from '../lib/config/index.ts';
import { openDb, scoresChangedPage } from '../lib/db/index.ts';
import { benchDatabase } from './_database.ts';
import { sampleRss } from './_util.ts';

const N = Number(process.env.BENCH_GATE_REPOS ?? 1_000_000);
const NAME = process.env.BENCH_GATE_DB ?? 'posture_bench_gate';
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(NAME)) throw new Error(`BENCH_GATE_DB must be a plain database name, got ${NAME}`);
const PAGE_ROWS = Number(process.env.BENCH_GATE_PAGE_ROWS ?? SCORE_PAGE_ROWS);
const MIB = 2 ** 20;

/** The admission container's memory limit in knative/base/admission.yaml, in MiB. */
function manifestLimitMiB(): number {
  const yaml = readFileSync(join(import.meta.dirname, '..', 'knative', 'base', 'admission.yaml'), 'utf8');
  const m = /limits:\s*\n(?:\s+cpu:.*\n)?\s+memory:\s*(\d+)Mi/.exec(yaml);
  if (!m) throw new Error('no memory limit in Mi found in knative/base/admission.yaml');
  return Number(m[1]);
}

async function prepare(): Promise<string> {
  const {
    url,
    db,
    reused: reuse,
  } = await benchDatabase(
    NAME,
    async (c) => {
      const r = await c.query('SELECT (SELECT count(*) FROM repos)::int AS repos, (SELECT count(*) FROM scores)::int AS scores');
      return r.rows[0].repos === N && r.rows[0].scores === N;
    },
    process.env.BENCH_GATE_FRESH === '1',
  );
  if (reuse) console.log(`reusing ${NAME}: ${N.toLocaleString('en-US')} repositories with a score each`);
  else {
    const t = Date.now();
    await db.transaction(async (tx) => {
      await tx.raw('SET LOCAL session_replication_role = replica');
      await tx.raw(
        `INSERT INTO repos (id, key, canonical, host, created_at)
         SELECT i, 'github.com/owner' || (i / 20) || '/repo-' || i, 'github.com/Owner' || (i / 20) || '/Repo-' || i, 'github.com', now() - interval '60 days'
           FROM generate_series(1::bigint, ?::bigint) i`,
        [N],
      );
      await tx.raw(
        `INSERT INTO runs (id, repo_id, job_name, job_uid, created_at, finished_at, outcome)
         SELECT i, i, 'posture-bench-' || i, 'uid-' || i, now() - interval '1 day', now() - interval '1 day', 'succeeded'
           FROM generate_series(1::bigint, ?::bigint) i`,
        [N],
      );
      await tx.raw(
        `INSERT INTO scores (id, repo_id, run_id, score, scorecard_version, scorecard_commit, repo_commit, result_date, created_at)
         SELECT i, i, i, ((i * 2654435761::bigint) % 101) / 10.0, 'v5.3.0', 'c5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5', lpad(to_hex(i), 40, '0'),
                now() - interval '1 day' - (i % 600) * interval '1 minute', now() - interval '1 day'
           FROM generate_series(1::bigint, ?::bigint) i`,
        [N],
      );
      await tx.raw(
        `SELECT setval('repos_id_seq', (SELECT max(id) FROM repos)), setval('runs_id_seq', (SELECT max(id) FROM runs)), setval('scores_id_seq', (SELECT max(id) FROM scores))`,
      );
    });
    await db.raw('ANALYZE');
    console.log(`built ${NAME}: ${N.toLocaleString('en-US')} repositories with a score each in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  await db.destroy();
  return url.toString();
}

/** The child: an admission app loading every score from the database, then its figures as one JSON line. */
async function child(url: string): Promise<void> {
  applyAdmissionV8Flags();
  const db = openDb({ databaseUrl: url });
  const config = defaultConfig();
  const app = await createAdmissionApp({
    config,
    refresh: false,
    webhooksDir: WEBHOOKS_DIR,
    scoreFeed: { scoresChangedSince: (since, page) => scoresChangedPage(db, since, { after: page.after, limit: PAGE_ROWS }) },
  });
  const started = performance.now();
  await app.scores.refresh();
  const ms = performance.now() - started;
  const status = app.scores.status();
  if (status.lastError) throw new Error(`the load failed: ${status.lastError}`);
  // An incremental pull (nothing changed) and a lookup, as the running server does next.
  await app.scores.refresh();
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ entries: status.entries, indexBytes: status.bytes, ms, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, arrayBuffers: m.arrayBuffers, external: m.external })}\n`,
  );
  app.close();
  await db.destroy();
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else {
  const url = await prepare();
  const limitMiB = manifestLimitMiB();
  const heapMiB = Math.floor(limitMiB / 4);
  console.log(
    `child: --max-old-space-size=${heapMiB} (V8's heap for a ${limitMiB} MiB container, the admission Deployment's limit), ${PAGE_ROWS.toLocaleString('en-US')} rows a page`,
  );
  const p = spawn(process.execPath, [`--max-old-space-size=${heapMiB}`, import.meta.filename, '--child', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (c) => (out += c));
  p.stderr.on('data', (c) => (err += c));
  const rss = sampleRss(p.pid!, 20);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => p.on('exit', (c, s) => resolve([c, s])));
  const samples = rss.stop();
  const peakMiB = Math.max(0, ...samples) / 1024;
  if (code !== 0) {
    const fatal = err.split('\n').find((l) => /FATAL ERROR|Error:/.test(l)) ?? err.split('\n').slice(-5).join('\n');
    console.log(
      `the load failed: the child ${signal ? `was killed by ${signal}` : `exited ${code}`} (peak RSS ${peakMiB.toFixed(0)} MiB of ${limitMiB} MiB): ${fatal.trim()}`,
    );
    process.exit(1);
  }
  const r = JSON.parse(out.trim().split('\n').at(-1)!);
  console.log(`repositories loaded:   ${r.entries.toLocaleString('en-US')} in ${(r.ms / 1000).toFixed(1)} s`);
  console.log(`score index:           ${(r.indexBytes / MIB).toFixed(1)} MiB (${(r.indexBytes / r.entries).toFixed(0)} B a repository)`);
  console.log(
    `heap used after load:  ${(r.heapUsed / MIB).toFixed(1)} MiB (of ${heapMiB} MiB allowed), array buffers ${(r.arrayBuffers / MIB).toFixed(1)} MiB`,
  );
  console.log(`RSS after load:        ${(r.rss / MIB).toFixed(0)} MiB (V8 heap committed ${(r.heapTotal / MIB).toFixed(0)} MiB)`);
  console.log(`RSS peak during load:  ${peakMiB.toFixed(0)} MiB of the ${limitMiB} MiB limit (${((100 * peakMiB) / limitMiB).toFixed(0)}%)`);
}
