// The command line as a person meets it: help for every command and group (80 columns), the
// version, usage errors, imports of files that are not lists, and `admission review --exit-code`
// (the repository commands on both databases: cli.db.test.ts).

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { admissionReview, object, user } from '../admission/testing.ts';
import { allCommands, VERSION } from './main.ts';
import { runCliCaptured, writeInput } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-cli2-'));
const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));

describe('help and version', () => {
  test('--version, -V and version print the package version', async () => {
    for (const a of ['--version', '-V', 'version']) {
      const r = await runCliCaptured([a], {});
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `posture ${pkg.version}\n`);
    }
    assert.equal(VERSION, pkg.version);
  });

  test('every command answers --help and -h with its usage and options, exit 0, nothing touched, within 80 columns', async () => {
    const data = join(dir, 'help-data');
    const groups = new Set(allCommands.filter((c) => c.words.length > 1).map((c) => c.words[0]));
    const argvs: string[][] = [['--help'], ['-h'], ['help'], ...[...groups].map((g) => [g, '--help'])];
    for (const c of allCommands) argvs.push([...c.words, '--help'], [...c.words, '-h'], [...c.words, 'x/y', '--help']);
    for (const argv of argvs) {
      const r = await runCliCaptured(argv, { POSTURE_DATA_DIR: data });
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /usage: posture/, argv.join(' '));
      for (const line of r.stdout.split('\n')) assert.ok(line.length <= 80, `${argv.join(' ')}: ${line.length} columns: ${line}`);
      if (argv.length > 2) assert.match(r.stdout, /options:\n[\s\S]*-h, --help/, argv.join(' '));
    }
    assert.throws(() => readFileSync(join(data, 'db.lock')), 'help opened no database');
    for (const c of allCommands) assert.ok(c.summary.length > 0 && c.usage.startsWith(c.words.join(' ')), c.words.join(' '));
  });

  test('a group alone lists its commands (exit 1); unknown commands and options are usage errors', async () => {
    const g = await runCliCaptured(['repos'], {});
    assert.equal(g.code, 1);
    assert.match(g.stderr, /repos add[\s\S]*repos list[\s\S]*repos remove[\s\S]*repos set-priority/);
    const u = await runCliCaptured(['repos', 'frob'], {});
    assert.equal(u.code, 1);
    assert.match(u.stderr, /^posture: unknown command "repos frob"/);
    const top = await runCliCaptured(['frob'], {});
    assert.equal(top.code, 1);
    assert.match(top.stderr, /^posture: unknown command "frob"[\s\S]*scores show/);
    const o = await runCliCaptured(['repos', 'list', '--bogus'], { POSTURE_DATA_DIR: join(dir, 'u') });
    assert.equal(o.code, 1);
    assert.match(o.stderr, /^posture: unknown option '--bogus'\nusage: posture repos list \[options\]/);
    const f = await runCliCaptured(['repos', 'list', '-o', 'xml'], { POSTURE_DATA_DIR: join(dir, 'u') });
    assert.equal(f.code, 1);
    assert.match(f.stderr, /-o must be one of table, wide, json, yaml, got "xml"/);
  });
});

describe('imports of files that are not repository lists', () => {
  const env = { POSTURE_DATA_DIR: join(dir, 'imports') };
  const file = (name: string, content: string | Buffer) => writeInput(dir, name, content);

  test('every file problem is one line, exit 1, and opens no database', async () => {
    const denied = file('denied.txt', 'a/b\n');
    chmodSync(denied, 0o000);
    mkdirSync(join(dir, 'a-dir'), { recursive: true });
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'a-dir'), /cannot read ".*a-dir": is a directory, not a file/],
      [join(dir, 'missing.txt'), /cannot read ".*missing.txt": no such file/],
      [join(dir, 'denied.txt', 'x'), /cannot read ".*": a part of the path is not a directory/],
    ];
    if (process.getuid?.() !== 0) cases.push([denied, /cannot read ".*denied.txt": permission denied/]);
    for (const [path, message] of cases) {
      const r = await runCliCaptured(['repos', 'import', path], env);
      assert.equal(r.code, 1, path);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.throws(() => readFileSync(join(env.POSTURE_DATA_DIR, 'db.lock')));
  });
});

test('admission review: --exit-code exits 4 on a denial and 0 on an allow; file problems are one line', async () => {
  const review = admissionReview({ operation: 'DELETE', oldObject: object('Namespace', 'kube-system'), caller: user('jane'), uid: 'r-1' });
  const file = join(dir, 'review.json');
  writeFileSync(file, JSON.stringify(review));
  const denied = await runCliCaptured(['admission', 'review', 'protected-namespaces', file, '--exit-code'], {});
  assert.equal(denied.code, 4);
  assert.equal(JSON.parse(denied.stdout).response.allowed, false);
  assert.equal((await runCliCaptured(['admission', 'review', 'protected-namespaces', file], {})).code, 0, 'without --exit-code a denial exits 0');
  const admin = admissionReview({ operation: 'DELETE', oldObject: object('Namespace', 'kube-system'), caller: user('root', 'system:masters'), uid: 'r-2' });
  const allowed = await runCliCaptured(['admission', 'review', 'protected-namespaces', '-', '--exit-code'], {}, JSON.stringify(admin));
  assert.equal(allowed.code, 0, allowed.stderr);
  for (const [path, message] of [
    [join(dir, 'nope.json'), /no such file/],
    [dir, /is a directory, not a file/],
  ] as const) {
    const r = await runCliCaptured(['admission', 'review', 'protected-namespaces', path], {});
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
