// What a file handed to `posture results import` holds, pure: Scorecard's own JSON result (the
// CLI's `--format json`, one line or pretty-printed, as scorecard-action writes it with
// `results_format: json`), NDJSON (one result a line, what `--repos` and `--org` print), or
// something else, refused with one line that says what it is.

import { type NormalizedResult, normalizeResult } from './classify.ts';
import { looksLikeResult } from './extract.ts';
import { validateResult } from './schema.ts';
import { safeReason } from './text.ts';

/** A pretty-printed document longer than this is refused (an NDJSON file has no such limit: it is read a line at a time). */
export const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

export type LineVerdict =
  | { kind: 'result'; result: NormalizedResult }
  /** Result-shaped, but not a valid Scorecard result. */
  | { kind: 'invalid'; reason: string }
  /** Not a Scorecard result at all (not JSON, or JSON of another kind). */
  | { kind: 'other'; reason: string };

/** How a file is read: a whole (pretty-printed) document, or a result a line. */
export function layoutOf(firstLine: string): 'document' | 'lines' {
  const t = firstLine.replace(/^\uFEFF/, '').trim();
  return t === '{' || t === '[' ? 'document' : 'lines';
}

/** What a parsed value is: a Scorecard result, one that does not validate, or another kind of JSON (said in a few words). */
export function verdictOf(value: unknown): LineVerdict {
  // Scorecard's other formats share date, repo and scorecard with a result, but hold no scores.
  const otherFormat = typeof value === 'object' && value !== null && !Array.isArray((value as Record<string, unknown>).checks);
  if (!looksLikeResult(value) || (otherFormat && describeOther(value).startsWith("Scorecard's"))) return { kind: 'other', reason: describeOther(value) };
  const checked = validateResult(value);
  if (!checked.ok) return { kind: 'invalid', reason: `an invalid Scorecard result: ${checked.error}` };
  try {
    return { kind: 'result', result: normalizeResult(checked.value) };
  } catch (err) {
    return { kind: 'invalid', reason: `an invalid Scorecard result: ${safeReason((err as Error).message, 200)}` };
  }
}

/** One line of an NDJSON file (or a one-line document). */
export function verdictOfLine(text: string): LineVerdict {
  const t = text.replace(/^\uFEFF/, '').trim();
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return { kind: 'other', reason: t.startsWith('<') ? 'XML or HTML, not JSON' : 'not JSON' };
  }
  return verdictOf(value);
}

/** A whole document: one result, or a JSON array of results. */
export function verdictsOfDocument(text: string): LineVerdict[] {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return [{ kind: 'other', reason: `not JSON (${safeReason((err as Error).message, 120)})` }];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return [{ kind: 'other', reason: 'an empty JSON array' }];
    if (!looksLikeResult(value[0])) return [{ kind: 'other', reason: `a JSON array of ${describeOther(value[0])}` }];
    return value.map(verdictOf);
  }
  return [verdictOf(value)];
}

function describeOther(value: unknown): string {
  if (value === null || typeof value !== 'object') return `JSON, but a ${value === null ? 'null' : typeof value} and not a Scorecard result`;
  const v = value as Record<string, unknown>;
  if ((typeof v.$schema === 'string' && /sarif/i.test(v.$schema)) || (Array.isArray(v.runs) && typeof v.version === 'string'))
    return "a SARIF file (scorecard-action's default results_format), which holds no aggregate score: run the action with results_format: json, or the CLI with --format=json";
  if (Array.isArray(v.findings)) return "Scorecard's --format=probe output, which holds no scores: use --format=json";
  if (typeof v.results === 'object' && v.results !== null && !Array.isArray(v.checks))
    return "Scorecard's --format=raw output, which holds no scores: use --format=json";
  const keys = Object.keys(v).slice(0, 5);
  return `JSON without a Scorecard result's date, repo, scorecard, score and checks${keys.length ? ` (its keys: ${keys.map((k) => safeReason(k, 30)).join(', ')})` : ''}`;
}

/**
 * The key that makes an import idempotent: the same result (repository, date, commit, Scorecard
 * version and commit, score, each check's score) is the same key, whichever file or layout it came in.
 */
export function importKeyParts(repoKey: string, r: NormalizedResult): string {
  const checks = r.checks.map((c) => `${c.name}=${c.score}`).sort();
  return JSON.stringify([repoKey, r.date, r.commit, r.scorecardVersion, r.scorecardCommit, r.score, checks]);
}
