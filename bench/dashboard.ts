// Dashboard latency at scale on PostgreSQL: the fleet page and the list route (and, for
// context, the repository page and the changes route) with BENCH_DASHBOARD_REPOS repositories
// (default 1,000,000) and BENCH_DASHBOARD_HISTORY results each (default 3), generated in SQL
// (bench/_dashboard-seed.ts), in a database of its own (BENCH_DASHBOARD_DB, default
// posture_bench_dashboard) that is kept between runs and reused when it already holds that
// many repositories (BENCH_DASHBOARD_FRESH=1 rebuilds it). Requests go sequentially over one
// keep-alive loopback connection to the api function's server; each route is measured
// BENCH_DASHBOARD_RUNS times (default 30) after 5 warm-ups, and /healthz on the same server is
// the baseline. Also prints how long a fleet snapshot refresh (the background part) takes.
import { Agent, request, type Server } from 'node:http';
import { fleetConfigOf } from '../lib/api/dashboard.ts';
import { encodeCursor } from '../lib/api/dashboard-route.ts';
import { refreshSnapshot } from '../lib/api/fleet.ts';
import { createApiHandle } from '../lib/api/handler.ts';
import { defaultConfig } from '../lib/config/index.ts';
import { openDb } from '../lib/db/index.ts';
import { createFunctionServer, listen } from '../lib/function/server.ts';
import { silentLogger } from '../lib/log/index.ts';
import { seedBulk } from './_dashboard-seed.ts';
import { benchDatabase } from './_database.ts';
import { median, percentile } from './_util.ts';

const N = Number(process.env.BENCH_DASHBOARD_REPOS ?? 1_000_000);
const HISTORY = Number(process.env.BENCH_DASHBOARD_HISTORY ?? 3);
const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS ?? 30);
const NAME = process.env.BENCH_DASHBOARD_DB ?? 'posture_bench_dashboard';
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(NAME)) throw new Error(`BENCH_DASHBOARD_DB must be a plain database name, got ${NAME}`);
const LIMIT_MS = 200;

async function prepare(): Promise<string> {
  const {
    url,
    db,
    reused: reuse,
  } = await benchDatabase(
    NAME,
    async (c) => {
      const r = await c.query(
        `SELECT (SELECT count(*) FROM repos)::int AS repos, (SELECT count(*) FROM repo_latest)::int AS latest, EXISTS (SELECT 1 FROM posture_migrations WHERE name = '004_dashboard') AS migrated`,
      );
      return r.rows[0].repos === N && r.rows[0].latest === N && r.rows[0].migrated;
    },
    process.env.BENCH_DASHBOARD_FRESH === '1',
  );
  if (reuse) console.log(`reusing ${NAME}: ${N.toLocaleString('en-US')} repositories already there`);
  else {
    console.log(`building ${NAME}: ${N.toLocaleString('en-US')} repositories × ${HISTORY} results, checks of each newest result`);
    const t = Date.now();
    await seedBulk(db, N, HISTORY, console.log);
    console.log(`  built in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  const sizes = (
    await db.raw(
      `SELECT (SELECT count(*) FROM repos) AS repos, (SELECT count(*) FROM scores) AS scores, (SELECT count(*) FROM checks) AS checks, (SELECT count(*) FROM runs) AS runs, pg_size_pretty(pg_database_size(current_database())) AS size`,
    )
  ).rows[0];
  console.log(
    `database: ${Number(sizes.repos).toLocaleString('en-US')} repos, ${Number(sizes.runs).toLocaleString('en-US')} runs, ${Number(sizes.scores).toLocaleString('en-US')} scores, ${Number(sizes.checks).toLocaleString('en-US')} checks, ${sizes.size}`,
  );
  await db.destroy();
  return url.toString();
}

function get(agent: Agent, port: number, path: string): Promise<{ status: number; bytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { accept: '*/*' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, bytes: body.length, body: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(
  agent: Agent,
  port: number,
  path: string,
  runs = RUNS,
): Promise<{ median: number; p95: number; max: number; bytes: number; status: number }> {
  let last = { status: 0, bytes: 0 };
  for (let i = 0; i < Math.min(5, runs); i++) last = await get(agent, port, path);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    last = await get(agent, port, path);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { median: median(times), p95: percentile(times, 95), max: Math.max(...times), bytes: last.bytes, status: last.status };
}

const url = await prepare();
const db = openDb({ databaseUrl: url });
const config = defaultConfig();
const fc = fleetConfigOf(config);
const refreshes: number[] = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  await refreshSnapshot(db, fc);
  refreshes.push(performance.now() - t);
}
console.log(`fleet snapshot refresh (background, at most once a minute): median ${median(refreshes).toFixed(0)} ms of 3`);

const server: Server = createFunctionServer({ name: 'api', handle: createApiHandle(async () => ({ db, config, log: silentLogger })), log: silentLogger });
const port = await listen(server, 0);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

// A cursor half-way through the score order, as page 5,000 of 100 would carry.
const mid = (await db.raw(`SELECT score, repo_id FROM repo_latest WHERE score IS NOT NULL ORDER BY score, repo_id OFFSET ? LIMIT 1`, [Math.floor(N / 2)]))
  .rows[0];
const midName = (await db.raw(`SELECT key, repo_id FROM repo_latest ORDER BY key OFFSET ? LIMIT 1`, [Math.floor(N / 2)])).rows[0];
const someRepo = (await db.raw(`SELECT key FROM repo_latest WHERE score_id IS NOT NULL ORDER BY repo_id OFFSET ? LIMIT 1`, [Math.floor(N / 3)])).rows[0].key;

// [name, path, gated by the 200 ms asked for, runs]
const routes: Array<[string, string, boolean, number?]> = [
  ['baseline /healthz', '/healthz', false],
  ['fleet page', '/ui', true],
  ['list, default (name, 100)', '/projects', true],
  ['list, sort=score', '/projects?sort=score', true],
  ['list, sort=-score', '/projects?sort=-score', true],
  ['list, sort=delta (drops)', '/projects?sort=delta', true],
  ['list, sort=-date', '/projects?sort=-date', true],
  ['list, score page half-way (cursor)', `/projects?sort=score&cursor=${encodeCursor({ v: Number(mid.score), id: Number(mid.repo_id) })}`, true],
  ['list, name page half-way (cursor)', `/projects?cursor=${encodeCursor({ v: midName.key, id: Number(midName.repo_id) })}`, true],
  ['list, owner=owner1234', '/projects?owner=owner1234', true],
  ['list, min=4&max=5&sort=score', '/projects?min=4&max=5&sort=score', true],
  ['list, state=failing', '/projects?state=failing', true],
  ['list, state=never', '/projects?state=never', true],
  ['list, state=fresh&sort=score', '/projects?state=fresh&sort=score', true],
  ['list, state=overdue', '/projects?state=overdue', true],
  ['list, limit=1000', '/projects?limit=1000', true],
  ['list page (HTML)', '/ui/projects?sort=score', true],
  ['repository page', `/ui/projects/${someRepo}`, false],
  ['changes route', `/projects/${someRepo}/changes`, false],
  ['export, first part (50,000 rows CSV)', '/export/latest.csv', false, 5],
];
console.log(
  `\n${RUNS} sequential requests per route (after 5 warm-ups), one keep-alive connection; ≤ ${LIMIT_MS} ms asked for the fleet page and the list route`,
);
console.log(`${'route'.padEnd(38)}status  median     p95      max   bytes   ×baseline`);
let baseline = 1;
let over = 0;
for (const [name, path, gated, runs] of routes) {
  const m = await measure(agent, port, path, runs);
  if (name.startsWith('baseline')) baseline = m.median;
  const flag = gated && m.p95 > LIMIT_MS ? '  OVER' : '';
  if (flag) over++;
  console.log(
    `${name.padEnd(38)}${String(m.status).padEnd(6)}${m.median.toFixed(1).padStart(7)}${m.p95.toFixed(1).padStart(8)}${m.max.toFixed(1).padStart(9)}${String(m.bytes).padStart(8)}${(m.median / baseline).toFixed(0).padStart(10)}${flag}`,
  );
}
console.log(over ? `${over} gated route(s) over ${LIMIT_MS} ms at p95` : `every gated route within ${LIMIT_MS} ms at p95`);
agent.destroy();
await new Promise((r) => server.close(r));
await db.destroy();
