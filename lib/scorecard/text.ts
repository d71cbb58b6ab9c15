// Small text helpers shared by extraction and classification: anything that ends up in a
// stored failure reason or a log line passes through safeReason first.

/** ANSI escape sequences: CSI (colours, cursor moves), OSC (titles, links) and lone two-byte escapes. */
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

export function stripAnsi(s: string): string {
  return s.includes('\u001b') ? s.replace(ANSI, '') : s;
}

// C0/C1 controls, DEL, line/paragraph separators, bidi overrides and isolates, BOM/zero-width
// joiners: none of them belongs in a one-line reason, and several can disguise what a log shows.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]+/g;

export const REASON_MAX_CHARS = 300;

/**
 * A string that is safe to store and log as one short line: no ANSI, no control characters,
 * whitespace collapsed, at most `max` characters (an ellipsis marks the cut; a surrogate pair
 * is never split).
 */
export function safeReason(s: string, max: number = REASON_MAX_CHARS): string {
  // Cut early so a hostile multi-megabyte line costs no more than a short one.
  let t = s.length > max * 4 + 64 ? s.slice(0, max * 4 + 64) : s;
  t = stripAnsi(t).replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
  if (t.length <= max) return t;
  let cut = max - 1;
  const code = t.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${t.slice(0, cut)}…`;
}
