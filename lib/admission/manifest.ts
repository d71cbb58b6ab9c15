// Generates one ValidatingWebhookConfiguration per webhook from the registry (each with its own
// failurePolicy, timeout and blast radius): nobody writes this YAML by hand.
import { stringify } from 'yaml';
import type { AnyWebhook } from './define.ts';
import type { Registry } from './registry.ts';
import type { CelForm, Enforcement, LabelSelector, MatchCondition } from './types.ts';

/**
 * Which engine enforces the webhooks that have a CEL form: `webhook` (the admission server only),
 * `policy` (a ValidatingAdmissionPolicy, evaluated inside the API server; the webhook only for what
 * CEL cannot judge) or `both` (the policy enforces; the webhook is a fallback under Ignore).
 * Webhooks without a CEL form (the Scorecard gate reads the database) are webhooks under every engine.
 */
export type Engine = 'webhook' | 'policy' | 'both';
export const ENGINES: readonly Engine[] = ['webhook', 'policy', 'both'];
/** What knative/base ships. */
export const DEFAULT_ENGINE: Engine = 'both';

/** A policy's validationActions for an enforcement mode (the mapping Gatekeeper uses too). */
export const VALIDATION_ACTIONS: Readonly<Record<Enforcement, readonly string[]>> = { deny: ['Deny'], warn: ['Warn'], 'dry-run': ['Audit'] };

/** The CEL form a webhook has under this configuration, if any. */
export function celFormOf(w: AnyWebhook): CelForm | undefined {
  return w.cel && !('unsupported' in w.cel) ? w.cel : undefined;
}

export const BEYOND_CEL_PREFIX = 'beyond-cel';
const WITHIN_CEL: MatchCondition['name'] = 'posture-within-cel';
const BEYOND_CEL: MatchCondition['name'] = 'posture-beyond-cel';

export interface ClientOptions {
  /** In-cluster Service of the admission server (default posture-admission in posture's namespace, port 443). */
  service?: { namespace: string; name: string; port?: number };
  /** Or a URL (https, no query or fragment): the webhook path is appended. */
  url?: string;
  /** PEM of the CA that signed the serving certificate, put into caBundle. */
  caBundlePem?: string;
  /** `<namespace>/<certificate>`: cert-manager's CA injector fills caBundle. */
  certManager?: string;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ManifestError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'https:') throw new ManifestError(`--url must be https:// (the API server only calls webhooks over TLS), got ${u.protocol}`);
  if (u.username || u.password || u.search || u.hash) throw new ManifestError('--url may not carry user info, a query or a fragment');
  return url.replace(/\/+$/, '');
}

function selector(s: LabelSelector): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.matchLabels && Object.keys(s.matchLabels).length > 0) out.matchLabels = { ...s.matchLabels };
  if (s.matchExpressions && s.matchExpressions.length > 0)
    out.matchExpressions = s.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values ? { values: [...e.values] } : {}) }));
  return out;
}

const LABELS = (w: AnyWebhook) => ({ 'app.kubernetes.io/part-of': 'posture', 'app.kubernetes.io/component': 'admission', 'posture.dev/webhook': w.name });

function resourceRules(w: AnyWebhook): Record<string, unknown>[] {
  return w.declaration.rules.map((r) => ({
    operations: [...r.operations],
    apiGroups: [...r.apiGroups],
    apiVersions: [...r.apiVersions],
    resources: [...r.resources],
    scope: r.scope ?? '*',
  }));
}

/** The ValidatingAdmissionPolicy of a webhook with a CEL form: its rules, selectors, exemptions and settings, inlined. */
export function admissionPolicy(w: AnyWebhook): Record<string, unknown> {
  const form = celFormOf(w);
  if (!form)
    throw new ManifestError(`webhook ${w.name} has no CEL form${w.cel && 'unsupported' in w.cel ? ` under this configuration: ${w.cel.unsupported}` : ''}`);
  const d = w.declaration;
  const conditions: MatchCondition[] = [...w.matchConditions];
  if (form.beyondCel) conditions.push({ name: WITHIN_CEL, expression: `!(${form.beyondCel.expression})` });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: `posture-${w.name}`, labels: LABELS(w) },
    spec: {
      // Governs errors in the expressions (and a missing binding's params): the webhook's own choice.
      failurePolicy: w.failurePolicy,
      matchConstraints: {
        resourceRules: resourceRules(w),
        namespaceSelector: selector(w.entries[0].namespaceSelector),
        objectSelector: selector(d.objectSelector ?? {}),
        matchPolicy: d.matchPolicy ?? 'Equivalent',
      },
      ...(conditions.length > 0 ? { matchConditions: conditions.map((c) => ({ name: c.name, expression: c.expression })) } : {}),
      ...(form.variables && form.variables.length > 0 ? { variables: form.variables.map((v) => ({ name: v.name, expression: v.expression })) } : {}),
      validations: form.validations.map((v) => ({ expression: v.expression, messageExpression: v.messageExpression, reason: 'Forbidden' })),
    },
  };
}

/** The binding that puts a webhook's policy in force, cluster-wide, with its enforcement as validationActions. */
export function policyBinding(w: AnyWebhook): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: `posture-${w.name}`, labels: LABELS(w) },
    spec: { policyName: `posture-${w.name}`, validationActions: [...VALIDATION_ACTIONS[w.enforcement]] },
  };
}

/**
 * The ValidatingWebhookConfiguration of one webhook, as a plain object; undefined when the engine
 * leaves it nothing to call the webhook for (`policy`, and CEL judges every request).
 */
export function webhookConfiguration(w: AnyWebhook, client: ClientOptions, engine: Engine = 'webhook'): Record<string, unknown> | undefined {
  if (client.url && client.service) throw new ManifestError('give either a service or a url, not both');
  const d = w.declaration;
  const base = client.url ? checkUrl(client.url) : undefined;
  const service = client.service;
  if (!base && !service) throw new ManifestError('a service or a url is required');
  const caBundle = client.caBundlePem ? Buffer.from(client.caBundlePem).toString('base64') : undefined;
  const annotations: Record<string, string> = {};
  if (client.certManager) annotations['cert-manager.io/inject-ca-from'] = client.certManager;
  const form = engine === 'webhook' ? undefined : celFormOf(w);
  // With a policy in force, the webhook's entries are: the fallback (both: every request CEL
  // judges, under Ignore, so a down server refuses nothing the policy would not) and, at the
  // declared failurePolicy, the requests CEL cannot judge.
  type Entry = { name: string; path: string; namespaceSelector: LabelSelector; failurePolicy: 'Fail' | 'Ignore'; extra?: MatchCondition };
  const entries: Entry[] = [];
  for (const entry of w.entries) {
    const base = { name: entry.qualifiedName, path: entry.path, namespaceSelector: entry.namespaceSelector };
    if (!form) {
      entries.push({ ...base, failurePolicy: w.failurePolicy });
      continue;
    }
    if (engine === 'both') {
      const within = form.beyondCel ? { name: WITHIN_CEL, expression: `!(${form.beyondCel.expression})` } : undefined;
      entries.push({ ...base, failurePolicy: 'Ignore', extra: within });
    }
    if (form.beyondCel)
      entries.push({
        ...base,
        name: `${BEYOND_CEL_PREFIX}.${entry.qualifiedName}`,
        failurePolicy: w.failurePolicy,
        extra: { name: BEYOND_CEL, expression: form.beyondCel.expression },
      });
  }
  if (entries.length === 0) return undefined;
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: {
      name: `posture-${w.name}`,
      labels: LABELS(w),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    webhooks: entries.map((entry) => ({
      name: entry.name,
      admissionReviewVersions: ['v1', 'v1beta1'],
      clientConfig: {
        ...(base
          ? { url: `${base}${entry.path}` }
          : { service: { namespace: service!.namespace, name: service!.name, path: entry.path, port: service!.port ?? 443 } }),
        ...(caBundle ? { caBundle } : {}),
      },
      rules: resourceRules(w),
      failurePolicy: entry.failurePolicy,
      matchPolicy: d.matchPolicy ?? 'Equivalent',
      sideEffects: d.sideEffects ?? 'None',
      timeoutSeconds: d.timeoutSeconds,
      namespaceSelector: selector(entry.namespaceSelector),
      objectSelector: selector(d.objectSelector ?? {}),
      ...conditionsOf([...w.matchConditions, ...(entry.extra ? [entry.extra] : [])]),
    })),
  };
}

function conditionsOf(conditions: readonly MatchCondition[]): { matchConditions?: unknown } {
  return conditions.length > 0 ? { matchConditions: conditions.map((c) => ({ name: c.name, expression: c.expression })) } : {};
}

/** Every object one webhook contributes under an engine: its policy and binding, its webhook configuration. */
export function manifestObjects(
  w: AnyWebhook,
  client: ClientOptions,
  engine: Engine,
): { webhook?: Record<string, unknown>; policy?: Record<string, unknown>[] } {
  const out: { webhook?: Record<string, unknown>; policy?: Record<string, unknown>[] } = {};
  if (engine !== 'webhook' && celFormOf(w)) out.policy = [admissionPolicy(w), policyBinding(w)];
  const vwc = webhookConfiguration(w, client, engine);
  if (vwc) out.webhook = vwc;
  return out;
}

/**
 * File name → YAML text: one file per webhook plus a kustomization listing them. `sourceDir` is the
 * webhooks folder as the repository names it, for the line that says where each file comes from.
 */
export function manifestFiles<S>(registry: Registry<S>, client: ClientOptions, sourceDir: string, engine: Engine = 'webhook'): Map<string, string> {
  const files = new Map<string, string>();
  const names: string[] = [];
  for (const w of registry.webhooks) {
    const header = `# Generated by \`npm run generate:webhooks\` from ${sourceDir}/${w.source ?? `${w.name}.ts`}: do not edit.\n`;
    const { webhook, policy } = manifestObjects(w, client, engine);
    if (policy) {
      const name = `${w.name}.policy.yaml`;
      names.push(name);
      files.set(name, header + policy.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
    }
    if (webhook) {
      const name = `${w.name}.yaml`;
      names.push(name);
      files.set(name, header + stringify(webhook, { lineWidth: 0 }));
    }
  }
  files.set(
    'kustomization.yaml',
    `# Generated by \`npm run generate:webhooks\`: do not edit.\n${stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: names }, { lineWidth: 0 })}`,
  );
  return files;
}

/** All configurations as one multi-document YAML stream (for `kubectl apply -f -`). */
export function manifestStream<S>(registry: Registry<S>, client: ClientOptions, engine: Engine = 'webhook'): string {
  const docs: Record<string, unknown>[] = [];
  for (const w of registry.webhooks) {
    const { webhook, policy } = manifestObjects(w, client, engine);
    docs.push(...(policy ?? []), ...(webhook ? [webhook] : []));
  }
  return docs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}
