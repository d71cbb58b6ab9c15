// A policy file: one or more YAML documents, each a ScorecardPolicy, validated as a whole (a file
// with one bad document is refused, never half applied).
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { CHECK_NAMES, CHECK_RISK } from './checks.ts';
import { durationMs, type Policy, policyErrorLine, validatePolicyDocument } from './schema.ts';

/** Documents one file may hold (each namespace tier names one; a gate holds every one's verdicts). */
export const MAX_POLICIES = 32;
/** Bytes of a policy file read at all. */
export const MAX_POLICY_FILE_BYTES = 256 * 1024;

export interface PolicySet {
  policies: readonly Policy[];
  /** sha256 of the policies as evaluated (not of the text: comments and key order change nothing). */
  digest: string;
}

export type ParsedPolicies = { ok: true; set: PolicySet } | { ok: false; error: string };

export const EMPTY_POLICY_SET: PolicySet = digestOf([]);

function digestOf(policies: Policy[]): PolicySet {
  return { policies, digest: createHash('sha256').update(JSON.stringify(policies)).digest('hex').slice(0, 32) };
}

function unknownCheck(name: string): string | undefined {
  if (CHECK_RISK[name] !== undefined) return undefined;
  const close = CHECK_NAMES.find((c) => c.toLowerCase() === name.toLowerCase());
  return close ? `did you mean ${close}?` : `Scorecard's checks are ${CHECK_NAMES.join(', ')}`;
}

/** Parses a policy file's text; `error` is one line naming the document (1-based) and the field. */
export function parsePolicies(text: string): ParsedPolicies {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_FILE_BYTES) return { ok: false, error: `longer than ${MAX_POLICY_FILE_BYTES} bytes` };
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { uniqueKeys: true });
  } catch (err) {
    return { ok: false, error: `not YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (!Array.isArray(docs)) return { ok: false, error: 'not YAML' };
  const policies: Policy[] = [];
  const names = new Set<string>();
  let n = 0;
  for (const doc of docs) {
    n++;
    if (doc.errors.length > 0) return { ok: false, error: `document ${n}: not YAML: ${doc.errors[0].message.split('\n')[0]}` };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 0 });
    } catch (err) {
      return { ok: false, error: `document ${n}: ${(err as Error).message.split('\n')[0]}` };
    }
    // An empty document (only comments, or a trailing ---) holds no policy.
    if (value === null || value === undefined) continue;
    if (!validatePolicyDocument(value)) return { ok: false, error: `document ${n}: ${policyErrorLine(validatePolicyDocument.errors?.[0])}` };
    const v = value as {
      metadata: { name: string };
      spec: { repositories?: string[]; minimumScore?: number; weights?: Record<string, number>; checks?: Record<string, { minimum: number }>; maxAge?: string };
    };
    const name = v.metadata.name;
    if (names.has(name)) return { ok: false, error: `document ${n}: a policy named ${name} is already defined in this file` };
    names.add(name);
    for (const check of [...Object.keys(v.spec.checks ?? {}), ...Object.keys(v.spec.weights ?? {})]) {
      const hint = unknownCheck(check);
      if (hint) return { ok: false, error: `document ${n} (${name}): unknown check ${JSON.stringify(check)}: ${hint}` };
    }
    const policy: Policy = {
      name,
      repositories: (v.spec.repositories ?? []).map((g) => g.toLowerCase()),
      ...(v.spec.minimumScore !== undefined ? { minimumScore: v.spec.minimumScore } : {}),
      weights: { ...(v.spec.weights ?? {}) },
      checks: Object.entries(v.spec.checks ?? {}).map(([check, rule]) => ({ check, minimum: rule.minimum })),
      ...(v.spec.maxAge !== undefined ? { maxAge: v.spec.maxAge, maxAgeMs: durationMs(v.spec.maxAge) } : {}),
    };
    policies.push(policy);
    if (policies.length > MAX_POLICIES) return { ok: false, error: `more than ${MAX_POLICIES} policies in one file` };
  }
  return { ok: true, set: digestOf(policies) };
}
