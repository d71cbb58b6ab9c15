// Reading a repository list: one repository a line, or Scorecard's `repo,metadata` CSV.
// Pure line parsing here; the command streams lines through it in batches.
import { parseRepo, type RepoId } from './identity.ts';

export type ImportLine = { kind: 'skip' } | { kind: 'repo'; repo: RepoId; metadata: string | null } | { kind: 'invalid'; reason: string };

/** Parses one line of a list (lineNumber is 1-based; line 1 may be the CSV header). */
export function parseImportLine(line: string, lineNumber: number, allowedHosts: readonly string[]): ImportLine {
  let s = line;
  if (lineNumber === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  s = s.replace(/\r$/, '').trim();
  if (s === '' || s.startsWith('#')) return { kind: 'skip' };
  if (lineNumber === 1 && /^"?repo"?\s*(,|$)/i.test(s)) return { kind: 'skip' }; // CSV header
  let name = s;
  let metadata: string | null = null;
  if (s.startsWith('"')) {
    const end = s.indexOf('"', 1);
    if (end < 0) return { kind: 'invalid', reason: 'unterminated quote' };
    name = s.slice(1, end);
    const rest = s.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith(',')) return { kind: 'invalid', reason: 'text after the quoted repository' };
    metadata = rest.startsWith(',') ? rest.slice(1).trim() : null;
  } else {
    const comma = s.indexOf(',');
    if (comma >= 0) {
      name = s.slice(0, comma).trim();
      metadata = s.slice(comma + 1).trim();
    }
  }
  if (metadata?.startsWith('"') && metadata.endsWith('"') && metadata.length >= 2) metadata = metadata.slice(1, -1);
  if (metadata === '') metadata = null;
  if (metadata !== null && metadata.length > 4096) return { kind: 'invalid', reason: 'metadata longer than 4096 characters' };
  const r = parseRepo(name, allowedHosts);
  return r.ok ? { kind: 'repo', repo: r.repo, metadata } : { kind: 'invalid', reason: r.reason };
}

/** Longest line read (a repository name is at most ~150 characters; metadata up to 4096). */
export const MAX_LINE_CHARS = 8192;
/** Bytes sniffed for a NUL, as git and grep do to tell binary from text. */
export const SNIFF_BYTES = 8000;

/** The input is not a text file: nothing more is read from it. */
export class NotTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotTextError';
  }
}

export type RawLine = { number: number; text: string } | { number: number; tooLong: true };

/**
 * Splits a byte stream into lines in bounded memory: a line longer than MAX_LINE_CHARS is
 * reported as too long and skipped without being held. Binary input (a NUL byte, or bytes that
 * are not UTF-8) throws NotTextError, so a binary file never becomes "repositories".
 */
export async function* readLines(input: AsyncIterable<Buffer | string>, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<RawLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  let number = 0;
  let partial = '';
  let tooLong = false;
  const take = function* (text: string, final: boolean): Generator<RawLine> {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      number++;
      if (tooLong || partial.length + (nl - start) > maxLineChars) yield { number, tooLong: true };
      else yield { number, text: partial + text.slice(start, nl) };
      partial = '';
      tooLong = false;
      start = nl + 1;
    }
    const rest = text.slice(start);
    if (!tooLong && partial.length + rest.length > maxLineChars) {
      tooLong = true;
      partial = '';
    } else if (!tooLong) partial += rest;
    if (final && (partial !== '' || tooLong)) {
      number++;
      yield tooLong ? { number, tooLong: true } : { number, text: partial };
    }
  };
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new NotTextError(`not a text file: a NUL byte at byte ${offset + nul + 1}${offset + nul < SNIFF_BYTES ? ' (binary content)' : ''}`);
    let text: string;
    try {
      text = decoder.decode(bytes, { stream: true });
    } catch {
      throw new NotTextError(`not a text file: bytes that are not UTF-8 in bytes ${offset + 1}-${offset + bytes.length}`);
    }
    offset += bytes.length;
    yield* take(text, false);
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch {
    throw new NotTextError('not a text file: it ends inside a UTF-8 sequence');
  }
  yield* take(tail, true);
}
