import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath } from '../../test/fixtures/scorecard.ts';
import { importKeyParts, layoutOf, verdictOfLine, verdictsOfDocument } from './results-file.ts';

const podLog = (name: string) => readFileSync(fixturePath(name), 'utf8');
const resultLines = (log: string) => log.split('\n').filter((l) => l.startsWith('{"date"'));

test('real CLI v5.x JSON lines (--repo and --repos) are results; a pretty-printed document is read whole', () => {
  const single = resultLines(podLog('real-v5.5.0-fake-github-healthy.pod-log.txt'));
  assert.equal(single.length, 1);
  const one = verdictOfLine(single[0]);
  assert.equal(one.kind, 'result');
  assert.equal(one.kind === 'result' && one.result.repo, 'github.com/posture-e2e/healthy');
  for (const v of ['v5.4.0', 'v5.5.0']) {
    const lines = resultLines(podLog(`real-${v}-fake-github-shard-healthy.pod-log.txt`));
    assert.deepEqual(
      lines.map((l) => {
        const x = verdictOfLine(l);
        return x.kind === 'result' ? x.result.repo : x.kind;
      }),
      ['github.com/posture-e2e/healthy', 'github.com/posture-e2e/second', 'github.com/posture-e2e/third'],
    );
  }
  const pretty = readFileSync(fixturePath('p08-v5-cli-show-details-pretty.json'), 'utf8');
  assert.equal(layoutOf(pretty.split('\n')[0]), 'document');
  assert.equal(layoutOf(single[0]), 'lines');
  const [doc] = verdictsOfDocument(pretty);
  assert.equal(doc.kind === 'result' && doc.result.score, 9.6);
  const array = verdictsOfDocument(`[${single[0]},${pretty}]`);
  assert.deepEqual(
    array.map((x) => x.kind),
    ['result', 'result'],
  );
});

test('what is not a Scorecard result says what it is, in a few words', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[]}', /^a SARIF file .*results_format: json/],
    ['{"date":"2024-01-01","repo":{"name":"github.com/o/r","commit":"c"},"scorecard":{"version":"v5","commit":"x"},"findings":[]}', /--format=probe/],
    ['{"name":"my-package","version":"1.0.0"}', /^JSON without a Scorecard result's .* \(its keys: name, version\)$/],
    ['hello world', /^not JSON$/],
    ['<html>', /XML or HTML/],
    ['42', /a number and not a Scorecard result/],
  ];
  for (const [text, want] of cases) {
    const v = verdictOfLine(text);
    assert.equal(v.kind, 'other', text);
    assert.match(v.kind === 'other' ? v.reason : '', want, text);
  }
  const invalid = verdictOfLine(
    '{"date":"2024-01-01","repo":{"name":"github.com/o/r","commit":"c"},"scorecard":{"version":"v5","commit":"x"},"score":11,"checks":[]}',
  );
  assert.equal(invalid.kind, 'invalid');
  assert.match(invalid.kind === 'invalid' ? invalid.reason : '', /^an invalid Scorecard result: \/score/);
  assert.equal(verdictsOfDocument('{ not json')[0].kind, 'other');
  assert.equal(verdictsOfDocument('[]')[0].kind, 'other');
});

test('the import key is the same result whatever its layout, and differs when a check’s score does', () => {
  const line = resultLines(podLog('real-v5.5.0-fake-github-healthy.pod-log.txt'))[0];
  const a = verdictOfLine(line);
  const b = verdictsOfDocument(JSON.stringify(JSON.parse(line), null, 2))[0];
  assert.ok(a.kind === 'result' && b.kind === 'result');
  assert.equal(importKeyParts('k', a.result), importKeyParts('k', b.result));
  const changed = { ...a.result, checks: a.result.checks.map((c, i) => (i === 0 ? { ...c, score: c.score === 10 ? 9 : 10 } : c)) };
  assert.notEqual(importKeyParts('k', changed), importKeyParts('k', a.result));
});
