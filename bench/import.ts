// `posture repos import` of a generated 1,000,000-line Scorecard CSV, on PGlite and on
// PostgreSQL: wall time and resident memory (peak, and at 25/50/75/100% of the run, to show
// whether memory stays flat). Re-import of the same file is measured too (all duplicates).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { mb, median, sampleRss } from './_util.ts';

const LINES = Number(process.env.BENCH_IMPORT_LINES ?? 1_000_000);
const RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'posture-bench-import-'));
const file = join(dir, 'projects.csv');

async function generate(): Promise<void> {
  const out = createWriteStream(file);
  out.write('repo,metadata\n');
  for (let i = 0; i < LINES; i++) {
    if (!out.write(`github.com/owner${i % 50000}/repo-${i},criticality_score:0.${(i * 7919) % 1000000}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function run(env: Record<string, string>): Promise<{ seconds: number; peak: number; profile: number[]; out: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'posture.ts'), 'repos', 'import', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const sampler = sampleRss(child.pid!);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  const samples = sampler.stop();
  if (code !== 0) throw new Error(`import exited ${code}`);
  const at = (f: number) => samples[Math.min(samples.length - 1, Math.floor(f * (samples.length - 1)))] ?? 0;
  return { seconds: (performance.now() - t0) / 1000, peak: Math.max(...samples), profile: [at(0.25), at(0.5), at(0.75), at(1)], out: out.trim() };
}

await generate();
console.log(`generated ${LINES.toLocaleString('en')} lines`);
const pg = await createPostgresDatabase();
try {
  const targets: Array<[string, Record<string, string>]> = [
    ['pglite', { POSTURE_DATA_DIR: join(dir, 'data') }],
    ['postgres', { DATABASE_URL: pg.url! }],
  ];
  for (const [name, env] of targets) {
    const results: Record<string, Array<Awaited<ReturnType<typeof run>>>> = { 'first import': [], 're-import': [] };
    for (let i = 0; i < RUNS; i++) {
      // A fresh database for each first import.
      if (name === 'pglite') env.POSTURE_DATA_DIR = join(dir, `data-${i}`);
      else await pg.db.raw('TRUNCATE repos RESTART IDENTITY CASCADE').catch(async () => undefined);
      for (const pass of ['first import', 're-import']) results[pass].push(await run(env));
    }
    for (const [pass, rs] of Object.entries(results)) {
      const secs = median(rs.map((r) => r.seconds));
      const peak = median(rs.map((r) => r.peak));
      const profile = [0, 1, 2, 3].map((k) => median(rs.map((r) => r.profile[k])));
      console.log(
        `${name.padEnd(8)} ${pass.padEnd(12)} median of ${RUNS}: ${secs.toFixed(1)} s  ${Math.round(LINES / secs).toLocaleString('en')} lines/s  peak RSS ${mb(peak)}  RSS at 25/50/75/100%: ${profile.map(mb).join(' / ')}  (${rs[0].out})`,
      );
    }
  }
} finally {
  await pg.drop();
  rmSync(dir, { recursive: true, force: true });
}
