import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotTextError, type RawLine, readLines } from './import.ts';

async function collect(chunks: Array<Buffer | string>, max?: number): Promise<RawLine[] | string> {
  const out: RawLine[] = [];
  try {
    for await (const l of readLines(
      (async function* () {
        yield* chunks;
      })(),
      max,
    ))
      out.push(l);
  } catch (err) {
    if (err instanceof NotTextError) return err.message;
    throw err;
  }
  return out;
}

test('readLines: lines across chunks, CRLF kept for the parser, a last line without newline', async () => {
  assert.deepEqual(await collect(['a/b\nc/', 'd\r\ne/f']), [
    { number: 1, text: 'a/b' },
    { number: 2, text: 'c/d\r' },
    { number: 3, text: 'e/f' },
  ]);
  assert.deepEqual(await collect(['']), []);
  assert.deepEqual(await collect(['\n\n']), [
    { number: 1, text: '' },
    { number: 2, text: '' },
  ]);
  // A multi-byte character split between chunks is decoded whole.
  const e = Buffer.from('x/caf\u00e9\n');
  assert.deepEqual(await collect([e.subarray(0, 6), e.subarray(6)]), [{ number: 1, text: 'x/caf\u00e9' }]);
});

test('readLines: a line over the cap is reported, not held, and the next line is read', async () => {
  const long = 'a'.repeat(50);
  assert.deepEqual(await collect(['x/1\n', long.slice(0, 20), long.slice(20), '\nx/2\n'], 10), [
    { number: 1, text: 'x/1' },
    { number: 2, tooLong: true },
    { number: 3, text: 'x/2' },
  ]);
  assert.deepEqual(await collect([long], 10), [{ number: 1, tooLong: true }]);
  assert.deepEqual(await collect(['0123456789\n'], 10), [{ number: 1, text: '0123456789' }], 'exactly the cap is fine');
});

test('readLines: binary input is refused with where it was found', async () => {
  assert.equal(await collect(['a/b\n', Buffer.from([0x41, 0x00])]), 'not a text file: a NUL byte at byte 6 (binary content)');
  assert.match(String(await collect([Buffer.from([0x61, 0xff, 0x0a])])), /^not a text file: bytes that are not UTF-8 in bytes 1-3$/);
  assert.equal(await collect([Buffer.from([0x61, 0xe2, 0x82])]), 'not a text file: it ends inside a UTF-8 sequence');
  const big = Buffer.alloc(10_000, 0x61);
  big[9_000] = 0;
  assert.equal(await collect([big]), 'not a text file: a NUL byte at byte 9001');
});
