import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';

// One clock: a time decision that read the system clock directly would escape the tests' clock
// (as the create and reconcile limits once did).
test("lib/scheduler reads the time only through its clock (the database's, in clock.ts, advanced by the one monotonic timer)", async () => {
  const dir = new URL('./', import.meta.url);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const reads = /Date\.now\(|new Date\(\s*\)|performance\.now\(/g;
  const found: string[] = [];
  for (const f of files) {
    const text = await readFile(new URL(f, dir), 'utf8');
    for (const m of text.matchAll(reads)) found.push(`${f}: ${m[0]}`);
  }
  assert.deepEqual(found, ['clock.ts: performance.now(']);
});
