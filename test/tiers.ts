// The test tiers, and the runner behind `npm test` and `npm run test:<tier>`.
//   unit  *.test.ts in lib/, functions/, bin/, at the top of test/ and in test/github/ (the fake
//         GitHub's own contract), except *.db.test.ts: no
//         database, no cluster, no network beyond loopback servers a test starts itself. Each
//         test process loads test/no-database.ts, which refuses to open either database.
//   db    *.db.test.ts in the same places: PGlite and PostgreSQL (127.0.0.1:5432, see
//         lib/db/testing.ts).
//   e2e   test/e2e/** and test/cluster/**: the local control plane, the real Scorecard CLI against
//         the fake GitHub, Chromium.
//   node  test/node/**: a real kubelet, containerd and runc joined to a private control plane
//         (test/cluster/node.ts), so pods really run; needs root and Debian's containerd.
// test/tiers.test.ts keeps it true: unit files import no database, and every test file is in one
// tier. `node test/tiers.ts unit db e2e node [node --test options]` runs the named tiers in order,
// each one `node --test` over its files, prints `tier unit: 60 files, 12.3 s`, and stops at the
// first that fails.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export const root = join(import.meta.dirname, '..');

const list = (patterns: string[]) => globSync(patterns, { cwd: root, exclude: (p) => ['node_modules', '.git'].includes(basename(String(p))) }).sort();
const places = ['lib/**/', 'functions/**/', 'bin/**/', 'test/', 'test/github/'];

export const tiers = {
  // A file per core and one more: the memory-reducer test mostly waits for V8, so a third file
  // keeps both cores busy (node's default leaves one core free).
  unit: {
    files: () => list(places.map((p) => `${p}*.test.ts`)).filter((f) => !f.endsWith('.db.test.ts')),
    args: ['--import', './test/no-database.ts', `--test-concurrency=${availableParallelism() + 1}`],
  },
  // One file at a time, as `npm test` always ran them.
  db: { files: () => list(places.map((p) => `${p}*.db.test.ts`)), args: ['--test-concurrency=1'] },
  // One file at a time: the files share one control plane (test/cluster/harness.ts). To start it
  // once before the first file: npm run test:e2e -- --test-global-setup=test/cluster/global-setup.ts
  e2e: { files: () => list(['test/e2e/**/*.test.ts', 'test/cluster/**/*.test.ts']), args: ['--test-concurrency=1'] },
  // One file at a time: containerd and the kubelet use fixed paths, so one real node per machine.
  node: { files: () => list(['test/node/**/*.test.ts']), args: ['--test-concurrency=1'] },
};
export type Tier = keyof typeof tiers;

/** Every test file in the repository, whatever its tier. */
export const allTestFiles = () => list(['**/*.test.ts']);

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const isTier = (a: string): a is Tier => Object.hasOwn(tiers, a);
  const names = argv.filter(isTier);
  const extra = argv.filter((a) => !isTier(a) && a !== '--');
  if (names.length === 0) {
    console.error(`usage: node test/tiers.ts ${Object.keys(tiers).join('|')}... [node --test options]`);
    process.exit(1);
  }
  // Node's on-disk compile cache: most of a unit test file's time is loading its modules, and the
  // cache spares each file compiling the modules the others already compiled.
  const env = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'posture-node-compile-cache') };
  for (const name of names) {
    const files = tiers[name].files();
    const started = performance.now();
    const run = spawnSync(process.execPath, ['--test', ...tiers[name].args, ...extra, ...files], { cwd: root, stdio: 'inherit', env });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const failed = run.status !== 0;
    console.log(`tier ${name}: ${files.length} files, ${seconds} s${failed ? `, failed (${run.signal ?? `exit ${run.status}`})` : ''}`);
    if (failed) process.exit(run.status || 1);
  }
}
