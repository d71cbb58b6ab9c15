// Our own JSON schema for a Scorecard result (CLI `--format=json`, v4 and v5, and the public REST
// API's ScorecardResult). The schema shipped in the Scorecard repository rejects real output
// (`details` and `metadata` are null in practice), so this one is written from the fixtures and
// the Go sources: see ../shared/fixtures/scorecard/README.md and notes/scorecard.md §2.
//
// Unknown keys are allowed so that a new Scorecard minor version does not turn every run into a
// failure; what keeps that safe is checkStructure, run first, which bounds depth and size and
// refuses keys that pollute prototypes when a consumer later merges the stored document.
import { Ajv, type ErrorObject } from 'ajv';
import { safeReason } from './text.ts';

export interface ScorecardCheckDocument {
  name: string;
  score: number;
  reason: string;
  details?: string[] | null;
  documentation?: { url: string; short: string } | null;
  annotations?: string[];
}

export interface ScorecardResultDocument {
  date: string;
  repo: { name: string; commit: string };
  scorecard: { version: string; commit: string };
  score: number;
  checks: ScorecardCheckDocument[];
  metadata?: string[] | string | null;
}

export const LIMITS = {
  /** Containers nested inside each other; a real result needs 4. */
  maxDepth: 16,
  /** Values of any kind in one document; a real result with details has a few thousand. */
  maxNodes: 1_000_000,
  maxChecks: 64,
  maxDetails: 100_000,
  maxStringChars: 65_536,
} as const;

export interface StructureLimits {
  maxDepth: number;
  maxNodes: number;
  maxStringChars: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// Identity fields end up in keys, labels and log lines: no control characters. (Free-text
// fields are bounded by checkStructure's string limit.)
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]+$';

// Union types instead of anyOf: ajv then reports the real problem ("must have required property
// 'url'") rather than the first alternative's ("must be null").
const stringList = (maxItems: number, orNull = false) => ({
  type: orNull ? ['array', 'null'] : 'array',
  maxItems,
  items: { type: 'string' },
});

export const scorecardResultSchema = {
  $id: 'https://posture.dev/schemas/scorecard-result.json',
  title: 'OpenSSF Scorecard result (v4, v5, REST API)',
  type: 'object',
  required: ['date', 'repo', 'scorecard', 'score', 'checks'],
  properties: {
    date: { type: 'string', maxLength: 64, format: 'scorecard-date' },
    repo: {
      type: 'object',
      required: ['name', 'commit'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 512, pattern: PRINTABLE },
        // A SHA, or "unknown" (--local) or "no commits found" (empty repository).
        commit: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE },
      },
    },
    scorecard: {
      type: 'object',
      required: ['version', 'commit'],
      properties: {
        version: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE },
        commit: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE },
      },
    },
    // Printed with "%.1f"; -1.0 when no check scored. -1 < x < 0 is refused in validateResult.
    score: { type: 'number', minimum: -1, maximum: 10, multipleOf: 0.1 },
    checks: {
      type: 'array',
      minItems: 1,
      maxItems: LIMITS.maxChecks,
      items: {
        type: 'object',
        required: ['name', 'score', 'reason'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
          score: { type: 'integer', minimum: -1, maximum: 10 },
          reason: { type: 'string' },
          details: stringList(LIMITS.maxDetails, true),
          documentation: {
            type: ['object', 'null'],
            required: ['url', 'short'],
            properties: {
              // Rendered as a link by readers of the API: http(s) only, never javascript: and friends.
              url: { type: 'string', maxLength: 2048, pattern: '^https?://[^\\s\\u0000-\\u001f\\u007f]+$' },
              short: { type: 'string' },
            },
          },
          annotations: stringList(10_000),
        },
      },
    },
    metadata: { type: ['array', 'string', 'null'], maxItems: 1000, items: { type: 'string' } },
  },
} as const;

const DAY = /^(\d{4})-(\d\d)-(\d\d)$/;
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?(?:Z|([+-])(\d\d):(\d\d))$/i;

/**
 * The instant a Scorecard `date` names, as an ISO string: `YYYY-MM-DD` (before v4.10.3, read as
 * midnight UTC) or RFC3339. Null for anything else, including impossible days such as Feb 30
 * (Date.parse would silently roll those over into March).
 */
export function parseScorecardDate(s: string): string | null {
  const m = DAY.exec(s) ?? RFC3339.exec(s);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (m.length === 4) return `${m[1]}-${m[2]}-${m[3]}T00:00:00.000Z`;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return null;
  if (m[7] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return null;
  const t = Date.parse(s.toUpperCase());
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// allErrors off: the first problem is enough to refuse a document and keeps hostile input from
// producing a million error objects. multipleOfPrecision makes 5.1 a multiple of 0.1 in floats.
const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, multipleOfPrecision: 9, verbose: true });
ajv.addFormat('scorecard-date', { type: 'string', validate: (s: string) => parseScorecardDate(s) !== null });
const validateSchema = ajv.compile(scorecardResultSchema);

/**
 * Bounds a parsed document before anything recursive touches it: depth (JSON.parse accepts a
 * million nested arrays, JSON.stringify then overflows the stack), node count, string length
 * (in UTF-16 units; here rather than in the schema, where ajv would count code points of every
 * string, which was most of the validation time), and keys that pollute prototypes — in known
 * and unknown keys alike. Iterative, O(nodes). Returns a short problem or null.
 */
export function checkStructure(value: unknown, limits: StructureLimits = LIMITS): string | null {
  // The fast walk keeps no paths; only a document that fails is walked again to say where.
  return walkStructure(value, limits, false) === null ? null : walkStructure(value, limits, true);
}

function walkStructure(value: unknown, limits: StructureLimits, withPaths: boolean): string | null {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  const paths: string[] = [''];
  let nodes = 0;
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    const path = withPaths ? paths.pop()! : '';
    nodes += 1;
    if (nodes > limits.maxNodes) return `more than ${limits.maxNodes} values`;
    if (typeof v === 'string' && v.length > limits.maxStringChars) return `${path || '(root)'} is longer than ${limits.maxStringChars} characters`;
    if (v === null || typeof v !== 'object') continue;
    if (depth > limits.maxDepth) return `${path || '(root)'} nested deeper than ${limits.maxDepth} levels`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i -= 1) {
        const item: unknown = v[i];
        // Strings, numbers and the like need no visit of their own beyond the count.
        if (item === null || typeof item !== 'object') {
          nodes += 1;
          if (nodes > limits.maxNodes) return `more than ${limits.maxNodes} values`;
          if (typeof item === 'string' && item.length > limits.maxStringChars)
            return `${withPaths ? `${path}/${i}` : ''} is longer than ${limits.maxStringChars} characters`;
          continue;
        }
        values.push(item);
        depths.push(depth + 1);
        if (withPaths) paths.push(`${path}/${i}`);
      }
    } else {
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        if (FORBIDDEN_KEYS.has(k)) return `${path || '(root)'} has forbidden key ${JSON.stringify(k)}`;
        values.push((v as Record<string, unknown>)[k]);
        depths.push(depth + 1);
        if (withPaths) paths.push(`${path}/${k}`);
      }
    }
  }
  return null;
}

export type ValidationResult = { ok: true; value: ScorecardResultDocument } | { ok: false; error: string };

/** Validates a parsed result: structure bounds, the schema, then the rules a schema cannot say. */
export function validateResult(value: unknown): ValidationResult {
  const structural = checkStructure(value);
  if (structural !== null) return { ok: false, error: safeReason(structural, 200) };
  if (!validateSchema(value)) return { ok: false, error: summarizeError(validateSchema.errors?.[0]) };
  const doc = value as unknown as ScorecardResultDocument;
  if (doc.score < 0 && doc.score !== -1) return { ok: false, error: `/score must be -1 or between 0 and 10 (got ${doc.score})` };
  const seen = new Set<string>();
  for (const c of doc.checks) {
    if (seen.has(c.name)) return { ok: false, error: safeReason(`/checks has the check ${c.name} twice`, 200) };
    seen.add(c.name);
  }
  return { ok: true, value: doc };
}

/** One short line from an ajv error, e.g. `/checks/3/score must be <= 10 (got 11)`. */
export function summarizeError(e: ErrorObject | undefined): string {
  if (!e) return 'invalid';
  const where = e.instancePath === '' ? '(root)' : e.instancePath;
  let what = e.message ?? 'is invalid';
  if (e.keyword === 'format') what = 'must be a date (YYYY-MM-DD) or an RFC3339 timestamp';
  const data: unknown = e.data;
  let got = '';
  if (e.keyword !== 'required' && (data === null || typeof data === 'number' || typeof data === 'boolean')) got = ` (got ${String(data)})`;
  else if (e.keyword !== 'required' && typeof data === 'string') got = ` (got ${JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}…` : data)})`;
  else if (Array.isArray(data)) got = ` (got an array of ${data.length})`;
  else if (typeof data === 'object' && data !== null && e.keyword === 'type') got = ' (got an object)';
  return safeReason(`${where} ${what}${got}`, 200);
}
