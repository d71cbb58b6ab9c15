// Benchmark: turning a Scorecard pod log into a validated result (the harvester's CPU work).
// Prints medians; run with `node bench/parse.ts` (Node 24). Storing is measured by the DB layer.
// With BENCH_BASELINE_DIR (a checkout of the code before a change, e.g. `git worktree add`),
// classify of both checkouts runs on the same logs in alternating rounds and the ratio
// (this ÷ baseline, median of the rounds) is printed.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { classify, extractDocuments, readCapped, validateResult } from '../lib/scorecard/index.ts';
import { largestFixture, noisyLog, STDERR_LINES } from '../lib/scorecard/testing.ts';

export interface Figure {
  name: string;
  median: number;
  p90: number;
  unit: 'µs' | 'ms';
  runs: number;
  note?: string;
}

function measure(name: string, runs: number, unit: 'µs' | 'ms', fn: () => unknown, note?: string): Figure {
  const warmup = Math.min(runs, 50);
  for (let i = 0; i < warmup; i += 1) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const scale = unit === 'µs' ? 1000 : 1;
  return { name, median: times[Math.floor(runs / 2)] * scale, p90: times[Math.floor(runs * 0.9)] * scale, unit, runs, note };
}

async function measureAsync(name: string, runs: number, fn: () => Promise<unknown>, note?: string): Promise<Figure> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { name, median: times[Math.floor(runs / 2)], p90: times[Math.floor(runs * 0.9)], unit: 'ms', runs, note };
}

export async function parseFigures(): Promise<Figure[]> {
  const fx = largestFixture();
  const podLog = `${STDERR_LINES.join('\n')}\n${fx.line}\n${STDERR_LINES.join('\n')}\n`;
  const tenMiB = 10 * 1024 * 1024;
  const noisy = noisyLog(tenMiB, fx.line);
  const garbage = noisyLog(tenMiB);
  const mbps = (bytes: number, f: Figure) => `${(bytes / 1048576 / (f.median / 1000)).toFixed(0)} MiB/s`;
  const figures: Figure[] = [
    measure(`JSON.parse + validateResult, ${fx.file.slice(0, 2)} (${(fx.line.length / 1024).toFixed(1)} KiB)`, 5000, 'µs', () =>
      validateResult(JSON.parse(fx.line)),
    ),
    measure('classify: that result in a pod log with stderr lines', 5000, 'µs', () => classify(podLog)),
    measure('classify: that result pretty-printed', 5000, 'µs', () => classify(fx.text)),
  ];
  const extract = measure('extractDocuments: 10 MiB noisy log, result last', 15, 'ms', () => extractDocuments(noisy));
  extract.note = mbps(noisy.length, extract);
  const full = measure('classify: 10 MiB noisy log, result last', 15, 'ms', () => classify(noisy));
  full.note = mbps(noisy.length, full);
  const none = measure('classify: 10 MiB noisy log, no result', 15, 'ms', () => classify(garbage));
  none.note = mbps(garbage.length, none);
  figures.push(extract, full, none);
  const chunks = Array.from({ length: Math.ceil(noisy.length / 65536) }, (_, i) => Buffer.from(noisy.slice(i * 65536, (i + 1) * 65536)));
  const read = await measureAsync('readCapped: 10 MiB in 64 KiB chunks', 15, () => readCapped(chunks, tenMiB + 1));
  read.note = mbps(noisy.length, read);
  figures.push(read);
  const refused = `${garbage}Skipping github.com/o/r: run: repo unreachable: GET https://api.github.com/repos/o/r: 401 Bad credentials []\n`;
  const r401 = measure('classify: 10 MiB noisy log, no result, 401 last', 15, 'ms', () => classify(refused));
  r401.note = mbps(refused.length, r401);
  figures.push(r401);
  return figures;
}

/** classify of this checkout ÷ that of BENCH_BASELINE_DIR on the same logs, alternating rounds. */
export async function baselineRatios(dir: string, rounds = 15): Promise<string[]> {
  const base = (await import(path.join(path.resolve(dir), 'lib/scorecard/index.ts'))) as { classify: typeof classify };
  const fx = largestFixture();
  const garbage = noisyLog(10 * 1024 * 1024);
  const cases: Array<[string, string]> = [
    ['result in a pod log with stderr lines', `${STDERR_LINES.join('\n')}\n${fx.line}\n${STDERR_LINES.join('\n')}\n`],
    ['10 MiB noisy log, no result', garbage],
    [
      '10 MiB noisy log, no result, 401 last',
      `${garbage}Skipping github.com/o/r: run: repo unreachable: GET https://api.github.com/repos/o/r: 401 Bad credentials []\n`,
    ],
  ];
  const out: string[] = [];
  for (const [name, log] of cases) {
    const reps = log.length < 100_000 ? 2000 : 1;
    const time = (f: typeof classify) => {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) f(log);
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) {
      time(classify);
      time(base.classify);
    }
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Which goes first alternates, so neither always runs on a warmer cache.
      const first = r % 2 === 0 ? time(classify) : time(base.classify);
      const second = r % 2 === 0 ? time(base.classify) : time(classify);
      ratios.push(r % 2 === 0 ? first / second : second / first);
    }
    ratios.sort((x, y) => x - y);
    out.push(`classify ${name}: this ÷ baseline ${ratios[Math.floor(rounds / 2)].toFixed(2)}x (median of ${rounds} alternating rounds)`);
  }
  return out;
}

export function formatFigures(figures: Figure[]): string {
  const width = Math.max(...figures.map((f) => f.name.length));
  return figures
    .map(
      (f) =>
        `${f.name.padEnd(width)}  median ${f.median.toFixed(f.unit === 'µs' ? 1 : 2).padStart(8)} ${f.unit}  p90 ${f.p90.toFixed(f.unit === 'µs' ? 1 : 2).padStart(8)} ${f.unit}  (${f.runs} runs)${f.note ? `  ${f.note}` : ''}`,
    )
    .join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  console.log(formatFigures(await parseFigures()));
  if (process.env.BENCH_BASELINE_DIR) for (const line of await baselineRatios(process.env.BENCH_BASELINE_DIR)) console.log(line);
}
