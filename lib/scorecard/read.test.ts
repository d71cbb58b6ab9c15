import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { incompleteTail, readCapped } from './read.ts';
import { collectGarbage } from './testing.ts';

// 1-, 2-, 3- and 4-byte characters, so every split position lands somewhere interesting.
const SAMPLE = 'a\u00e9\u20ac\u{1f600}b\n\u00fc\u{10348}\u6f22z';
const SAMPLE_BYTES = Buffer.from(SAMPLE, 'utf8');

function* chunksOf(bytes: Uint8Array, sizes: number[]): Generator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i += 1) {
    const n = sizes[i % sizes.length];
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

/** The longest prefix of `bytes` (at most `cap` bytes) that ends on a character boundary, decoded. */
function expectedPrefix(bytes: Uint8Array, cap: number): { text: string; bytes: number } {
  let n = Math.min(cap, bytes.length);
  while (n > 0 && n < bytes.length && (bytes[n] & 0xc0) === 0x80) n -= 1;
  return { text: Buffer.from(bytes.subarray(0, n)).toString('utf8'), bytes: n };
}

test('readCapped: characters split across chunks are decoded whole, at every split', async () => {
  for (const sizes of [[1], [2], [3], [5], [1, 2, 3], [7, 1]]) {
    const got = await readCapped(chunksOf(SAMPLE_BYTES, sizes), 1024);
    assert.deepEqual(got, { text: SAMPLE, bytes: SAMPLE_BYTES.length, truncated: false }, `sizes ${sizes}`);
  }
});

test('readCapped: a cap inside a character drops that character instead of mangling it', async () => {
  for (let cap = 1; cap <= SAMPLE_BYTES.length + 1; cap += 1) {
    for (const sizes of [[1], [3], [SAMPLE_BYTES.length]]) {
      const got = await readCapped(chunksOf(SAMPLE_BYTES, sizes), { capBytes: cap });
      const want = expectedPrefix(SAMPLE_BYTES, cap);
      assert.equal(got.text, want.text, `cap ${cap} sizes ${sizes}`);
      assert.equal(got.bytes, want.bytes, `cap ${cap} sizes ${sizes}`);
      assert.equal(got.truncated, cap < SAMPLE_BYTES.length, `cap ${cap} sizes ${sizes}`);
      assert.ok(!got.text.includes('\ufffd'), `cap ${cap}`);
    }
  }
});

test('readCapped: exactly the cap is not truncated; one more byte is', async () => {
  const cases: Array<[string[], number, boolean, string]> = [
    [['abcd'], 4, false, 'abcd'],
    [['ab', 'cd'], 4, false, 'abcd'],
    [['ab', 'cd', ''], 4, false, 'abcd'],
    [['ab', 'cd', 'e'], 4, true, 'abcd'],
    [['abcde'], 4, true, 'abcd'],
    [[], 4, false, ''],
    [['', ''], 4, false, ''],
  ];
  for (const [chunks, cap, truncated, text] of cases) {
    const got = await readCapped(chunks, cap);
    assert.deepEqual(got, { text, bytes: Buffer.byteLength(text), truncated }, JSON.stringify(chunks));
  }
});

test('readCapped: a source that really ends inside a character shows U+FFFD; a BOM is kept for the extractor', async () => {
  const got = await readCapped([Buffer.from([0x61, 0xe2, 0x82])], 100);
  assert.deepEqual(got, { text: 'a\ufffd', bytes: 3, truncated: false });
  assert.equal((await readCapped([Buffer.from('\ufeff{}', 'utf8')])).text, '\ufeff{}');
});

test('readCapped: accepts strings, Buffers, Uint8Arrays, Node streams and web streams', async () => {
  const sources: Array<[string, () => AsyncIterable<any> | Iterable<any>]> = [
    ['strings', () => ['h\u00e9', 'llo']],
    ['Uint8Arrays', () => chunksOf(new TextEncoder().encode('h\u00e9llo'), [2])],
    ['Node Readable', () => Readable.from([Buffer.from('h\u00e9'), Buffer.from('llo')])],
    ['web ReadableStream', () => new Blob(['h\u00e9llo']).stream() as unknown as AsyncIterable<Uint8Array>],
  ];
  for (const [name, make] of sources) assert.equal((await readCapped(make())).text, 'h\u00e9llo', name);
  await assert.rejects(readCapped([{} as any]), /log chunks must be strings or bytes/);
  await assert.rejects(readCapped([], 0), /capBytes must be a positive integer/);
});

test('readCapped: stops pulling from the source at the cap (a 50 MB log costs the cap)', async () => {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let pulled = 0;
  let closed = false;
  async function* fiftyMegabytes() {
    try {
      for (let i = 0; i < 800; i += 1) {
        pulled += 1;
        yield chunk;
      }
    } finally {
      closed = true;
    }
  }
  const cap = 10 * 1024 * 1024;
  const got = await readCapped(fiftyMegabytes(), cap);
  assert.equal(got.bytes, cap);
  assert.equal(got.truncated, true);
  assert.equal(got.text.length, cap);
  assert.equal(pulled, cap / chunk.length + 1, 'one chunk past the cap tells "more" from "exactly the cap"');
  assert.equal(closed, true, 'the source is closed');
});

test('readCapped tail: keeps the last bytes from the next whole line, with bounded memory', async () => {
  const lines = `${Array.from({ length: 1000 }, (_, i) => `line ${i} \u00e9\u20ac`).join('\n')}\n{"result":true}\n`;
  const bytes = Buffer.from(lines, 'utf8');
  for (const sizes of [[1], [7], [4096]]) {
    const got = await readCapped(chunksOf(bytes, sizes), { capBytes: 100, keep: 'tail' });
    assert.equal(got.truncated, true);
    assert.ok(got.text.endsWith('line 999 \u00e9\u20ac\n{"result":true}\n'), got.text);
    assert.ok(/^line \d+ /.test(got.text), `starts at a whole line: ${JSON.stringify(got.text.slice(0, 20))}`);
    assert.ok(got.bytes <= 100);
    assert.equal(got.bytes, Buffer.byteLength(got.text));
  }
  const short = await readCapped(['a\n', 'b\n'], { capBytes: 100, keep: 'tail' });
  assert.deepEqual(short, { text: 'a\nb\n', bytes: 4, truncated: false });

  // 50 MB through a 1 MiB tail: the reader never holds more than the cap and a chunk.
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  chunk[chunk.length - 1] = 0x0a;
  let peak = 0;
  collectGarbage();
  const base = process.memoryUsage().arrayBuffers;
  async function* source() {
    for (let i = 0; i < 800; i += 1) {
      if (i % 50 === 49) {
        collectGarbage();
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      }
      yield Buffer.from(chunk);
    }
  }
  const got = await readCapped(source(), { capBytes: 1024 * 1024, keep: 'tail' });
  assert.equal(got.truncated, true);
  assert.ok(got.bytes <= 1024 * 1024);
  assert.ok(peak < 2 * 1024 * 1024, `peak ${(peak / 1048576).toFixed(1)} MiB of buffers`);
});

test('incompleteTail: counts the bytes of a character the cap cut', () => {
  const cases: Array<[number[], number]> = [
    [[], 0],
    [[0x61], 0],
    [[0xc3], 1],
    [[0xc3, 0xa9], 0],
    [[0xe2], 1],
    [[0xe2, 0x82], 2],
    [[0xe2, 0x82, 0xac], 0],
    [[0xf0, 0x9f, 0x98], 3],
    [[0xf0, 0x9f, 0x98, 0x80], 0],
    [[0x80, 0x80], 0],
    [[0xc0], 0],
    [[0xff], 0],
  ];
  for (const [bytes, want] of cases) assert.equal(incompleteTail(new Uint8Array(bytes)), want, JSON.stringify(bytes));
});
