// The ScorecardPolicy document: its JSON Schema (ajv) and the typed form evaluation takes.
import { Ajv, type ErrorObject } from 'ajv';

export const POLICY_API_VERSION = 'posture.dev/v1alpha1';
export const POLICY_KIND = 'ScorecardPolicy';

/** A check name as Scorecard spells them (`Code-Review`). */
const CHECK_NAME = '^[A-Za-z][A-Za-z0-9-]{0,62}$';
/** A policy name: a DNS label, so it can be a namespace label's value. */
export const POLICY_NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
/** `30d`, `12h`, `2w`. */
export const MAX_AGE_PATTERN = '^[1-9][0-9]{0,5}[hdw]$';

export const policySchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: POLICY_API_VERSION },
    kind: { const: POLICY_KIND },
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: POLICY_NAME_PATTERN },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        repositories: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 300 } },
        minimumScore: { type: 'number', minimum: 0, maximum: 10 },
        weights: {
          type: 'object',
          propertyNames: { pattern: CHECK_NAME },
          additionalProperties: { type: 'number', minimum: 0, maximum: 1000 },
        },
        checks: {
          type: 'object',
          maxProperties: 31,
          propertyNames: { pattern: CHECK_NAME },
          additionalProperties: {
            type: 'object',
            required: ['minimum'],
            additionalProperties: false,
            properties: { minimum: { type: 'number', minimum: 0, maximum: 10 } },
          },
        },
        maxAge: { type: 'string', pattern: MAX_AGE_PATTERN },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true });
export const validatePolicyDocument = ajv.compile(policySchema);

/** A policy as evaluation reads it. */
export interface Policy {
  name: string;
  /** Globs over `host/owner/name`, matched regardless of case; empty: every repository. */
  repositories: readonly string[];
  minimumScore?: number;
  /** Per check; a check absent here weighs what Scorecard weighs it. */
  weights: Readonly<Record<string, number>>;
  /** Required checks and their minimum, in the order written. */
  checks: ReadonlyArray<{ check: string; minimum: number }>;
  /** As written (`30d`), and in milliseconds. */
  maxAge?: string;
  maxAgeMs?: number;
}

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

export function durationMs(s: string): number {
  return Number(s.slice(0, -1)) * UNIT_MS[s.slice(-1) as keyof typeof UNIT_MS];
}

/** One short line from an ajv error, naming the document and where in it. */
export function policyErrorLine(e: ErrorObject | undefined): string {
  if (!e) return 'invalid';
  const where = e.instancePath === '' ? '(document)' : e.instancePath;
  if (e.keyword === 'additionalProperties')
    return `${where} has an unknown field ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
  if (e.keyword === 'const') return `${where} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
  if (e.keyword === 'pattern' && where.endsWith('/maxAge')) return `${where} must be a duration such as 30d, 12h or 2w`;
  if (e.keyword === 'pattern' && where.endsWith('/name')) return `${where} must be a DNS label (lower-case letters, digits and -, at most 63)`;
  if (e.keyword === 'propertyNames' || (e.keyword === 'pattern' && e.propertyName !== undefined)) return `${where} has a key that is not a check name`;
  return `${where} ${e.message ?? 'is invalid'}`;
}
