// What an admission server costs while no review comes: its CPU time per second of wall time,
// from /proc/<pid>/task/*/schedstat (nanoseconds, all threads), after it has settled (start-up,
// its first score refresh and V8's first memory-reducer collections are over). An API server
// calls a webhook a few times a second at most in most clusters, so this is most of what the
// process costs the node it runs on, and its timers wake it between reviews. Each target is
// `bin/serve.ts admission` with some of its periodic work made hourly; all run at once, measured
// over the same windows; medians of rounds, what each adds above `quiet` (both polls hourly), and
// `defaults` ÷ `baseline` (another checkout, BENCH_BASELINE_DIR) per round.
//
// Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/posture_bench_apiserver,
// created if missing) for the gate's scores, and openssl for a certificate.
//
//   node bench/admission-idle.ts [--settle 45] [--rounds 3] [--seconds 20] [--targets defaults,tls-hourly,refresh-hourly,quiet]
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { admissionBench, admissionServerEnv, startChild } from './_admission.ts';
import { arg, median, threadsCpuNs } from './_util.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const settle = Number(arg('settle', '45'));
const rounds = Number(arg('rounds', '3'));
const seconds = Number(arg('seconds', '20'));
const targets = arg('targets', 'defaults,tls-hourly,refresh-hourly,quiet').split(',');

const HOURLY = '3600';
const TARGETS: Record<string, { env: Record<string, string>; doc: string }> = {
  defaults: { env: {}, doc: 'bin/serve.ts admission as configured by default' },
  'tls-hourly': { env: { POSTURE_TLS_RELOAD_SECONDS: HOURLY }, doc: 'the certificate poll (POSTURE_TLS_RELOAD_SECONDS, default 10 s) hourly' },
  'refresh-hourly': { env: { POSTURE_GATE_REFRESH_SECONDS: HOURLY }, doc: "the gate's score refresh (POSTURE_GATE_REFRESH_SECONDS, default 30 s) hourly" },
  quiet: { env: { POSTURE_TLS_RELOAD_SECONDS: HOURLY, POSTURE_GATE_REFRESH_SECONDS: HOURLY }, doc: 'both hourly: what is left' },
  // Another checkout (BENCH_BASELINE_DIR, e.g. a git worktree of the code before a change), defaults.
  baseline: { env: {}, doc: 'bin/serve.ts admission of the checkout in BENCH_BASELINE_DIR, defaults' },
};

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

async function main(): Promise<void> {
  for (const t of targets) if (!(t in TARGETS)) throw new Error(`unknown target ${t}; have ${Object.keys(TARGETS).join(', ')}`);
  const { databaseUrl, dir, certFile, keyFile } = await admissionBench('idle');
  const children: ChildProcess[] = [];
  try {
    const pids = new Map<string, number>();
    for (const t of targets) {
      const root = t === 'baseline' ? process.env.BENCH_BASELINE_DIR : ROOT;
      if (!root) throw new Error('baseline needs BENCH_BASELINE_DIR: a checkout of the code to compare with (git worktree add <dir> <commit>)');
      const env = admissionServerEnv({ databaseUrl, certFile, keyFile }, TARGETS[t].env);
      const { child } = await startChild([join(root, 'bin/serve.ts'), 'admission'], env, t);
      children.push(child);
      pids.set(t, child.pid!);
    }
    console.log(
      `idle admission servers, all at once: CPU per second of wall time (µs/s, all threads) over ${rounds} windows of ${seconds} s, after ${settle} s to settle`,
    );
    for (const t of targets) console.log(`  ${t}: ${TARGETS[t].doc}`);
    await sleep(settle);
    const perTarget = new Map(targets.map((t) => [t, [] as number[]]));
    for (let round = 0; round < rounds; round++) {
      const before = new Map(targets.map((t) => [t, threadsCpuNs(pids.get(t)!).all]));
      const t0 = process.hrtime.bigint();
      await sleep(seconds);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      for (const t of targets) perTarget.get(t)!.push((threadsCpuNs(pids.get(t)!).all - before.get(t)!) / 1000 / wallS);
    }
    for (const t of targets) {
      const xs = perTarget.get(t)!;
      console.log(`  ${t.padEnd(16)} median ${median(xs).toFixed(0).padStart(5)} µs/s   rounds [${xs.map((x) => x.toFixed(0)).join(', ')}]`);
    }
    // quiet is near zero: the others are read as what they add above it, and against the baseline.
    const quiet = perTarget.get('quiet');
    if (quiet) {
      console.log('  above quiet, median of per-round differences (µs/s):');
      for (const t of targets.filter((x) => x !== 'quiet'))
        console.log(
          `    ${t.padEnd(16)} ${median(perTarget.get(t)!.map((x, i) => x - quiet[i]))
            .toFixed(0)
            .padStart(5)}`,
        );
    }
    const base = perTarget.get('baseline');
    if (base)
      console.log(
        `  defaults ÷ baseline, median of per-round ratios: ${median(perTarget.get('defaults')?.map((x, i) => x / Math.max(1, base[i])) ?? [Number.NaN]).toFixed(2)}x`,
      );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
