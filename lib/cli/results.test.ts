import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FIXTURES } from '../../test/fixtures/scorecard.ts';
import { loadFixtures, STDERR_LINES } from '../scorecard/testing.ts';
import { runCliCaptured } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-results-'));
const fixtures = loadFixtures();
const fx08 = fixtures.find((f) => f.file === FIXTURES.cliShowDetails)!;
const fx06 = fixtures.find((f) => f.file === FIXTURES.restApi)!;
const stderr = STDERR_LINES.join('\n');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('results parse: every fixture file prints ok with the result, exit 0', async () => {
  for (const fx of fixtures) {
    const run = await runCliCaptured(['results', 'parse', fx.path], {});
    assert.equal(run.code, 0, `${fx.file}: ${run.stderr}`);
    assert.equal(run.stdout.trimEnd().split('\n').length, 1, 'one JSON object on one line');
    const out = JSON.parse(run.stdout);
    assert.equal(out.ok, true);
    assert.equal(out.result.repo, fx.value.repo.name);
    assert.equal(out.result.commit, fx.value.repo.commit);
    assert.equal(out.result.scorecardVersion, fx.value.scorecard.version);
    assert.equal(out.result.score, fx.value.score);
    assert.match(out.result.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(
      out.result.checks.map((c: any) => [c.name, c.score, c.reason]),
      fx.value.checks.map((c) => [c.name, c.score, c.reason]),
    );
    assert.equal(out.result.raw, undefined, 'the raw document is for the database, not the terminal');
    // Flagged exactly when a check's reason says it hit a runtime error (the REST API fixture's
    // -1 and the real --local runs' Fuzzing error; "not supported" -1s are not).
    assert.equal(
      out.flagged,
      fx.value.checks.some((c) => c.reason.startsWith('internal error:')),
      fx.file,
    );
    if (fx === fx06) assert.equal(out.flagged, true);
  }
});

test('results parse: logs from a file or standard input, each outcome and exit code', async () => {
  const cases: Array<[string, string[], string, Record<string, string>, number, Record<string, unknown>]> = [
    ['mixed log from a file', ['results', 'parse', file('mixed.log', `${stderr}\r\n${fx08.line}\r\n${stderr}`)], '', {}, 0, { ok: true }],
    ['stdin with -', ['results', 'parse', '-'], `\ufeff${stderr}\n${fx08.text}\n`, {}, 0, { ok: true }],
    ['stdin by default', ['results', 'parse'], `${fx08.line}\n`, {}, 0, { ok: true }],
    [
      'v5.4 skip',
      ['results', 'parse', '-'],
      'Skipping github.com/o/gone: repo unreachable\n',
      {},
      2,
      { ok: false, failure: 'no-result', reason: 'Scorecard skipped the repository: Skipping github.com/o/gone: repo unreachable' },
    ],
    [
      'garbage file',
      ['results', 'parse', file('garbage.log', '\u0000\u0001binary\u00ff junk {\n{"level":"error","msg":"boom"}\n')],
      '',
      {},
      2,
      { ok: false, failure: 'no-result', reason: 'no Scorecard result in 2 log lines; last error: boom' },
    ],
    [
      'schema failure',
      ['results', 'parse', '-'],
      `${fx08.line.replace(`"score":${fx08.value.score}`, `"score":${fx08.value.score * 10}`)}\n`,
      {},
      2,
      { ok: false, failure: 'invalid-result', reason: `result fails the schema: line 1: /score must be <= 10 (got ${fx08.value.score * 10})` },
    ],
    [
      'cut by the end of the log',
      ['results', 'parse', '-'],
      fx08.line.slice(0, 4000),
      {},
      2,
      { ok: false, failure: 'truncated', reason: 'log ends inside a result starting at line 1' },
    ],
    [
      'cut by the configured byte cap',
      ['results', 'parse', '-'],
      `${`${stderr}\n`.repeat(5) + fx08.line}\n`,
      { POSTURE_LOG_BYTE_CAP: '2048' },
      2,
      { ok: false, failure: 'truncated', reason: 'log is longer than the byte cap and its first part of 2048 bytes holds no complete result' },
    ],
  ];
  for (const [name, argv, stdin, env, code, want] of cases) {
    const run = await runCliCaptured(argv, env, stdin);
    assert.equal(run.code, code, `${name}: ${run.stdout} ${run.stderr}`);
    const out = JSON.parse(run.stdout);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(out[k], v, `${name}: ${k}`);
    if (!out.ok) assert.deepEqual(Object.keys(out), ['ok', 'failure', 'reason'], name);
  }
});

test('results parse: unreadable input and a bad command line are exit 1 with a clear message', async () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['missing file', ['results', 'parse', join(dir, 'nope.log')], /^posture: cannot read ".*nope\.log": no such file\n$/],
    ['a directory', ['results', 'parse', dir], /^posture: cannot read ".*": is a directory\n$/],
    ['two files', ['results', 'parse', 'a', 'b'], /name at most one log file/],
    ['an option', ['results', 'parse', '--json'], /unknown option --json/],
    ['a bad byte cap', ['results', 'parse', '-'], /POSTURE_LOG_BYTE_CAP/],
  ];
  for (const [name, argv, want] of cases) {
    const run = await runCliCaptured(argv, name === 'a bad byte cap' ? { POSTURE_LOG_BYTE_CAP: '12' } : {});
    assert.equal(run.code, 1, name);
    assert.equal(run.stdout, '', name);
    assert.match(run.stderr, want, name);
  }
});

test('results parse: the real binary, both exit codes', async () => {
  const bin = fileURLToPath(new URL('../../bin/posture.ts', import.meta.url));
  const run = (args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH } });
  const ok = await run(['results', 'parse', fx08.path]);
  assert.equal(JSON.parse(ok.stdout).result.score, fx08.value.score);
  await assert.rejects(run(['results', 'parse', file('skip.log', 'Skipping github.com/o/r: gone\n')]), (err: any) => {
    assert.equal(err.code, 2);
    assert.equal(JSON.parse(err.stdout).failure, 'no-result');
    return true;
  });
});

test('results parse --repos: a real v5.4.0/v5.5.0 shard log, one line per repository with its own outcome; bad --repos is exit 1', async () => {
  for (const v of ['v5.4.0', 'v5.5.0']) {
    const path = fileURLToPath(new URL(`../../test/fixtures/scorecard/real-${v}-fake-github-shard-not-found.pod-log.txt`, import.meta.url));
    const run = await runCliCaptured(['results', 'parse', path, '--repos', 'posture-e2e/healthy,posture-e2e/missing,posture-e2e/third'], {});
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.repo, l.ok, l.failure ?? null]),
      [
        ['github.com/posture-e2e/healthy', true, null],
        ['github.com/posture-e2e/missing', false, 'no-result'],
        ['github.com/posture-e2e/third', true, null],
      ],
      v,
    );
    // Without --repos the same log is two results: refused, as a one-repository Job's would be.
    const one = await runCliCaptured(['results', 'parse', path], {});
    assert.equal(JSON.parse(one.stdout).failure, 'invalid-result');
  }
  const empty = file('empty.log', 'Starting [Binary-Artifacts]\n');
  const none = await runCliCaptured(['results', 'parse', empty, '--repos=o/a,o/b'], {});
  assert.equal(none.code, 2, 'no repository has a result');
  assert.deepEqual(
    none.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).failure),
    ['no-result', 'no-result'],
  );
  for (const bad of [['--repos'], ['--repos', 'o/a,o/a'], ['--repos', 'not a repo']]) {
    const r = await runCliCaptured(['results', 'parse', empty, ...bad], {});
    assert.equal(r.code, 1, bad.join(' '));
    assert.match(r.stderr, /--repos/, bad.join(' '));
  }
});
