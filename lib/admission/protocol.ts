// Reading and writing AdmissionReview envelopes. A body without a usable uid is not a review (the
// caller answers 400); a review with a uid but other broken fields is still answered with HTTP 200
// and that uid, so the webhook's failurePolicy, not an HTTP error, decides what happens.
import {
  type AdmissionRequest,
  type AdmissionResponse,
  type GroupVersionKind,
  type GroupVersionResource,
  type KubeObject,
  OPERATIONS,
  type Operation,
  REVIEW_VERSIONS,
  type ReviewApiVersion,
} from './types.ts';

export type ParsedReview =
  | { kind: 'ok'; apiVersion: ReviewApiVersion; request: AdmissionRequest }
  /** Has a uid, so it gets a 200 answer, but `problem` keeps the webhook from judging it. */
  | { kind: 'malformed'; apiVersion: ReviewApiVersion; uid: string; problem: string }
  | { kind: 'not-a-review'; problem: string };

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function gvk(x: unknown): GroupVersionKind | undefined {
  if (!isObject(x) || typeof x.group !== 'string' || typeof x.version !== 'string' || typeof x.kind !== 'string') return undefined;
  return { group: x.group, version: x.version, kind: x.kind };
}

function gvr(x: unknown): GroupVersionResource | undefined {
  if (!isObject(x) || typeof x.group !== 'string' || typeof x.version !== 'string' || typeof x.resource !== 'string') return undefined;
  return { group: x.group, version: x.version, resource: x.resource };
}

/** An object's metadata is absent, null or an object. */
function metadataIsObject(o: Record<string, unknown> | null): boolean {
  return o === null || o.metadata === undefined || o.metadata === null || isObject(o.metadata);
}

/**
 * A field's value for a message: a string or number as JSON (cut to 100 characters), anything else
 * by its type. Never JSON.stringify of what the sender chose: an array nested 20,000 deep
 * overflowed its stack, and the request path must never throw.
 */
export function shown(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 100 ? `${x.slice(0, 100)}…` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) return String(x);
  return Array.isArray(x) ? 'an array' : `a ${typeof x}`;
}

function optionalString(x: unknown): string | undefined | false {
  if (x === undefined || x === null) return undefined;
  return typeof x === 'string' ? x : false;
}

/** Checks an AdmissionReview's shape and returns its request in the typed form webhooks see. */
export function parseReview(body: unknown): ParsedReview {
  if (!isObject(body)) return { kind: 'not-a-review', problem: 'the body is not a JSON object' };
  if (body.kind !== 'AdmissionReview') return { kind: 'not-a-review', problem: `kind is ${shown(body.kind)}, expected "AdmissionReview"` };
  const apiVersion = body.apiVersion as ReviewApiVersion;
  if (apiVersion !== 'admission.k8s.io/v1' && apiVersion !== 'admission.k8s.io/v1beta1') {
    return { kind: 'not-a-review', problem: `apiVersion ${shown(body.apiVersion)} is not supported (${REVIEW_VERSIONS.join(', ')})` };
  }
  const r = body.request;
  if (!isObject(r)) return { kind: 'not-a-review', problem: 'the AdmissionReview has no request' };
  if (typeof r.uid !== 'string' || r.uid === '') return { kind: 'not-a-review', problem: 'request.uid is missing' };
  const uid = r.uid;
  const bad = (problem: string): ParsedReview => ({ kind: 'malformed', apiVersion, uid, problem });

  const kind = gvk(r.kind);
  if (!kind) return bad('request.kind must have string group, version and kind');
  const resource = gvr(r.resource);
  if (!resource) return bad('request.resource must have string group, version and resource');
  if (r.operation !== 'CREATE' && r.operation !== 'UPDATE' && r.operation !== 'DELETE' && r.operation !== 'CONNECT')
    return bad(`request.operation ${shown(r.operation)} is not one of ${OPERATIONS.join(', ')}`);
  const operation = r.operation as Operation;
  const u = r.userInfo;
  if (!isObject(u) || typeof u.username !== 'string') return bad('request.userInfo.username is missing');
  let groups: string[] = [];
  if (u.groups !== undefined && u.groups !== null) {
    if (!Array.isArray(u.groups)) return bad('request.userInfo.groups must be a list of strings');
    for (let i = 0; i < u.groups.length; i++) if (typeof u.groups[i] !== 'string') return bad('request.userInfo.groups must be a list of strings');
    groups = u.groups as string[];
  }
  const object = r.object ?? null;
  const oldObject = r.oldObject ?? null;
  if (object !== null && !isObject(object)) return bad('request.object must be an object or null');
  if (oldObject !== null && !isObject(oldObject)) return bad('request.oldObject must be an object or null');
  if ((operation === 'CREATE' || operation === 'UPDATE') && object === null) return bad(`request.object is required for ${operation}`);
  if (operation === 'UPDATE' && oldObject === null) return bad('request.oldObject is required for UPDATE');
  if (!metadataIsObject(object) || !metadataIsObject(oldObject)) return bad('object metadata must be an object');
  const name = optionalString(r.name);
  const namespace = optionalString(r.namespace);
  const subResource = optionalString(r.subResource);
  if (name === false || namespace === false || subResource === false) return bad('request.name, namespace and subResource must be strings');
  if (r.dryRun !== undefined && r.dryRun !== null && typeof r.dryRun !== 'boolean') return bad('request.dryRun must be a boolean');

  const request: AdmissionRequest = {
    uid,
    kind,
    resource,
    operation,
    userInfo: {
      username: u.username,
      groups,
      uid: typeof u.uid === 'string' ? u.uid : undefined,
      extra: isObject(u.extra) ? (u.extra as Record<string, string[]>) : undefined,
    },
    object: object as KubeObject | null,
    oldObject: oldObject as KubeObject | null,
    dryRun: r.dryRun === true,
    options: r.options ?? undefined,
  };
  if (name) request.name = name;
  if (namespace) request.namespace = namespace;
  if (subResource) request.subResource = subResource;
  const requestKind = gvk(r.requestKind);
  const requestResource = gvr(r.requestResource);
  const requestSubResource = optionalString(r.requestSubResource);
  if (requestKind) request.requestKind = requestKind;
  if (requestResource) request.requestResource = requestResource;
  if (requestSubResource) request.requestSubResource = requestSubResource;
  return { kind: 'ok', apiVersion, request };
}

/** Kubernetes truncates warnings past 256 characters and drops them past 4096 in all. */
export const WARNING_MAX_CHARS = 256;
export const WARNINGS_MAX_TOTAL = 4096;

/**
 * Warnings as Kubernetes will accept them: control characters (they become HTTP header values)
 * replaced, each at most 256 characters, at most 4096 in all (later ones dropped whole).
 */
export function capWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  let total = 0;
  for (const raw of warnings) {
    if (typeof raw !== 'string') continue;
    let w = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    if (w === '') continue;
    if (w.length > WARNING_MAX_CHARS) {
      w = w.slice(0, WARNING_MAX_CHARS - 1);
      if (/[\ud800-\udbff]$/.test(w)) w = w.slice(0, -1); // never split a surrogate pair
      w += '…';
    }
    if (total + w.length > WARNINGS_MAX_TOTAL) break;
    total += w.length;
    out.push(w);
  }
  return out;
}

/** The response body, in the version the request came in. */
export function reviewBody(apiVersion: ReviewApiVersion, response: AdmissionResponse): string {
  return JSON.stringify({ apiVersion, kind: 'AdmissionReview', response });
}

const UID_IN_HEAD = /"uid"\s*:\s*"((?:[^"\\]|\\.){1,256})"/;
const VERSION_IN_HEAD = /"apiVersion"\s*:\s*"(admission\.k8s\.io\/v1(?:beta1)?)"/;

/**
 * For a body too large to read: the uid and version from its first bytes. The API server writes
 * apiVersion, kind, then request.uid first, so a too-large review can still get a 200 answer.
 */
export function peekReview(head: string): { apiVersion: ReviewApiVersion; uid: string } | undefined {
  const requestAt = head.indexOf('"request"');
  if (requestAt < 0) return undefined;
  const uid = UID_IN_HEAD.exec(head.slice(requestAt));
  const version = VERSION_IN_HEAD.exec(head);
  if (!uid || !version) return undefined;
  try {
    return { apiVersion: version[1] as ReviewApiVersion, uid: JSON.parse(`"${uid[1]}"`) as string };
  } catch {
    return undefined;
  }
}
