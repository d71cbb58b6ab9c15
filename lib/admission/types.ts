// The AdmissionReview protocol (admission.k8s.io v1 and v1beta1, which share one shape) and the
// declaration every webhook file makes. Only the fields posture reads or writes are typed; the
// rest of an object passes through as unknown JSON.
import type { Config } from '../config/index.ts';

export const REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewApiVersion = (typeof REVIEW_VERSIONS)[number];

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
export const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** A Kubernetes object as JSON: only metadata is typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/**
 * The `request` of an AdmissionReview after the framework checked its shape. Its objects are plain
 * JSON data parsed in a V8 context of their own (lib/admission/json-realm.ts): test them
 * with typeof and Array.isArray, never `instanceof Object`, and compare them by value
 * (node:assert's deepStrictEqual also compares prototypes, which differ).
 */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  /** null on DELETE (and CONNECT). */
  object: KubeObject | null;
  /** null on CREATE and CONNECT. */
  oldObject: KubeObject | null;
  dryRun: boolean;
  options?: unknown;
}

export interface StatusResult {
  code: number;
  message?: string;
  reason?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: StatusResult;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: ReviewApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/**
 * What `authorize` returns. `error` (Undecided sets it) marks a verdict the webhook could not
 * reach (a dependency was missing, the request was malformed): the framework then decides by the
 * webhook's failurePolicy, exactly as for an exception.
 */
export interface Verdict {
  allowed: boolean;
  code?: number;
  reason?: string;
  message?: string;
  warnings?: readonly string[];
  auditAnnotations?: Readonly<Record<string, string>>;
  error?: boolean;
}

// ---- Webhook declaration -------------------------------------------------------------------

export interface RuleWithOperations {
  operations: readonly Operation[] | readonly ['*'];
  apiGroups: readonly string[];
  apiVersions: readonly string[];
  resources: readonly string[];
  scope?: 'Cluster' | 'Namespaced' | '*';
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: readonly string[];
}

export interface LabelSelector {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

export interface MatchCondition {
  /** Unique within the webhook, a qualified name (letters, digits, -, _, .). */
  name: string;
  /** CEL over object, oldObject, request, authorizer; true means "send the request". */
  expression: string;
}

export type Enforcement = 'deny' | 'warn' | 'dry-run';
export const ENFORCEMENTS: readonly Enforcement[] = ['deny', 'warn', 'dry-run'];

/** Names of settings (lib/config/spec.ts) whose value is a list of identities or one name. */
export type IdentitySetting = 'adminGroups' | 'adminUsers' | 'schedulerServiceAccount';

/**
 * An identity a webhook never judges. Declared as data so the framework can apply it before
 * `authorize`, push it to the API server as a match condition (exempt callers never wait on the
 * webhook, even when it is down) and lint the doc against it.
 */
export type Exemption =
  | { user: string }
  | { group: string }
  | { usersFrom: 'adminUsers' }
  | { groupsFrom: 'adminGroups' }
  /** The named ServiceAccount in posture's own namespace (`namespace` setting). */
  | { serviceAccountFrom: 'schedulerServiceAccount' };

/** The safety exclusions every webhook gets unless it opts out (with a reason in its doc). */
export type DefaultExclusion = 'own-namespace' | 'kube-system' | 'kube-node-lease' | 'leases';
export const DEFAULT_EXCLUSIONS: readonly DefaultExclusion[] = ['own-namespace', 'kube-system', 'kube-node-lease', 'leases'];

/**
 * The webhook's documentation. Structured so `posture webhooks docs` can render it and the doc
 * lint can check it against the declaration (see lib/admission/docs.ts for the rules).
 */
export interface WebhookDoc {
  /** One sentence: what the webhook enforces. */
  summary: string;
  /** What it protects; must name every resource in `rules` and the label in `objectSelector`. */
  protects: string;
  /** Who is exempt; must name every exemption (literal identity or setting name). */
  exempt: string;
  /** Why this failurePolicy (what happens to the cluster when the webhook is down). */
  failurePolicy: string;
  /** Why this timeout. */
  timeout: string;
  /** The messages users see on denial, with <placeholders> for the variable parts. */
  denials: readonly string[];
  /** For each default exclusion the webhook opts out of: why. */
  optOuts?: Partial<Record<DefaultExclusion, string>>;
  /** Settings (lib/config/spec.ts keys) that change its behaviour. */
  settings?: readonly string[];
}

/**
 * A namespace label the API server reads for the webhook: the framework generates one webhook
 * entry per allowed value (selected by namespaceSelector, so the label reaches the webhook by its
 * path, with no watch and no race), one for "label absent" and one for "any other value".
 */
export interface NamespaceLabelTiers {
  key: string;
  values: readonly string[];
  /**
   * A list setting (lib/config/spec.ts key) whose values are the tiers instead, read when the
   * webhook is compiled (so its configuration is regenerated when the setting changes); `values`
   * is then empty.
   */
  valuesFrom?: string;
}

/** What the namespace label tier of this request was (see NamespaceLabelTiers). */
export type NamespaceLabel = { state: 'absent' } | { state: 'value'; value: string } | { state: 'invalid' };

export interface AuthorizeContext<S, P> {
  /** The webhook's settings, derived once from the configuration by `prepare`. */
  settings: P;
  /** Long-lived services (score cache...), the same for every request. */
  services: S;
  /** Present for webhooks that declare `namespaceLabel`. */
  namespaceLabel?: NamespaceLabel;
  /** Milliseconds since the epoch, so time-dependent decisions stay testable. */
  now: number;
}

export interface WebhookDeclaration<S = unknown, P = unknown> {
  /** DNS label, unique; the generated webhook is named `<name>.posture.dev`. */
  name: string;
  /** HTTP path, unique, e.g. `/protected-namespaces`. */
  path: string;
  rules: readonly RuleWithOperations[];
  failurePolicy: 'Fail' | 'Ignore';
  /** Default Equivalent: also called for the same resource reached through another version. */
  matchPolicy?: 'Exact' | 'Equivalent';
  /** Default None: posture's webhooks only judge. */
  sideEffects?: 'None' | 'NoneOnDryRun';
  timeoutSeconds: number;
  /** Added to (ANDed with) the default exclusions. */
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  /** Added to the default ones (lease exclusion, exemptions); at most 64 in all. */
  matchConditions?: readonly MatchCondition[];
  enforcement: Enforcement;
  exempt?: readonly Exemption[];
  /** Default exclusions this webhook gives up; each needs a reason in doc.optOuts. */
  optOut?: readonly DefaultExclusion[];
  namespaceLabel?: NamespaceLabelTiers;
  doc: WebhookDoc;
  /** Derives the webhook's settings from the configuration once (compiled patterns...). */
  prepare?: (config: Config) => P;
  /**
   * The same decision in CEL, for webhooks that decide from the request alone: the framework
   * generates a ValidatingAdmissionPolicy from it (settings inlined). Returns `{ unsupported }`
   * when a configuration cannot be said in CEL (the webhook then stays the only engine).
   */
  cel?: (settings: P, config: Config) => CelForm | { unsupported: string };
  /** The decision: pure, synchronous, no I/O. Exempt callers never reach it. */
  authorize(request: AdmissionRequest, context: AuthorizeContext<S, P>): Verdict;
}

// ---- CEL form (ValidatingAdmissionPolicy) --------------------------------------------------

export interface CelVariable {
  name: string;
  expression: string;
}

export interface CelValidation {
  /** True when the request passes. */
  expression: string;
  /** The denial message, computed (the same words authorize uses). */
  messageExpression: string;
}

/** What a webhook's CEL form says: variables and validations over object, oldObject, request. */
export interface CelForm {
  variables?: readonly CelVariable[];
  validations: readonly CelValidation[];
  /**
   * Requests CEL cannot judge the way authorize does (a CEL expression true for them, and why):
   * the policy skips them and a webhook entry at the declared failurePolicy keeps them.
   */
  beyondCel?: { expression: string; why: string };
}
