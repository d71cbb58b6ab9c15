// The repository's layout, checked on the tree: one folder per concern in lib/ (no two names
// where one is a prefix of the other, as schedule/ and scheduler/ were), SQL and the database
// driver only in lib/db, dependencies pointing one way (lib/db never back up into what uses it,
// the API never into the demo seeder), lib/ never reaching into functions/ (not even by a path
// it imports at run time), and no function importing another function.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');
const lib = path.join(root, 'lib');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const isTest = (file: string) => file.endsWith('.test.ts');

/**
 * A source split three ways: the code, where each string literal reads '<its index in literals>'
 * and each template `<its index>…` (its ${...} kept as code), the literals' texts, and the
 * comments' texts.
 */
export interface ScannedSource {
  code: string;
  /** Plain strings as written; templates with each ${...} as *. */
  literals: string[];
  comments: string[];
}

/** Whether a `/` after this code starts a regular expression (rather than dividing). */
function regexMayStart(code: string): boolean {
  const before = code.trimEnd();
  // x! / y divides: the ! asserts x is not null.
  if (/[\w$)\]]!$/.test(before)) return false;
  return before === '' || /[(,=:[!&|?{};+\-*%<>~^]$/.test(before) || /\b(?:return|typeof|case|do|else|in|of|void|yield|await|throw|new|delete)$/.test(before);
}

/** Splits TypeScript source into code, string and template literals, and comments (enough of a lexer for the checks below). */
export function scanSource(src: string): ScannedSource {
  let code = '';
  const literals: string[] = [];
  const comments: string[] = [];
  // Templates whose ${...} is being read, with the brace depth its closing brace returns to.
  const open: Array<{ depth: number; index: number; text: string }> = [];
  let depth = 0;
  let i = 0;
  const readTemplate = (index: number, text: string) => {
    while (i < src.length) {
      const ch = src[i];
      if (ch === '\\') {
        text += src.slice(i, i + 2);
        i += 2;
      } else if (ch === '`') {
        i++;
        literals[index] = text;
        code += '`';
        return;
      } else if (ch === '$' && src[i + 1] === '{') {
        i += 2;
        open.push({ depth, index, text: `${text}*` });
        code += '${';
        return;
      } else {
        text += ch;
        i++;
      }
    }
    literals[index] = text;
  };
  while (i < src.length) {
    const ch = src[i];
    const next = src[i + 1];
    if (ch === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      comments.push(src.slice(i + 2, stop));
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      comments.push(src.slice(i + 2, Math.max(i + 2, stop - 2)));
      code += ' ';
      i = stop;
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== ch && src[j] !== '\n') {
        if (src[j] === '\\') {
          text += src.slice(j, j + 2);
          j += 2;
        } else text += src[j++];
      }
      code += `'${literals.length}'`;
      literals.push(text);
      i = j + 1;
    } else if (ch === '`') {
      code += `\`${literals.length}`;
      literals.push('');
      i++;
      readTemplate(literals.length - 1, '');
    } else if (ch === '}' && open.length > 0 && open[open.length - 1].depth === depth) {
      code += '}';
      i++;
      const t = open.pop()!;
      readTemplate(t.index, t.text);
    } else if (ch === '/' && regexMayStart(code)) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n') {
        const c = src[j];
        if (c === '\\') j++;
        else if (c === '[') inClass = true;
        else if (c === ']') inClass = false;
        else if (c === '/' && !inClass) break;
        j++;
      }
      j++;
      while (/[a-z]/i.test(src[j] ?? '')) j++;
      code += '/regex/';
      i = j;
    } else {
      if (ch === '{') depth++;
      if (ch === '}') depth--;
      code += ch;
      i++;
    }
  }
  return { code, literals, comments };
}

/** Modules a source imports, as written: static imports and re-exports, and dynamic imports of a literal (a template without ${}). */
function specifiersOf(s: ScannedSource): string[] {
  return [...s.code.matchAll(/\b(?:from|import)\s*\(?\s*'(\d+)'|\bimport\s*\(\s*`(\d+)`/g)].map((m) => s.literals[Number(m[1] ?? m[2])]);
}

/** Files and folders a file imports by relative path (static, or dynamic with a literal), resolved. */
function importsOf(file: string): string[] {
  return specifiersOf(scanSource(readFileSync(file, 'utf8')))
    .filter((s) => s.startsWith('./') || s.startsWith('../'))
    .map((s) => path.resolve(path.dirname(file), s));
}

/** Literals in a source that are relative paths into functions/: what a computed import() would follow. */
export function pathsIntoFunctions(src: string): string[] {
  return scanSource(src).literals.filter((l) => /^(?:\.\.\/)+functions(?:\/|$)/.test(l) || l === 'functions');
}

/** What in a source is SQL or reaches the database driver: one entry per finding. */
export function sqlFindings(src: string): string[] {
  const s = scanSource(src);
  const found: string[] = [];
  for (const spec of specifiersOf(s)) if (/^(?:knex|knex-pglite|pg|@electric-sql\/pglite)(?:\/|$)/.test(spec)) found.push(`imports ${spec}`);
  for (const m of s.code.matchAll(/\.raw\s*\(|\b(?:db|tx|trx|knex)\s*(?:<[^>()]*>)?\(\s*['`]/g)) found.push(`calls ${m[0].replace(/\s+/g, '')}`);
  for (const l of s.literals) {
    const m = /\b(?:SELECT|INSERT INTO|DELETE FROM)\b|\bUPDATE \w+ SET\b/.exec(l);
    if (m) found.push(`SQL ${m[0]}`);
  }
  return found;
}

/** Pairs of folder names where one is a prefix of the other. */
export function overlappingNames(names: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const a of names) for (const b of names) if (a !== b && b.startsWith(a)) pairs.push([a, b]);
  return pairs;
}

/** The lib/ folder a path is in (undefined outside lib/). */
function libFolderOf(p: string): string | undefined {
  const rel = path.relative(lib, p);
  return rel.startsWith('..') || rel === '' ? undefined : rel.split(path.sep)[0];
}

/** For each lib/ folder, the other lib/ folders its non-test files import. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const f of tsFiles(lib).filter((f) => !isTest(f))) {
    const from = libFolderOf(f)!;
    const edges = graph.get(from) ?? graph.set(from, new Set()).get(from)!;
    for (const i of importsOf(f)) {
      const to = libFolderOf(i);
      if (to !== undefined && to !== from) edges.add(to);
    }
  }
  return graph;
}

/** Folders reachable from `start` by one or more imports. */
function reachableFrom(graph: Map<string, Set<string>>, start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    for (const next of graph.get(todo.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

describe('layout', () => {
  it('finds overlapping names (the check itself)', () => {
    assert.deepEqual(overlappingNames(['schedule', 'scheduler', 'jobs']), [['schedule', 'scheduler']]);
    assert.deepEqual(overlappingNames(['function', 'events', 'kube']), []);
  });

  it('lib/ has one folder per concern: no folder name is a prefix of another', () => {
    const folders = readdirSync(lib).filter((n) => statSync(path.join(lib, n)).isDirectory());
    assert.deepEqual(overlappingNames(folders), []);
  });

  // biome-ignore-start lint/suspicious/noTemplateCurlyInString: the sources under test hold templates
  it('finds SQL and knex in code, not in comments or regular expressions (the check itself)', () => {
    const found: Array<[string, string[]]> = [
      ["import knex from 'knex';", ['imports knex']],
      ['import type { Knex } from "knex";', ['imports knex']],
      ['const m = await import(`pg`);', ['imports pg']],
      ["await db.raw('select 1');", ['calls .raw(']],
      ['await db(`repos`).where({ id });', ['calls db(`']],
      ["await tx<RunRow>('runs').first();", ["calls tx<RunRow>('"]],
      ['const q = `SELECT id FROM repos WHERE key = ${key}`;', ['SQL SELECT']],
      ['const q = `a ${`DELETE FROM runs`} b`;', ['SQL DELETE FROM']],
      ['run("UPDATE repos SET priority = 1")', ['SQL UPDATE repos SET']],
      ["const s = 'INSERT INTO runs VALUES (1)';", ['SQL INSERT INTO']],
    ];
    for (const [src, want] of found) assert.deepEqual(sqlFindings(src), want, src);
    const clean = [
      '// SELECT * FROM repos, in a comment',
      '/* INSERT INTO runs */ const x = 1;',
      'const re = /SELECT|DELETE FROM/g; const y = a / b / c; const z = m.get(k)! / 2; const w = !/INSERT INTO x/.test(s);',
      "const help = 'select the command'; const t = String.raw`x`;",
      'const db = openDb(options); const n = rowsOf(res);',
      "const s = `${a}` + '// not a comment' + `/* nor this */`; // SELECT",
      "import { x } from './knex.ts';",
    ];
    for (const src of clean) assert.deepEqual(sqlFindings(src), [], src);
  });

  // biome-ignore-end lint/suspicious/noTemplateCurlyInString: the sources under test hold templates

  it('no SQL or knex outside lib/db: lib/, functions/ and bin/ reach the database through lib/db', () => {
    const files = ['lib', 'functions', 'bin'].flatMap((d) => tsFiles(path.join(root, d))).filter((f) => !isTest(f) && libFolderOf(f) !== 'db');
    const bad = files.flatMap((f) => sqlFindings(readFileSync(f, 'utf8')).map((w) => `${path.relative(root, f)}: ${w}`));
    assert.deepEqual(bad, []);
  });

  it('lib/db depends only on folders below it: none of the folders it imports, directly or not, imports lib/db', () => {
    const graph = folderGraph();
    const below = [...reachableFrom(graph, 'db')].filter((f) => f !== 'db');
    const back = below.filter((f) => reachableFrom(graph, f).has('db')).map((f) => `lib/db -> lib/${f} -> … -> lib/db`);
    assert.deepEqual(back, []);
  });

  it('the API does not reach the demo seeder: nothing lib/api imports, directly or not, is in lib/demo', () => {
    assert.equal(reachableFrom(folderGraph(), 'api').has('demo'), false);
  });

  // biome-ignore-start lint/suspicious/noTemplateCurlyInString: the sources under test hold templates
  it('finds imports and paths into functions/, also dynamic and computed ones (the check itself)', () => {
    const s = scanSource(
      "import a from './a.ts'; export * from \"../b.ts\"; await import('./c.ts'); await import(`./d.ts`); await import(`./${name}.ts`); await import(url);",
    );
    assert.deepEqual(specifiersOf(s), ['./a.ts', '../b.ts', './c.ts', './d.ts']);
    assert.deepEqual(pathsIntoFunctions("new URL('../../functions/admission/webhooks/', import.meta.url)"), ['../../functions/admission/webhooks/']);
    assert.deepEqual(pathsIntoFunctions('await import(`../../functions/${name}/index.ts`)'), ['../../functions/*/index.ts']);
    assert.deepEqual(pathsIntoFunctions("join(root, 'functions', name)"), ['functions']);
    assert.deepEqual(pathsIntoFunctions('const doc = `functions/admission/webhooks/${file}`; // ../functions/'), []);
  });

  // biome-ignore-end lint/suspicious/noTemplateCurlyInString: the sources under test hold templates

  it('lib/ never reaches into functions/: no import of it, static or dynamic, and no path to it for a computed import to follow', () => {
    const bad = tsFiles(lib).flatMap((f) => {
      const src = readFileSync(f, 'utf8');
      const imports = importsOf(f).filter((i) => i.startsWith(path.join(root, 'functions') + path.sep));
      return [...imports.map((i) => `imports ${path.relative(root, i)}`), ...pathsIntoFunctions(src).map((p) => `names ${p}`)].map(
        (w) => `${path.relative(root, f)}: ${w}`,
      );
    });
    assert.deepEqual(bad, []);
  });

  it('no function imports another function', () => {
    const fnRoot = path.join(root, 'functions');
    const bad: string[] = [];
    for (const fn of readdirSync(fnRoot)) {
      for (const f of tsFiles(path.join(fnRoot, fn))) {
        for (const i of importsOf(f)) {
          if (i.startsWith(fnRoot + path.sep) && !i.startsWith(path.join(fnRoot, fn) + path.sep))
            bad.push(`${path.relative(root, f)} -> ${path.relative(root, i)}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('every file this test names in its comments exists in the repository', () => {
    const comments = scanSource(readFileSync(import.meta.filename, 'utf8')).comments.join('\n');
    const named = [...comments.matchAll(/[\w./-]+\.(?:md|ts|json|ya?ml|sh)\b/g)].map((m) => m[0]);
    assert.deepEqual(
      named.filter((n) => !existsSync(path.join(root, n))),
      [],
    );
  });

  // The Kubernetes client is ~26 MB of heap and ~85 MB resident; only the functions that call the
  // API server may load it. Checked by loading each function module in a fresh process and
  // recording every package it resolves.
  const packagesLoadedBy = (fn: string): string[] => {
    const script = `
      import { registerHooks } from 'node:module';
      const seen = new Set();
      registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(r.url); if (m) seen.add(m[1]); return r; } });
      await import(${JSON.stringify(path.join(root, 'functions', fn, 'index.ts'))});
      console.log(JSON.stringify([...seen].sort()));`;
    return JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, POSTURE_LOG_LEVEL: 'silent' } })
        .trim()
        .split('\n')
        .pop()!,
    );
  };

  for (const [fn, kube] of [
    ['api', false],
    ['admission', false],
    ['scheduler', true],
    ['harvester', true],
    ['alerts', false],
  ] as const) {
    it(`the ${fn} function ${kube ? 'loads' : 'does not load'} the Kubernetes client`, () => {
      const loaded = packagesLoadedBy(fn);
      assert.ok(loaded.includes('knex'), `expected the module graph, got ${loaded.join(', ')}`);
      assert.equal(loaded.includes('@kubernetes/client-node'), kube, loaded.join(', '));
    });
  }
});
