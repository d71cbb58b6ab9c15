// Label and annotation names posture's webhooks act on, and small readers over objects; shared
// by the webhook files, their CEL match conditions and their tests.
import { celString } from '../../lib/admission/index.ts';

/** Marks an object only exempt identities may change or delete. */
export const PROTECTED_LABEL = 'posture.dev/protected';
/** Marks posture's own Jobs: the very label the scheduler sets (one definition, in lib/jobs). */
export { MANAGED_BY as MANAGED_BY_VALUE, MANAGED_BY_LABEL } from '../../lib/jobs/spec.ts';
/** The repository a workload is built from, judged by the Scorecard gate (read in lib/repo/declared.ts, shared with the audit). */
export { annotationsOf, jobTemplateOf, podTemplateOf, SOURCE_REPO_ANNOTATION } from '../../lib/repo/declared.ts';
/** Namespace label overriding the gate's threshold. */
export const MIN_SCORE_LABEL = 'posture.dev/min-score';
/** Namespace label selecting the Scorecard policy the gate judges by (one of POSTURE_GATE_POLICY_TIERS). */
export const POLICY_TIER_LABEL = 'posture.dev/policy';
/** Namespace labels under this prefix are posture policy (only exempt identities set them). */
export const POLICY_LABEL_PREFIX = 'posture.dev/';

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined;

function meta(x: unknown): Meta {
  if (typeof x !== 'object' || x === null) return undefined;
  const m = (x as { metadata?: unknown }).metadata;
  return typeof m === 'object' && m !== null ? (m as Meta) : undefined;
}

export function labelsOf(o: unknown): Record<string, string> {
  const l = meta(o)?.labels;
  return typeof l === 'object' && l !== null ? l : {};
}

/** metadata.generation when it is a whole number (the API server's count of spec changes). */
export function generationOf(o: unknown): number | undefined {
  const g = (meta(o) as { generation?: unknown } | undefined)?.generation;
  return Number.isSafeInteger(g) ? (g as number) : undefined;
}

// ---- CEL (for match conditions; the same checks as the readers above) ------------------------

/** CEL: every step of `root.a.b...` exists (has() errors on a missing parent, so check each). */
export function celHas(root: string, ...steps: string[]): string {
  const out: string[] = [];
  let path = root;
  for (const s of steps) {
    path = `${path}.${s}`;
    out.push(`has(${path})`);
  }
  return out.join(' && ');
}

/** CEL: `<root>.<steps>.metadata.<map>[key]` exists (and equals value when given), safe when any step is missing. */
export function celMetaIs(root: string, steps: readonly string[], map: 'labels' | 'annotations', key: string, value?: string): string {
  const k = celString(key);
  const path = [root, ...steps, 'metadata', map].join('.');
  const has = `${celHas(root, ...steps, 'metadata', map)} && ${k} in ${path}`;
  return value === undefined ? `(${has})` : `(${has} && ${path}[${k}] == ${celString(value)})`;
}

/**
 * Deeper than this, two JSON values count as different. The API server decodes at most 10,000
 * levels, so a review never nests deeper unless someone other than the API server sent it; and
 * "different" is the cautious answer for every caller (an update is judged, a change is seen).
 */
export const MAX_JSON_DEPTH = 10_000;

/**
 * Deep equality of two JSON values (key order ignored): what an UPDATE changed. Iterative, with
 * its own stack of pairs, so the nesting a review may carry never reaches the call stack's limit
 * (a recursive walk threw at about 5,000 levels, which the API server accepts).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const left: unknown[] = [a];
  const right: unknown[] = [b];
  const depths: number[] = [0];
  while (left.length > 0) {
    const x = left.pop();
    const y = right.pop();
    const depth = depths.pop() as number;
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (depth >= MAX_JSON_DEPTH) return false;
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) {
        if (x[i] === y[i]) continue;
        left.push(x[i]);
        right.push(y[i]);
        depths.push(depth + 1);
      }
      continue;
    }
    if (Array.isArray(y)) return false;
    const kx = Object.keys(x);
    if (kx.length !== Object.keys(y).length) return false;
    for (const k of kx) {
      if (!Object.hasOwn(y, k)) return false;
      const vx = (x as Record<string, unknown>)[k];
      const vy = (y as Record<string, unknown>)[k];
      if (vx === vy) continue;
      left.push(vx);
      right.push(vy);
      depths.push(depth + 1);
    }
  }
  return true;
}

/** Set by the API server once a delete has begun (the object stays until its finalizers are gone). */
export function isTerminating(o: unknown): boolean {
  const m = meta(o) as { deletionTimestamp?: unknown } | undefined;
  return typeof m?.deletionTimestamp === 'string' && m.deletionTimestamp !== '';
}

/**
 * Metadata the API server maintains itself: changed on every write (resourceVersion, managedFields),
 * by spec changes (generation), or only by a delete (deletionTimestamp and its grace period: an
 * update may not change them, and the pod status strategy clears deletionTimestamp in the object
 * it hands to admission). Never a user's change.
 */
const VOLATILE_METADATA = new Set(['resourceVersion', 'managedFields', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds']);

/** The object without the metadata fields in `drop` nor the volatile ones, for comparisons. */
function withoutMetadata(o: unknown, drop: readonly string[]): unknown {
  if (typeof o !== 'object' || o === null) return o;
  const m = (o as { metadata?: unknown }).metadata;
  if (typeof m !== 'object' || m === null) return o;
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (!VOLATILE_METADATA.has(k) && !drop.includes(k)) kept[k] = v;
  return { ...(o as object), metadata: kept };
}

/** Whether an update changed the object's metadata (beyond what the API server maintains). */
export function metadataChanged(before: unknown, after: unknown): boolean {
  return !sameJson((withoutMetadata(before, []) as { metadata?: unknown }).metadata, (withoutMetadata(after, []) as { metadata?: unknown }).metadata);
}

/** An update that only removes finalizers (some or all), nothing else. */
export function onlyRemovesFinalizers(before: unknown, after: unknown): boolean {
  const f = (o: unknown): unknown[] => {
    const v = (meta(o) as { finalizers?: unknown } | undefined)?.finalizers;
    return Array.isArray(v) ? v : [];
  };
  const was = f(before);
  const now = f(after);
  if (now.length >= was.length) return false;
  const left = [...was];
  for (const x of now) {
    const i = left.indexOf(x);
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return sameJson(withoutMetadata(before, ['finalizers']), withoutMetadata(after, ['finalizers']));
}

/** CEL: the labels of `root` (object or oldObject) as a map, empty when the object or its labels are absent. */
export function celLabels(root: 'object' | 'oldObject'): string {
  return `(${root} == null ? {} : ${root}.metadata.?labels.orValue({}))`;
}

/**
 * RE2 (CEL's `matches`, Go's regexp) and JavaScript agree on plain patterns; lookaround and
 * back-references are JavaScript's alone.
 */
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]|\\k</;

/** Why a JavaScript pattern cannot become a CEL `matches`, or undefined when it can. */
export function notRe2(pattern: string): string | undefined {
  return NOT_RE2.test(pattern) ? `the pattern ${JSON.stringify(pattern)} uses lookaround or a back-reference, which RE2 (CEL) lacks` : undefined;
}

/**
 * CEL for a message built by a TypeScript message function, so both engines say the same words:
 * call the function with hole markers (`\u0000name\u0000`) and map each marker to a CEL string expression.
 */
export function celMessage(text: string, holes: Readonly<Record<string, string>>): string {
  const parts = text.split(/\u0000([a-z]+)\u0000/);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      if (parts[i] !== '') out.push(celString(parts[i]));
    } else {
      const expr = holes[parts[i]];
      if (expr === undefined) throw new Error(`celMessage: no expression for the hole ${parts[i]}`);
      out.push(`(${expr})`);
    }
  }
  return out.length === 0 ? "''" : out.join(' + ');
}

/** A hole for celMessage. */
export function hole(name: string): string {
  return `\u0000${name}\u0000`;
}
