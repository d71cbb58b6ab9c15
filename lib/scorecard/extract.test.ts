import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractDocuments, looksLikeResult } from './extract.ts';
import { loadFixtures, STDERR_LINES } from './testing.ts';

const fixtures = loadFixtures();
const stderr = STDERR_LINES.join('\n');

// Every way a result line has been seen (or can plausibly be seen) in a pod log.
const layouts: Array<[string, (text: string, line: string) => string]> = [
  ['as published', (text) => text],
  ['bare stdout line', (_, line) => `${line}\n`],
  ['without a final newline', (_, line) => line],
  ['between stderr lines', (_, line) => `${stderr}\n${line}\n${stderr}\n`],
  ['CRLF line ends', (_, line) => `${stderr}\n${line}\n`.replaceAll('\n', '\r\n')],
  ['UTF-8 BOM first', (_, line) => `\ufeff${line}\n`],
  ['BOM, then stderr', (_, line) => `\ufeff${stderr}\n${line}\n`],
  ['pretty-printed, 2 spaces', (_, line) => `${stderr}\n${JSON.stringify(JSON.parse(line), null, 2)}\n${stderr}\n`],
  ['pretty-printed, tabs, CRLF', (_, line) => `${JSON.stringify(JSON.parse(line), null, '\t').replaceAll('\n', '\r\n')}\r\n`],
  ['pretty-printed with stderr lines interleaved', (_, line) => JSON.stringify(JSON.parse(line), null, 4).replace(/\n(?= {4}"checks")/, `\n${stderr}\n`)],
  ['wrapped in ANSI colour codes', (_, line) => `\u001b[32m${line}\u001b[0m\n`],
  [
    'kubectl --timestamps prefixes',
    (_, line) =>
      `${stderr}\n${line}\n`
        .split('\n')
        .map((l) => (l ? `2024-05-25T20:38:05.123456789Z ${l}` : l))
        .join('\n'),
  ],
  ['printed twice (compact and pretty)', (_, line) => `${line}\n${JSON.stringify(JSON.parse(line), null, 2)}\n${line}\n`],
  ['after a pretty-printed log object', (_, line) => `{\n  "level": "info",\n  "msg": "multi-line log record"\n}\n${line}\n`],
  ['after a 1 MiB stderr line', (_, line) => `${'x'.repeat(1 << 20)}\n${line}\n`],
];

for (const fx of fixtures) {
  test(`extract: ${fx.file} in every layout`, () => {
    for (const [name, build] of layouts) {
      const e = extractDocuments(build(fx.text, fx.line));
      assert.equal(e.documents.length, 1, `${name}: ${JSON.stringify(e.malformed)}`);
      assert.deepEqual(e.documents[0].value, fx.value, name);
      assert.equal(e.unterminated, null, name);
      assert.deepEqual(e.malformed, [], name);
    }
  });
}

test('extract: a result cut off by the end of the log is unterminated, not a document', () => {
  const fx = fixtures.at(-1)!;
  const pretty = JSON.stringify(fx.value, null, 2);
  const cases: Array<[string, string]> = [
    ['single line cut in the middle', `${stderr}\n${fx.line.slice(0, 3000)}`],
    ['single line cut right after a }', fx.line.slice(0, fx.line.indexOf('}}') + 2)],
    ['pretty-printed cut', `${stderr}\n${pretty.slice(0, 4000)}`],
    ['pretty-printed cut just before the last }', pretty.slice(0, pretty.lastIndexOf('}'))],
  ];
  for (const [name, log] of cases) {
    const e = extractDocuments(log);
    assert.equal(e.documents.length, 0, name);
    assert.ok(e.unterminated, name);
  }
});

test('extract: broken result-like text is reported as malformed, with its line', () => {
  const fx = fixtures[0];
  const cases: Array<[string, string, RegExp]> = [
    ['cut line followed by more log', `a\n${fx.line.slice(0, 2000)}\nb\n`, /^line 2: result-like text is not a complete JSON document$/],
    ['trailing comma', `${fx.line.slice(0, -1)},}\n`, /^line 1: result-like text is not valid JSON/],
    ['NaN literal', `${fx.line.replace(`"score":${fixtures[0].value.score}`, '"score":NaN')}\n`, /^line 1: result-like text is not valid JSON/],
    ['pretty block with a missing comma', `${JSON.stringify(fx.value, null, 2).replace('",\n', '"\n')}\n`, /^line 1: result-like text is not valid JSON/],
    [
      'longer than the document limit',
      `${fx.line.replace('"checks":', `"junk":"${'j'.repeat(5000)}","checks":`)}\n`,
      /^line 1: document longer than 4096 characters$/,
    ],
    ['pretty-printed, longer than the document limit', `${JSON.stringify(fx.value, null, 2)}\n`, /^line 1: document longer than 4096 characters$/],
  ];
  for (const [name, log, want] of cases) {
    const e = extractDocuments(log, { maxDocumentChars: name.includes('longer') ? 4096 : undefined });
    assert.equal(e.documents.length, 0, name);
    assert.match(e.malformed[0] ?? '', want, name);
  }
});

test('extract: a long pretty-printed object that is not a result is ignored, closed or not', () => {
  const junk = `{\n${'  "key": "value",\n'.repeat(1000)}  "end": 1\n}\n`;
  for (const log of [junk, junk.slice(0, -3)]) {
    const e = extractDocuments(log, { maxDocumentChars: 4096 });
    assert.deepEqual([e.documents.length, e.malformed, e.unterminated], [0, [], null]);
  }
});

test('extract: JSON that is not a result is never a document', () => {
  const notResults = [
    '{"level":"info","msg":"x","repo":"github.com/o/r","checks":["a"],"scorecard":"v5"}',
    '{"severity":"INFO","message":"m","date":"2024-01-01","score":1,"checks":[]}',
    '{"repo":{"name":"x"},"checks":[]}',
    '{}',
    '[]',
    '[{"date":"2024-01-01","repo":{},"scorecard":{},"score":1,"checks":[]}]',
    'null',
    '{"checks":',
    '{ not json }',
  ];
  const e = extractDocuments(`${notResults.join('\n')}\n`);
  assert.equal(e.documents.length, 0);
  assert.equal(e.unterminated, null);
  for (const v of [null, 1, 'x', [], {}, { level: 'info', msg: 'm', date: 1, repo: 1, scorecard: 1 }]) assert.equal(looksLikeResult(v), false);
  assert.equal(looksLikeResult({ date: 1, repo: 1, checks: 1 }), true);
});

test('extract: different results are all reported; identical ones are folded', () => {
  const [a, b] = fixtures;
  const e = extractDocuments(`${a.line}\n${b.line}\n${a.line}\n${JSON.stringify(a.value, null, 2)}\n`);
  assert.equal(e.documents.length, 2);
  assert.equal(e.documentsSeen, 4);
  assert.deepEqual(
    e.documents.map((d) => d.line),
    [1, 2],
  );
  const many = Array.from({ length: 20 }, (_, i) => a.line.replace(`"score":${fixtures[0].value.score}`, `"score":${i / 10}`)).join('\n');
  const capped = extractDocuments(many, { maxDocuments: 3 });
  assert.equal(capped.documents.length, 3);
  assert.equal(capped.documentsDropped, true);
});

test('extract: the lines that explain a failure are kept, sanitised', () => {
  const log = [
    'Starting [Vulnerabilities]',
    '2026/01/01 00:00:00 Skipping github.com/o/gone: repo unreachable: GET https://api.github.com/repos/o/gone: 404 Not Found',
    'Skipping github.com/o/second: ignored, only the first skip is kept',
    '{"level":"error","msg":"check failed","error":"internal error: secondary rate limit"}',
    'Rate limit exceeded. Waiting 59m59s to retry...',
    '\u001b[31mError: one or more checks failed during execution\u001b[0m\u0007',
    '',
  ].join('\n');
  const e = extractDocuments(log);
  assert.equal(e.skipped, 'Skipping github.com/o/gone: repo unreachable: GET https://api.github.com/repos/o/gone: 404 Not Found');
  assert.equal(e.lastError, 'Error: one or more checks failed during execution');
  assert.equal(e.lastRateLimit, 'Rate limit exceeded. Waiting 59m59s to retry...');
  assert.equal(e.lines, 6);
  const json = extractDocuments('{"level":"fatal","msg":"Skipping github.com/o/r: boom"}\n');
  assert.equal(json.lastError, 'Skipping github.com/o/r: boom');
  assert.equal(json.skipped, 'Skipping github.com/o/r: boom');
});

test('extract: hostile line shapes stay linear (no re-scanning)', () => {
  const fx = fixtures[0];
  const cases: Array<[string, string]> = [
    ['200k unbalanced openers', `${'{\n'.repeat(200_000) + fx.line}\n`],
    ['one opener, then 200k indented lines', `{\n${'  "checks": 1,\n'.repeat(200_000)}${fx.line}\n`],
    ['100k result-like broken lines', `${`{"checks":[${'1,'.repeat(50)}\n`.repeat(100_000) + fx.line}\n`],
    ['100k brace lines ending in }', `${'{"repo": x}\n'.repeat(100_000) + fx.line}\n`],
    ['a 20 MB line', `{${'"repo",'.repeat(3_000_000)}\n${fx.line}\n`],
  ];
  // A re-scan per line is quadratic: 200k lines would take ~10^10 steps, minutes. The bound sits
  // far above the linear time (tens of ms on a quiet machine) so a busy machine does not fail it;
  // how fast extraction is belongs to bench/parse.ts.
  for (const [name, log] of cases) {
    const t0 = performance.now();
    const e = extractDocuments(log);
    const ms = performance.now() - t0;
    assert.equal(e.documents.length, 1, name);
    assert.ok(ms < 15_000, `${name}: ${ms.toFixed(0)} ms`);
  }
});
