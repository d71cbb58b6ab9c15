// The tiers stay what test/tiers.ts says: a unit test file imports no database (the database test
// helpers, the drivers, or lib/db's openDb and migrate), directly or through the test helpers it
// imports (testing.ts files and anything under test/); and every test file is in exactly one tier.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { allTestFiles, root, type Tier, tiers } from './tiers.ts';

const DRIVERS = /^(pg|knex|knex-pglite|@electric-sql\/pglite)(\/|$)/;
const DB_HELPERS = new Set(['lib/db/testing.ts']);
const OPENS = new Set(['openDb', 'migrate']); // lib/db's ways to open and prepare a database
const isHelper = (file: string) => file.startsWith('test/') || file.endsWith('/testing.ts');

/** The value imports of a module: specifier and the names it takes (`*` for all of it). */
export function importsOf(source: string): Array<{ from: string; names: string[] }> {
  const out: Array<{ from: string; names: string[] }> = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?([\w\s{},*$]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    if (m[1]) continue;
    const braces = /\{([^}]*)\}/.exec(m[2]);
    const named = braces
      ? braces[1]
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s && !s.startsWith('type '))
      : [];
    const whole =
      m[2]
        .replace(/\{[^}]*\}/, '')
        .replace(/,/g, ' ')
        .trim() !== '';
    if (whole || named.length > 0 || !braces) out.push({ from: m[3], names: whole ? ['*', ...named] : named.map((s) => s.split(/\s+as\s+/)[0]) });
  }
  for (const m of source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push({ from: m[1], names: [] });
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ from: m[1], names: ['*'] });
  return out;
}

/** Why `file` (repository-relative) reaches a database, or undefined; follows test helpers. */
export function databaseImport(file: string, seen = new Set<string>()): string | undefined {
  if (seen.has(file)) return undefined;
  seen.add(file);
  for (const { from, names } of importsOf(readFileSync(join(root, file), 'utf8'))) {
    if (DRIVERS.test(from)) return `${file} imports ${from}`;
    if (!from.startsWith('.')) continue;
    const target = relative(root, join(root, dirname(file), from));
    if (DB_HELPERS.has(target)) return `${file} imports ${target}`;
    const opener = target.startsWith('lib/db/') && names.find((n) => OPENS.has(n) || n === '*');
    if (opener) return `${file} imports ${opener === '*' ? 'all of' : `${opener} from`} ${target}`;
    if (isHelper(target) && existsSync(join(root, target))) {
      const why = databaseImport(target, seen);
      if (why) return `${file} → ${why}`;
    }
  }
  return undefined;
}

test('unit test files open no database: they import neither the database helpers nor a driver, nor openDb', () => {
  const offenders = tiers.unit
    .files()
    .map((f) => databaseImport(f))
    .filter((why) => why !== undefined);
  assert.deepEqual(offenders, [], 'a test that opens a database is named *.db.test.ts');
});

test('the import scan sees static, re-exported, multi-line and dynamic imports, and skips types', () => {
  const dynamicImport = 'import'; // spelled apart so that this file's own scan does not see it
  const src = [
    "import pg from 'pg';",
    "import type { Knex } from 'knex';",
    "import {\n  addRepos,\n  openDb as open,\n  type Db,\n} from '../db/index.ts';",
    "export { x } from './x.ts';",
    "import './side.ts';",
    `const m = await ${dynamicImport}('@electric-sql/pglite');`,
    "import { type Only } from './types.ts';",
  ].join('\n');
  assert.deepEqual(importsOf(src), [
    { from: 'pg', names: ['*'] },
    { from: '../db/index.ts', names: ['addRepos', 'openDb'] },
    { from: './x.ts', names: ['x'] },
    { from: './side.ts', names: [] },
    { from: '@electric-sql/pglite', names: ['*'] },
  ]);
  assert.ok(
    tiers.db.files().some((f) => databaseImport(f)?.endsWith('imports lib/db/testing.ts')),
    'the scan sees the database tier',
  );
});

test('every test file is in exactly one tier, and each tier has files', () => {
  const tierOf = new Map<string, Tier[]>();
  for (const [name, tier] of Object.entries(tiers) as Array<[Tier, (typeof tiers)[Tier]]>) {
    const files = tier.files();
    assert.ok(files.length > 0, `tier ${name} has no files`);
    for (const f of files) tierOf.set(f, [...(tierOf.get(f) ?? []), name]);
  }
  const wrong = allTestFiles()
    .filter((f) => tierOf.get(f)?.length !== 1)
    .map((f) => `${f}: ${tierOf.get(f)?.join(', ') || 'no tier'}`);
  assert.deepEqual(wrong, []);
});

test('in the unit tier neither database opens (test/no-database.ts)', () => {
  const script = `
    import { openDb } from './lib/db/index.ts';
    const attempt = async (options) => {
      try {
        const db = openDb(options);
        try { await db.raw('select 1'); } finally { await db.destroy(); }
        return 'opened';
      } catch (e) { return /a unit test opened/.test(e.message) ? 'refused' : e.message; }
    };
    console.log(JSON.stringify([await attempt({ dataDir: 'memory' }), await attempt({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none' })]));`;
  const out = execFileSync(process.execPath, [...tiers.unit.args, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['refused', 'refused']);
});
