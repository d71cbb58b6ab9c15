// The layout DESIGN.md fixes, checked on the tree: one folder per concern in lib/ (no two names
// where one is a prefix of the other, as schedule/ and scheduler/ were), lib/ never reaching
// into functions/, and no function importing another function.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) found.push(path.resolve(path.dirname(file), m[1]));
  return found;
}

/** Pairs of folder names where one is a prefix of the other. */
export function overlappingNames(names: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const a of names) for (const b of names) if (a !== b && b.startsWith(a)) pairs.push([a, b]);
  return pairs;
}

describe('layout', () => {
  it('finds overlapping names (the check itself)', () => {
    assert.deepEqual(overlappingNames(['schedule', 'scheduler', 'jobs']), [['schedule', 'scheduler']]);
    assert.deepEqual(overlappingNames(['function', 'events', 'kube']), []);
  });

  it('lib/ has one folder per concern: no folder name is a prefix of another', () => {
    const folders = readdirSync(path.join(root, 'lib')).filter((n) => statSync(path.join(root, 'lib', n)).isDirectory());
    assert.deepEqual(overlappingNames(folders), []);
  });

  it('lib/ never imports from functions/', () => {
    const bad = tsFiles(path.join(root, 'lib')).flatMap((f) =>
      importsOf(f).filter((i) => i.startsWith(path.join(root, 'functions') + path.sep)).map((i) => `${path.relative(root, f)} -> ${path.relative(root, i)}`));
    assert.deepEqual(bad, []);
  });

  it('no function imports another function', () => {
    const fnRoot = path.join(root, 'functions');
    const bad: string[] = [];
    for (const fn of readdirSync(fnRoot)) {
      for (const f of tsFiles(path.join(fnRoot, fn))) {
        for (const i of importsOf(f)) {
          if (i.startsWith(fnRoot + path.sep) && !i.startsWith(path.join(fnRoot, fn) + path.sep)) bad.push(`${path.relative(root, f)} -> ${path.relative(root, i)}`);
        }
      }
    }
    assert.deepEqual(bad, []);
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
    return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, POSTURE_LOG_LEVEL: 'silent' } }).trim().split('\n').pop()!);
  };

  for (const [fn, kube] of [['api', false], ['admission', false], ['scheduler', true], ['harvester', true]] as const) {
    it(`the ${fn} function ${kube ? 'loads' : 'does not load'} the Kubernetes client`, () => {
      const loaded = packagesLoadedBy(fn);
      assert.ok(loaded.includes('knex'), `expected the module graph, got ${loaded.join(', ')}`);
      assert.equal(loaded.includes('@kubernetes/client-node'), kube, loaded.join(', '));
    });
  }
});
