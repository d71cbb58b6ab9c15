// The api process's memory under hostile load, at its manifest's limit: `node bin/serve.ts api`
// (what the container runs) with --max-old-space-size set to what V8 picks under the memory limit
// of knative/base/api.yaml (a quarter of it: 384Mi gives 96 MB), on PostgreSQL with
// BENCH_API_MEMORY_REPOS repositories (default 300,000; one result each, generated in SQL by
// bench/_dashboard-seed.ts, kept in BENCH_API_MEMORY_DB between runs). Each scenario runs against
// a fresh process and prints the process's peak RSS (VmHWM), whether it survived, and what the
// clients got:
//   bodies    BENCH_API_MEMORY_CLIENTS concurrent GETs each sending a 10 MiB `[{},{},…]` JSON body
//   exports   that many concurrent GET /export/latest.csv read to the end (50,000 rows each)
//   slow      that many exports whose clients read nothing for 5 s, then read to the end
//   head      that many concurrent HEAD /export/latest.csv
//   walk      one client following the export's Link headers through every repository
// BENCH_API_MEMORY_ROOT runs another checkout's bin/serve.ts (the code before a change, say).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { seedBulk } from './_dashboard-seed.ts';

import { benchDatabase } from './_database.ts';

const N = Number(process.env.BENCH_API_MEMORY_REPOS ?? 300_000);
const CLIENTS = Number(process.env.BENCH_API_MEMORY_CLIENTS ?? 12);
const NAME = process.env.BENCH_API_MEMORY_DB ?? 'posture_bench_api_memory';
const ROOT = process.env.BENCH_API_MEMORY_ROOT ?? join(import.meta.dirname, '..');
const ONLY = (process.env.BENCH_API_MEMORY_SCENARIOS ?? 'bodies,exports,slow,head,walk').split(',');
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(NAME)) throw new Error(`BENCH_API_MEMORY_DB must be a plain database name, got ${NAME}`);

/** The api container's memory limit in MiB, from knative/base/api.yaml. */
function manifestLimitMiB(): number {
  const svc = parseYaml(readFileSync(join(import.meta.dirname, '..', 'knative', 'base', 'api.yaml'), 'utf8'));
  const limit: string = svc.spec.template.spec.containers[0].resources.limits.memory;
  const m = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (!m) throw new Error(`unexpected memory limit ${limit}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

async function prepare(): Promise<string> {
  const {
    url,
    db,
    reused: reuse,
  } = await benchDatabase(NAME, async (c) => (await c.query('SELECT count(*)::int AS n FROM repo_latest')).rows[0].n === N, false);
  if (reuse) console.log(`reusing ${NAME}: ${N.toLocaleString('en-US')} repositories`);
  else {
    console.log(`building ${NAME}: ${N.toLocaleString('en-US')} repositories, one result each`);
    await seedBulk(db, N, 1, console.log);
  }
  await db.destroy();
  return url.toString();
}

interface Api {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

/** A port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startApi(databaseUrl: string, oldSpaceMiB: number): Promise<Api> {
  const port = await freePort();
  const child = spawn(process.execPath, [`--max-old-space-size=${oldSpaceMiB}`, join(ROOT, 'bin', 'serve.ts'), 'api'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', POSTURE_METRICS_PORT: '0', POSTURE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  for (let i = 0; ; i++) {
    if ((await get(port, '/healthz', 'GET')).status === 200) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`the api did not start: ${stderr.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Warm: the runtime opens its pool and checks the schema on the first request.
  await get(port, '/projects/github.com/owner1/repo-21', 'GET');
  return { child, port, exited };
}

function peakRssMiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function get(port: number, path: string, method: string, pauseMs = 0): Promise<{ status: number; bytes: number; link?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode!, bytes, link: res.headers.link as string | undefined }));
      res.on('error', (e) => resolve({ status: res.statusCode!, bytes, error: e.message }));
      if (pauseMs) {
        res.pause();
        setTimeout(() => res.resume(), pauseMs);
      }
    });
    req.on('error', (e) => resolve({ status: 0, bytes: 0, error: e.message }));
    req.end();
  });
}

/**
 * A GET carrying a 10 MiB JSON body of empty objects, written at the pace the socket takes it;
 * stops writing once the server answered. A server that answers and closes before the body is
 * written shows as 'closed mid-body' (the answer may be lost to the reset).
 */
function bodyGet(port: number): Promise<{ status: number; error?: string }> {
  const body = Buffer.from(`[${'{},'.repeat((10 * 1024 * 1024 - 4) / 3)}{}]`);
  return new Promise((resolve) => {
    let got = '';
    let sent = 0;
    let done = false;
    const finish = (r: { status: number; error?: string }) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(r);
    };
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET /projects HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
      const pump = () => {
        while (!done && sent < body.length) {
          const piece = body.subarray(sent, sent + 65536);
          sent += piece.length;
          if (!socket.write(piece)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n')) finish({ status: Number(got.slice(9, 12)) });
    });
    const closed = () =>
      finish(got ? { status: Number(got.slice(9, 12)) } : { status: 0, error: sent < body.length ? 'closed mid-body' : 'closed without an answer' });
    socket.on('error', closed);
    socket.on('close', closed);
  });
}

const databaseUrl = await prepare();
const limitMiB = manifestLimitMiB();
const oldSpace = Math.floor(limitMiB / 4);
console.log(`api process: node --max-old-space-size=${oldSpace} bin/serve.ts api (knative/base/api.yaml limit ${limitMiB}Mi), code at ${ROOT}`);
console.log(`${N.toLocaleString('en-US')} repositories, ${CLIENTS} concurrent clients per scenario, a fresh process each\n`);
console.log(`${'scenario'.padEnd(52)}${'peak RSS'.padStart(10)}  survived  time     answers`);

const scenarios: Array<[string, string, (port: number) => Promise<Array<{ status: number; bytes?: number; error?: string }>>]> = [
  ['bodies', `${CLIENTS} × GET with a 10 MiB JSON body`, (port) => Promise.all(Array.from({ length: CLIENTS }, () => bodyGet(port)))],
  [
    'exports',
    `${CLIENTS} × GET /export/latest.csv, read at once`,
    (port) => Promise.all(Array.from({ length: CLIENTS }, () => get(port, '/export/latest.csv', 'GET'))),
  ],
  [
    'slow',
    `${CLIENTS} × GET /export/latest.csv, read after 5 s`,
    (port) => Promise.all(Array.from({ length: CLIENTS }, () => get(port, '/export/latest.csv', 'GET', 5000))),
  ],
  ['head', `${CLIENTS} × HEAD /export/latest.csv`, (port) => Promise.all(Array.from({ length: CLIENTS }, () => get(port, '/export/latest.csv', 'HEAD')))],
  [
    'walk',
    'one client: every export part, Link to Link',
    async (port) => {
      const out: Array<{ status: number; bytes?: number; error?: string }> = [];
      let path: string | undefined = '/export/latest.csv';
      while (path) {
        const r = await get(port, path, 'GET');
        out.push(r);
        path = /^<([^>]+)>; rel="next"$/.exec(r.link ?? '')?.[1];
        if (r.status !== 200) break;
      }
      return out;
    },
  ],
];

for (const [key, label, run] of scenarios) {
  if (!ONLY.includes(key)) continue;
  const api = await startApi(databaseUrl, oldSpace);
  let died: { code: number | null; signal: string | null; stderr: string } | undefined;
  void api.exited.then((e) => (died = e));
  let peak = peakRssMiB(api.child.pid!) ?? 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssMiB(api.child.pid!) ?? peak)), 25);
  const t = performance.now();
  const answers = await run(api.port);
  const ms = performance.now() - t;
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(sampler);
  peak = Math.max(peak, peakRssMiB(api.child.pid!) ?? peak);
  const byStatus = new Map<string, number>();
  for (const a of answers) {
    const k = a.status ? String(a.status) : `error (${a.error})`;
    byStatus.set(k, (byStatus.get(k) ?? 0) + 1);
  }
  const bytes = answers.reduce((s, a) => s + (a.bytes ?? 0), 0);
  const summary = [...byStatus].map(([k, v]) => `${v}× ${k}`).join(', ') + (bytes ? `, ${(bytes / 1024 / 1024).toFixed(1)} MiB read` : '');
  console.log(
    `${label.padEnd(52)}${`${peak.toFixed(0)} MiB`.padStart(10)}  ${(died ? 'NO' : 'yes').padEnd(8)}  ${`${(ms / 1000).toFixed(1)} s`.padEnd(7)}  ${summary}`,
  );
  if (died)
    console.log(`  exited ${died.code ?? died.signal}: ${died.stderr.split('\n').filter((l) => /heap|memory|FATAL/i.test(l))[0] ?? died.stderr.slice(-200)}`);
  api.child.kill('SIGTERM');
  await Promise.race([api.exited, new Promise((r) => setTimeout(r, 3000))]);
  if (api.child.exitCode === null && api.child.signalCode === null) api.child.kill('SIGKILL');
}
console.log(`\nlimit ${limitMiB} MiB; peak RSS is the process's VmHWM (sampled until the scenario ended)`);
