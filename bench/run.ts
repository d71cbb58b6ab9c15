// `npm run bench [name…]`: runs each benchmark file in bench/ (or the named ones) in its own
// process, one after the other, so they do not disturb each other's figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_') && !f.endsWith('.test.ts'))
  .sort();
const wanted = process.argv.slice(2);
// A name picks the file of that name, else every file it starts: `admission` is bench/admission.ts
// alone, `adm` both admission benchmarks.
const pick = (w: string) =>
  all.some((f) => basename(f, '.ts') === w) ? all.filter((f) => basename(f, '.ts') === w) : all.filter((f) => basename(f, '.ts').startsWith(w));
const chosen = wanted.length ? all.filter((f) => wanted.some((w) => pick(w).includes(f))) : all;
if (chosen.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}; have: ${all.map((f) => basename(f, '.ts')).join(', ')}`);
  process.exit(1);
}
let failed = 0;
for (const f of chosen) {
  console.log(`\n=== bench/${f} ===`);
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${f} exited ${r.status}`);
  }
}
process.exit(failed ? 1 : 0);
