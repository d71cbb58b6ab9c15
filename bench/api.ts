// Score API latency: N sequential requests over loopback HTTP (one keep-alive connection) to the
// function server, on PGlite and on PostgreSQL, with fixture 06 stored through the harvest path
// plus a history of results and a crowd of other repositories. Prints median / p99 per route.
//   BENCH_API_REQUESTS (default 2000), BENCH_API_REPOS (default 10000), BENCH_API_HISTORY (default 100)
import { Agent, request, type Server } from 'node:http';
import { createApiHandle } from '../lib/api/handler.ts';
import { fixture06, storeDocument } from '../lib/api/testing.ts';
import { addRepos, type Db, migrate, type NewRepo } from '../lib/db/index.ts';
import { createPgliteDatabase, createPostgresDatabase, type TestDatabase } from '../lib/db/testing.ts';
import { createFunctionServer, listen } from '../lib/function/server.ts';
import { silentLogger } from '../lib/log/index.ts';
import { parseRepo, type RepoId } from '../lib/repo/identity.ts';
import { median, percentile } from './_util.ts';

const N = Number(process.env.BENCH_API_REQUESTS ?? 2000);
const REPOS = Number(process.env.BENCH_API_REPOS ?? 10_000);
const HISTORY = Number(process.env.BENCH_API_HISTORY ?? 100);
const PROJECT = '/projects/github.com/ossf/scorecard';

async function seed(db: Db): Promise<void> {
  const others: NewRepo[] = [];
  for (let i = 0; i < REPOS; i++) others.push({ repo: (parseRepo(`github.com/owner${i % 997}/repo-${i}`) as { ok: true; repo: RepoId }).repo });
  for (let i = 0; i < others.length; i += 2000) await addRepos(db, others.slice(i, i + 2000));
  const base = Date.parse('2025-01-01T00:00:00Z');
  for (let i = 0; i < HISTORY - 1; i++) {
    const d = fixture06();
    d.repo.commit = i.toString(16).padStart(40, '0');
    d.date = new Date(base + i * 3_600_000).toISOString().replace('.000Z', 'Z');
    d.score = Math.round((5 + (i % 50) / 10) * 10) / 10;
    await storeDocument(db, d);
  }
  await storeDocument(db, fixture06()); // the newest result (2025-11-15)
}

function get(agent: Agent, port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; etag?: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode!, etag: res.headers.etag, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(agent: Agent, port: number, path: string, headers: Record<string, string>, want: number) {
  for (let i = 0; i < Math.min(200, N); i++) await get(agent, port, path, headers); // warm up
  const times: number[] = [];
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    const r = await get(agent, port, path, headers);
    times.push(performance.now() - s);
    if (r.status !== want) throw new Error(`${path}: ${r.status}, expected ${want}`);
    bytes = r.bytes;
  }
  const total = (performance.now() - t0) / 1000;
  return { median: median(times), p99: percentile(times, 99), rps: N / total, bytes };
}

async function run(kind: string, t: TestDatabase): Promise<void> {
  const db = t.db;
  await migrate(db);
  const s0 = performance.now();
  await seed(db);
  console.log(
    `${kind}: seeded ${REPOS.toLocaleString('en')} repositories and ${HISTORY} results of ossf/scorecard in ${((performance.now() - s0) / 1000).toFixed(1)} s`,
  );

  const handle = createApiHandle(async () => ({ db, config: { allowedHosts: ['github.com'] }, log: silentLogger }));
  const server: Server = createFunctionServer({ name: 'api', handle, log: silentLogger });
  const port = await listen(server, 0);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const etag = (await get(agent, port, PROJECT)).etag!;
    const cases: Array<[string, string, Record<string, string>, number]> = [
      ['project (fixture 06)', PROJECT, {}, 200],
      ['project ?commit=', `${PROJECT}?commit=${fixture06().repo.commit}`, {}, 200],
      ['project 304 (If-None-Match)', PROJECT, { 'if-none-match': etag }, 304],
      [`history ?limit=${HISTORY}`, `${PROJECT}/history?limit=${HISTORY}`, {}, 200],
      ['badge', `${PROJECT}/badge`, {}, 200],
      ['404 unknown repository', '/projects/github.com/nobody/nothing', {}, 404],
      ['400 invalid path', '/projects/github.com/o%2Fx/r', {}, 400],
    ];
    for (const [name, path, headers, want] of cases) {
      const m = await measure(agent, port, path, headers, want);
      console.log(
        `${kind.padEnd(8)} ${name.padEnd(28)} median ${m.median.toFixed(3)} ms  p99 ${m.p99.toFixed(3)} ms  ${Math.round(m.rps).toLocaleString('en')} req/s  ${m.bytes} B  (${N} sequential requests)`,
      );
    }
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

console.log(`score API over loopback HTTP, one keep-alive connection, ${N} requests per route (2 cores shared; figures are indicative)`);
for (const [kind, create] of [
  ['pglite', createPgliteDatabase],
  ['postgres', createPostgresDatabase],
] as const) {
  const t = await create();
  try {
    await run(kind, t);
  } finally {
    await t.drop();
  }
}
