import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeReason, stripAnsi } from './text.ts';

test('safeReason: one short printable line, whatever comes in', () => {
  const cases: Array<[string, number | undefined, string]> = [
    ['plain', undefined, 'plain'],
    ['  spaced \t out \r\n', undefined, 'spaced out'],
    ['a\nb\rc\u2028d\u2029e', undefined, 'a b c d e'],
    ['\u001b[31mred\u001b[0m and \u001b]0;title\u0007osc', undefined, 'red and osc'],
    ['nul\u0000bel\u0007del\u007fc1\u0085', undefined, 'nul bel del c1'],
    ['bidi \u202eesrever\u202c \u2066iso\u2069', undefined, 'bidi esrever iso'],
    ['\ufeffbom zero\u200bwidth', undefined, 'bom zero width'],
    ['abcdefghij', 5, 'abcd…'],
    ['abc\u{1f600}def', 5, 'abc…'],
    ['x'.repeat(10_000_000), 300, `${'x'.repeat(299)}…`],
  ];
  for (const [input, max, want] of cases) assert.equal(safeReason(input, max), want, JSON.stringify(input.slice(0, 40)));
  assert.equal(safeReason('x'.repeat(301)).length, 300);
});

test('stripAnsi: removes colour, cursor and OSC sequences only', () => {
  assert.equal(stripAnsi('\u001b[1;32mok\u001b[0m \u001b[2K\u001b[1A[not ansi]'), 'ok [not ansi]');
  assert.equal(stripAnsi('no escapes'), 'no escapes');
});
