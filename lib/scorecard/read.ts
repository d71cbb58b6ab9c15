// Reads a pod log (a @kubernetes/client-node log stream, a fetch body, a file stream) into text
// under a byte cap, holding at most the cap plus one chunk, and stopping the source as soon as
// the cap is reached (leaving a for-await loop early destroys a Node stream / cancels a fetch).

export const DEFAULT_LOG_BYTE_CAP = 10 * 1024 * 1024;

export interface CappedText {
  text: string;
  /** UTF-8 bytes of the source that `text` holds (≤ the cap). */
  bytes: number;
  /** True when the source had more bytes than the cap: part of the log is missing. */
  truncated: boolean;
}

export interface ReadCappedOptions {
  /** Most bytes kept; default 10 MiB. */
  capBytes?: number;
  /**
   * Which end of an over-long log to keep. `head` (default) stops reading at the cap, so a huge
   * log costs no more than the cap to transfer. `tail` reads everything but keeps only the last
   * `capBytes`: Scorecard prints its result after all of its stderr lines, so this finds the
   * result at the end of a huge log, at the price of transferring the whole log.
   */
  keep?: 'head' | 'tail';
}

export type LogChunk = Uint8Array | string;

/** Reads chunks into text with a byte cap; a multi-byte character is never split, at a chunk boundary or at the cap. */
export async function readCapped(chunks: AsyncIterable<LogChunk> | Iterable<LogChunk>, options: ReadCappedOptions | number = {}): Promise<CappedText> {
  const opts = typeof options === 'number' ? { capBytes: options } : options;
  const cap = opts.capBytes ?? DEFAULT_LOG_BYTE_CAP;
  if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError(`capBytes must be a positive integer, got ${cap}`);
  return opts.keep === 'tail' ? readTail(chunks, cap) : readHead(chunks, cap);
}

function toBytes(chunk: LogChunk): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError(`log chunks must be strings or bytes, got ${Object.prototype.toString.call(chunk)}`);
}

async function readHead(chunks: AsyncIterable<LogChunk> | Iterable<LogChunk>, cap: number): Promise<CappedText> {
  // Decoding as we go means no more than one chunk of bytes is ever held: the decoder keeps the
  // (at most 3) bytes of a character split across chunks until the rest arrives.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const pieces: string[] = [];
  let consumed = 0;
  let last4: Uint8Array = new Uint8Array(0);
  let truncated = false;
  for await (const chunk of chunks) {
    const bytes = toBytes(chunk);
    if (bytes.length === 0) continue;
    if (consumed >= cap) {
      truncated = true;
      break;
    }
    const room = cap - consumed;
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    pieces.push(decoder.decode(kept, { stream: true }));
    consumed += kept.length;
    last4 = lastBytes(last4, kept, 4);
    if (kept !== bytes) {
      truncated = true;
      break;
    }
  }
  if (!truncated) {
    // The source really ended: an incomplete last character becomes U+FFFD, as it should.
    pieces.push(decoder.decode());
    return { text: pieces.join(''), bytes: consumed, truncated };
  }
  // Cut at the cap: the decoder still holds the first bytes of a split character; drop them
  // instead of flushing them into a replacement character.
  return { text: pieces.join(''), bytes: consumed - incompleteTail(last4), truncated };
}

async function readTail(chunks: AsyncIterable<LogChunk> | Iterable<LogChunk>, cap: number): Promise<CappedText> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let dropped = false;
  for await (const chunk of chunks) {
    const bytes = toBytes(chunk);
    if (bytes.length === 0) continue;
    kept.push(bytes);
    keptBytes += bytes.length;
    // Drop whole chunks from the front while the rest still covers the cap: cap + one chunk at most.
    while (kept.length > 1 && keptBytes - kept[0].length >= cap) {
      keptBytes -= kept.shift()!.length;
      dropped = true;
    }
  }
  let all = Buffer.concat(kept, keptBytes);
  kept.length = 0;
  if (all.length > cap) {
    all = all.subarray(all.length - cap);
    dropped = true;
  }
  if (dropped) {
    // The kept part starts inside a line (maybe inside a character): start at the next full line.
    const nl = all.indexOf(0x0a);
    all = nl === -1 ? all.subarray(all.length) : all.subarray(nl + 1);
  }
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  return { text, bytes: all.length, truncated: dropped };
}

function lastBytes(prev: Uint8Array, next: Uint8Array, n: number): Uint8Array {
  if (next.length >= n) return next.slice(next.length - n);
  const both = new Uint8Array(prev.length + next.length);
  both.set(prev, 0);
  both.set(next, prev.length);
  return both.slice(Math.max(0, both.length - n));
}

/** How many trailing bytes are the start of a UTF-8 character whose remaining bytes are missing. */
export function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back += 1) {
    const b = bytes[bytes.length - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    // 0xc0, 0xc1 and 0xf5.. never start a character; the decoder has already replaced them.
    const need = b < 0xc2 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf5 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}
