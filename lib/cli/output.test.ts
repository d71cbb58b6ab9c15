import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { wrap } from './help.ts';
import { ListPrinter, type OutputFormat, outputFormat } from './output.ts';

test('wrap: at spaces within the width, continuation indented, long words kept whole', () => {
  const cases: Array<[string, number, number, number, string[]]> = [
    ['a b c', 80, 0, 0, ['a b c']],
    ['aaa bbb ccc', 7, 2, 0, ['aaa bbb', '  ccc']],
    ['aaa bbb', 5, 4, 2, ['  aaa', '    bbb']],
    ['averyveryverylongword x', 8, 0, 0, ['averyveryverylongword', 'x']],
    ['one\ntwo', 80, 0, 0, ['one', 'two']],
  ];
  for (const [text, width, indent, first, want] of cases) assert.deepEqual(wrap(text, width, indent, first), want, text);
});

async function print(format: OutputFormat, pages: Array<Array<{ n: string; v: number }>>): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const p = new ListPrinter<{ n: string; v: number }>(
    out,
    format,
    [
      { header: 'NAME', value: (r) => r.n },
      { header: 'VALUE', value: (r) => String(r.v) },
      { header: 'WIDE', value: () => 'w', wide: true },
    ],
    (r) => ({ name: r.n, value: r.v }),
  );
  for (const page of pages) await p.page(page);
  await p.end();
  return text;
}

test('ListPrinter: table, wide, JSON and YAML across pages; empty lists', async () => {
  const pages = [[{ n: 'alpha', v: 1 }], [{ n: 'b\nx', v: 22 }]];
  assert.equal(await print('table', pages), 'NAME    VALUE\nalpha   1\nb x     22\n');
  assert.equal(await print('wide', pages), 'NAME    VALUE   WIDE\nalpha   1       w\nb x     22      w\n');
  assert.deepEqual(JSON.parse(await print('json', pages)), [
    { name: 'alpha', value: 1 },
    { name: 'b\nx', value: 22 },
  ]);
  assert.deepEqual(parseYaml(await print('yaml', pages)), [
    { name: 'alpha', value: 1 },
    { name: 'b\nx', value: 22 },
  ]);
  assert.equal(await print('json', []), '[]\n');
  assert.equal(await print('yaml', []), '[]\n');
  assert.equal(await print('table', []), '');
  assert.equal(outputFormat(undefined), 'table');
  assert.throws(() => outputFormat('xml'), /-o must be one of table, wide, json, yaml/);
});
