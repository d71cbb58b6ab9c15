// The API server's own reviews, sent again without the API server: what each admission server
// costs per review, in CPU time measured by the kernel, with nothing else in the way.
// bench/admission-apiserver.ts measures what kube-apiserver adds per webhook call, but its spread
// between rounds (an identical floor ranges 0.91-1.08x) is as wide as the gaps it looks for, and
// each run takes minutes on the control plane. Here the reviews kube-apiserver sent (captured by
// that benchmark's floor with BENCH_CAPTURE_DIR; a set of them is kept in
// bench/fixtures/apiserver-reviews/) go to posture (`bin/serve.ts admission`) and to the floors of
// bench/admission-apiserver.ts over one keep-alive HTTPS connection each, as the API server's
// client keeps one, with its headers, one review at a time and alternating between the servers.
// Between two reviews the client can write through a buffer larger than the caches
// (--thrash-mib), as the API server's own work between two webhook calls does. Per round: each
// server's CPU per review from /proc/<pid>/task/*/schedstat (nanoseconds; the main thread, where a
// review is answered, and all threads), and the client's latency per review; posture ÷ floor per
// round, medians of rounds.
//
// Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/posture_bench_apiserver,
// created if missing) for the gate's score, and openssl for a certificate.
//
//   node bench/admission-replay.ts [--rounds 9] [--n 400] [--warmup 3000] [--gap-us 1000]
//                                  [--thrash-mib 32] [--targets posture,floor,floor-twin] [--reviews DIR]
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_V8_DEFAULTS_ENV } from '../lib/admission/v8-flags.ts';
import { admissionBench, admissionServerEnv, startChild } from './_admission.ts';
import { arg, median, percentile, threadsCpuNs } from './_util.ts';

const SELF_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(SELF_DIR, '..');

const rounds = Number(arg('rounds', '9'));
const n = Number(arg('n', '400'));
const warmup = Number(arg('warmup', '3000'));
const gapUs = Number(arg('gap-us', '1000'));
const thrashMiB = Number(arg('thrash-mib', '32'));
const targets = arg('targets', 'posture,floor,floor-twin').split(',');
const reviewsDir = arg('reviews', join(SELF_DIR, 'fixtures', 'apiserver-reviews'));

/** posture as `bin/serve.ts admission` runs it, and variants of its settings (environment). */
const POSTURES: Record<string, Record<string, string>> = {
  posture: {},
  // V8's default TurboFan thresholds, not posture's (lib/admission/v8-flags.ts).
  'posture-v8defaults': { [BENCH_V8_DEFAULTS_ENV]: 'turbofan' },
  // V8's memory reducer as V8 sets it: its collections when the server turns quiet reduce memory, deoptimising the request path.
  'posture-reducer': { [BENCH_V8_DEFAULTS_ENV]: 'reducer' },
  // Another checkout's posture (BENCH_BASELINE_DIR, e.g. a git worktree of the code before a change), in the same rounds.
  'posture-baseline': {},
};

function baselineDir(): string {
  const d = process.env.BENCH_BASELINE_DIR;
  if (!d) throw new Error('posture-baseline needs BENCH_BASELINE_DIR: a checkout of the code to compare with (git worktree add <dir> <commit>)');
  return d;
}

interface Captured {
  path: string;
  headers: Record<string, string>;
  body: string;
}
const reviews: Captured[] = readdirSync(reviewsDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(reviewsDir, f), 'utf8')) as Captured);
if (reviews.length === 0) throw new Error(`no reviews in ${reviewsDir}`);

const thrash = Buffer.alloc(thrashMiB * 1024 * 1024);
let thrashByte = 0;
/** Writes one byte per cache line of a buffer larger than the caches. */
function evictCaches(): void {
  thrashByte = (thrashByte + 1) & 0xff;
  for (let i = 0; i < thrash.length; i += 64) thrash[i] = thrashByte;
}

const sleep = (us: number) => new Promise((r) => setTimeout(r, Math.max(1, Math.round(us / 1000))));

async function main(): Promise<void> {
  const { databaseUrl, dir, certFile, keyFile } = await admissionBench('replay');
  const children: ChildProcess[] = [];
  try {
    const ca = readFileSync(certFile);
    const servers = new Map<string, { pid: number; port: number; agent: Agent }>();
    for (const t of targets) {
      const started =
        t in POSTURES
          ? await startChild(
              [join(t === 'posture-baseline' ? baselineDir() : ROOT, 'bin/serve.ts'), 'admission'],
              admissionServerEnv({ databaseUrl, certFile, keyFile }, POSTURES[t]),
              t,
            )
          : await startChild([join(SELF_DIR, 'admission-apiserver.ts'), '--serve', t, certFile, keyFile], process.env, t);
      children.push(started.child);
      // One connection per server, kept alive, as the API server's client keeps one per webhook.
      servers.set(t, { pid: started.child.pid!, port: started.port, agent: new Agent({ keepAlive: true, maxSockets: 1, ca }) });
    }
    // The gate reads its score from the database in the background: wait until it has it.
    await new Promise((r) => setTimeout(r, 1500));

    const send = (t: string, r: Captured) =>
      new Promise<number>((resolve, reject) => {
        const s = servers.get(t)!;
        const body = Buffer.from(r.body);
        const t0 = process.hrtime.bigint();
        const req = request(
          {
            host: '127.0.0.1',
            port: s.port,
            method: 'POST',
            path: r.path,
            agent: s.agent,
            servername: 'localhost',
            headers: { ...r.headers, 'content-length': body.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const us = Number(process.hrtime.bigint() - t0) / 1000;
              const text = Buffer.concat(chunks).toString('utf8');
              if (res.statusCode !== 200 || !text.includes('"allowed":true')) reject(new Error(`${t}: ${res.statusCode} ${text.slice(0, 300)}`));
              else resolve(us);
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    // One scenario per webhook path, as bench/admission-apiserver.ts runs them.
    const scenarios = new Map<string, Captured[]>();
    for (const r of reviews) {
      const path = r.path.split('?')[0];
      scenarios.set(path, [...(scenarios.get(path) ?? []), r]);
    }
    console.log(
      `admission reviews as kube-apiserver sent them (${reviews.length} captured, ${reviewsDir}), one at a time over one keep-alive connection per server, alternating between servers; ${gapUs} µs apart${thrashMiB > 0 ? `, ${thrashMiB} MiB written between reviews` : ''}; ${rounds} rounds of ${n} per server after ${warmup} each`,
    );
    for (const [path, mine] of scenarios) {
      for (const t of targets) for (let i = 0; i < warmup; i++) await send(t, mine[i % mine.length]);
      const perTarget = new Map(targets.map((t) => [t, { main: [] as number[], all: [] as number[], p50: [] as number[] }]));
      for (let round = 0; round < rounds; round++) {
        const cycle = round % 2 === 0 ? targets : [...targets].reverse();
        const lat = new Map(targets.map((t) => [t, [] as number[]]));
        const before = new Map(targets.map((t) => [t, threadsCpuNs(servers.get(t)!.pid)]));
        for (let i = 0; i < n * targets.length; i++) {
          const t = cycle[i % cycle.length];
          if (thrashMiB > 0) evictCaches();
          await sleep(gapUs);
          lat.get(t)!.push(await send(t, mine[Math.floor(i / targets.length) % mine.length]));
        }
        for (const t of targets) {
          const a = threadsCpuNs(servers.get(t)!.pid);
          const b = before.get(t)!;
          const m = perTarget.get(t)!;
          m.main.push((a.main - b.main) / n / 1000);
          m.all.push((a.all - b.all) / n / 1000);
          m.p50.push(percentile(lat.get(t)!, 50));
        }
      }
      console.log(`\n${path}: per review, the server's CPU on its main thread and on all threads (µs), the client's p50 latency (µs); medians of rounds`);
      for (const t of targets) {
        const m = perTarget.get(t)!;
        console.log(
          `  ${t.padEnd(20)} main ${median(m.main).toFixed(1).padStart(6)}  all ${median(m.all).toFixed(1).padStart(6)}  p50 ${median(m.p50).toFixed(0).padStart(5)}   main by round [${m.main.map((x) => x.toFixed(0)).join(', ')}]`,
        );
      }
      const base = perTarget.get('floor');
      if (base) {
        console.log(`  ÷ floor, median of per-round ratios (main-thread CPU, all-thread CPU, p50 latency):`);
        for (const t of targets.filter((x) => x !== 'floor')) {
          const m = perTarget.get(t)!;
          const r = (k: 'main' | 'all' | 'p50') => median(m[k].map((x, i) => x / base[k][i])).toFixed(3);
          console.log(`    ${t.padEnd(18)} ${r('main')}x  ${r('all')}x  ${r('p50')}x`);
        }
      }
    }
    for (const s of servers.values()) s.agent.destroy();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
