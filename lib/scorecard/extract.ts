// Finds Scorecard result documents in a pod log. Kubernetes merges a container's stdout (where
// Scorecard writes exactly one JSON line) with its stderr (logrus/zap/Go `log` lines, some of
// them JSON too), so the result has to be picked out of arbitrary text.
//
// One pass over the lines, linear in the log's length: every line is looked at once, only lines
// that can be a result are parsed, and a pretty-printed document is recognised by its shape (a
// line that is just `{` up to the line that is just `}` at the same indentation) instead of by
// re-scanning the text for balanced braces, which is what keeps a log full of unbalanced `{`
// lines from turning quadratic. Validation is not done here: this module only says what the log
// holds; classify.ts decides what that means.
import { safeReason, stripAnsi } from './text.ts';

export interface ExtractOptions {
  /** Longest document (characters) that is parsed; a longer result-like one is reported as malformed. */
  maxDocumentChars?: number;
  /** Most distinct result-like documents kept (the rest are only counted). */
  maxDocuments?: number;
}

export const DEFAULT_MAX_DOCUMENT_CHARS = 8 * 1024 * 1024;
const DEFAULT_MAX_DOCUMENTS = 8;
/** At most this many malformed-document notes are kept. */
const MAX_MALFORMED = 4;
/** A JSON log line longer than this is not parsed just to find its message. */
const MAX_LOG_RECORD_CHARS = 64 * 1024;

export interface FoundDocument {
  /** The parsed object (a result-like object, not yet validated). */
  value: Record<string, unknown>;
  /** 1-based line where it starts. */
  line: number;
  /** Its length in characters as printed. */
  chars: number;
}

export interface Extraction {
  /** Distinct result-like JSON objects in log order (duplicates folded into the first). */
  documents: FoundDocument[];
  /** How many result-like documents were seen, duplicates included. */
  documentsSeen: number;
  /** True when more distinct documents were seen than were kept. */
  documentsDropped: boolean;
  /** Result-like text that is not a JSON document (first few), e.g. `line 3: Unexpected token…`. */
  malformed: string[];
  /** A result-like document that the end of the log cut off. */
  unterminated: { line: number } | null;
  /** First `Skipping <uri>: <err>` message (Scorecard ≥ v5.4 with a repository it cannot scan). */
  skipped: string | null;
  /** Last line that reads like an error (plain text or a JSON log record's message), sanitised. */
  lastError: string | null;
  /** Last line that mentions a rate limit (Scorecard sleeps until the limit resets), sanitised. */
  lastRateLimit: string | null;
  /** Number of lines in the log. */
  lines: number;
}

// Keys of a Scorecard result (CLI JSON and the REST API's ScorecardResult alike).
const SIGNATURE = ['date', 'repo', 'scorecard', 'score', 'checks'] as const;
// Prefix a log line may carry: `kubectl logs --timestamps` (RFC3339Nano) and Go's `log` package.
const TIMESTAMP_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) /;
const GO_LOG_PREFIX = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(?:\.\d+)? /;
const ERROR_WORDS = /\b(?:error|failed|fatal|panic)\b/i;
const RATE_LIMIT = /rate.?limit/i;
const ERROR_LEVEL = /"(?:level|severity|lvl)"\s*:\s*"(?:error|fatal|panic|dpanic|critical)"/i;

/**
 * A log line as the extraction reads it: without ANSI escapes, a BOM, surrounding whitespace or
 * the timestamp prefix `kubectl logs --timestamps` and Go's `log` package put before it.
 */
export function logLineBody(line: string): string {
  let body = (line.includes('\u001b') ? stripAnsi(line) : line).trim();
  if (body.charCodeAt(0) === 0xfeff) body = body.slice(1).trim();
  const c0 = body.charCodeAt(0);
  if (c0 >= 0x30 && c0 <= 0x39) {
    const m = TIMESTAMP_PREFIX.exec(body) ?? GO_LOG_PREFIX.exec(body);
    if (m) body = body.slice(m[0].length).trim();
  }
  return body;
}

/** True for an object that has the shape of a Scorecard result: at least three of its top-level keys, and not a log record. */
export function looksLikeResult(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  if (isLogRecord(v as Record<string, unknown>)) return false;
  let n = 0;
  for (const k of SIGNATURE) if (Object.hasOwn(v, k)) n += 1;
  return n >= 3;
}

// zap, logrus and pino all write a level and a message; a Scorecard result has neither.
function isLogRecord(v: Record<string, unknown>): boolean {
  return (Object.hasOwn(v, 'level') || Object.hasOwn(v, 'severity') || Object.hasOwn(v, 'lvl')) && (Object.hasOwn(v, 'msg') || Object.hasOwn(v, 'message'));
}

// Cheap textual test run before parsing: a result always names at least one of these keys.
const RESULT_KEY = /"(?:checks|scorecard|repo)"/;
export function mayBeResult(s: string): boolean {
  return RESULT_KEY.test(s);
}

// Stricter textual test for text that did not parse: worth reporting as a broken result.
export function resultish(s: string): boolean {
  return s.includes('"checks"') && (s.includes('"repo"') || s.includes('"scorecard"'));
}

interface OpenBlock {
  line: number;
  indent: number;
  parts: string[];
  chars: number;
  /** Past maxDocumentChars: parts were dropped, `resultish` says whether they looked like a result. */
  oversize: boolean;
  resultish: boolean;
}

interface KeptDocument extends FoundDocument {
  text: string;
  /** JSON.stringify of the value once needed; null when it cannot be serialised. */
  canonical: string | null | undefined;
}

function canonicalOf(value: unknown): string | null {
  try {
    return JSON.stringify(value);
  } catch {
    // Too deeply nested to serialise: never equal to anything; the schema refuses it later.
    return null;
  }
}

/** Scans a pod log once and reports every result-like document and the lines that explain a failure. */
export function extractDocuments(text: string, options: ExtractOptions = {}): Extraction {
  const maxChars = options.maxDocumentChars ?? DEFAULT_MAX_DOCUMENT_CHARS;
  const maxDocs = options.maxDocuments ?? DEFAULT_MAX_DOCUMENTS;
  const kept: KeptDocument[] = [];
  const out: Extraction = {
    documents: [],
    documentsSeen: 0,
    documentsDropped: false,
    malformed: [],
    unterminated: null,
    skipped: null,
    lastError: null,
    lastRateLimit: null,
    lines: 0,
  };
  let block: OpenBlock | null = null;
  // Sanitised once at the end: a log of a million error lines should not pay for a million.
  let lastError: string | null = null;
  let lastRateLimit: string | null = null;

  const noteMalformed = (line: number, problem: string): void => {
    if (out.malformed.length < MAX_MALFORMED) out.malformed.push(safeReason(`line ${line}: ${problem}`, 160));
  };

  const addDocument = (value: Record<string, unknown>, docText: string, line: number): void => {
    out.documentsSeen += 1;
    // The same result printed twice (a relayed or duplicated log) is one result: same text, or
    // (compact and pretty) the same value. Serialised only when there is something to compare.
    for (const k of kept) if (k.text === docText) return;
    if (kept.length > 0) {
      const canonical = canonicalOf(value);
      for (const k of kept) {
        if (k.canonical === undefined) k.canonical = canonicalOf(k.value);
        if (canonical !== null && k.canonical === canonical) return;
      }
    }
    if (kept.length >= maxDocs) {
      out.documentsDropped = true;
      return;
    }
    kept.push({ value, line, chars: docText.length, text: docText, canonical: undefined });
  };

  // Parses text that may be a result; returns the parse error, or null when it is JSON.
  const parseDocument = (docText: string, line: number): string | null => {
    let value: unknown;
    try {
      value = JSON.parse(docText);
    } catch (err) {
      return (err as Error).message;
    }
    if (looksLikeResult(value)) addDocument(value, docText, line);
    else noteLogRecord(value);
    return null;
  };

  const noteLogRecord = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    const rec = value as Record<string, unknown>;
    const level = String(rec.level ?? rec.severity ?? rec.lvl ?? '').toLowerCase();
    const msg = typeof rec.msg === 'string' ? rec.msg : typeof rec.message === 'string' ? rec.message : '';
    if (msg === '') return;
    const err = typeof rec.error === 'string' ? rec.error : typeof rec.err === 'string' ? rec.err : '';
    const full = err ? `${msg}: ${err}` : msg;
    if (/^(?:error|fatal|panic|dpanic|critical)$/.test(level)) lastError = full;
    if (RATE_LIMIT.test(full)) lastRateLimit = full;
    if (out.skipped === null && full.startsWith('Skipping ')) out.skipped = safeReason(full);
  };

  const closeBlock = (b: OpenBlock): void => {
    if (b.oversize) {
      if (b.resultish) noteMalformed(b.line, `document longer than ${maxChars} characters`);
      return;
    }
    const docText = b.parts.join('\n');
    if (!mayBeResult(docText)) return;
    const problem = parseDocument(docText, b.line);
    if (problem !== null && resultish(docText)) noteMalformed(b.line, `result-like text is not valid JSON (${problem})`);
  };

  const n = text.length;
  let pos = 0;
  let lineNo = 0;
  while (pos < n) {
    let end = text.indexOf('\n', pos);
    const terminated = end !== -1;
    if (!terminated) end = n;
    lineNo += 1;
    let line = text.slice(pos, end);
    pos = end + 1;
    if (line.includes('\u001b')) line = stripAnsi(line);
    if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    // trim() also drops the \r of CRLF.
    let body = line.trim();
    if (body === '') continue;
    let indent = indentOf(line);
    const c0 = body.charCodeAt(0);
    if (c0 >= 0x30 && c0 <= 0x39) {
      const m = TIMESTAMP_PREFIX.exec(body) ?? GO_LOG_PREFIX.exec(body);
      if (m) {
        line = body.slice(m[0].length);
        body = line.trim();
        indent = indentOf(line);
      }
    }

    // Inside a pretty-printed document every line is indented deeper than its outer braces; a
    // line that is not is an interleaved stderr line and is left out of the document.
    if (block !== null) {
      if (indent > block.indent) {
        if (!block.oversize) {
          block.chars += body.length + 1;
          if (block.chars > maxChars) {
            block.oversize = true;
            block.resultish = resultish(block.parts.join('\n'));
            block.parts = [];
          } else {
            block.parts.push(body);
          }
        }
        continue;
      }
      if (body === '}' && indent === block.indent) {
        if (!block.oversize) block.parts.push('}');
        closeBlock(block);
        block = null;
        continue;
      }
      if (body === '{' && indent === block.indent) {
        if (block.oversize ? block.resultish : resultish(block.parts.join('\n')))
          noteMalformed(block.line, `document never closed (another starts at line ${lineNo})`);
        block = null;
      }
    }

    if (body === '{') {
      block = { line: lineNo, indent, parts: ['{'], chars: 1, oversize: false, resultish: false };
      continue;
    }

    if (body.charCodeAt(0) === 0x7b /* { */) {
      if (body.endsWith('}') && body.length <= maxChars) {
        if (mayBeResult(body)) {
          const problem = parseDocument(body, lineNo);
          if (problem !== null && resultish(body)) {
            // The log may end right after a `}` inside the result: cut, not malformed.
            if (terminated) noteMalformed(lineNo, `result-like text is not valid JSON (${problem})`);
            else out.unterminated = { line: lineNo };
          }
          continue;
        }
        if (!(ERROR_LEVEL.test(body) || RATE_LIMIT.test(body) || body.includes('Skipping '))) continue;
        if (body.length <= MAX_LOG_RECORD_CHARS) {
          try {
            noteLogRecord(JSON.parse(body));
            continue;
          } catch {
            // Not JSON after all: read it as a plain line below.
          }
        }
      } else if (resultish(body)) {
        // A line the log ends in is a result cut off by a byte cap or a killed container.
        if (terminated)
          noteMalformed(lineNo, body.length > maxChars ? `document longer than ${maxChars} characters` : 'result-like text is not a complete JSON document');
        else out.unterminated = { line: lineNo };
        continue;
      }
    }

    // A plain stderr line.
    if (out.skipped === null && body.startsWith('Skipping ')) out.skipped = safeReason(body);
    if (ERROR_WORDS.test(body)) lastError = body;
    if (RATE_LIMIT.test(body)) lastRateLimit = body;
  }
  out.lines = lineNo;
  out.lastError = lastError === null ? null : safeReason(lastError);
  out.lastRateLimit = lastRateLimit === null ? null : safeReason(lastRateLimit);

  if (block !== null && (block.oversize ? block.resultish : resultish(block.parts.join('\n')))) {
    out.unterminated = { line: block.line };
  }
  out.documents = kept.map(({ value, line, chars }) => ({ value, line, chars }));
  return out;
}

function indentOf(s: string): number {
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i += 1;
  return i;
}
