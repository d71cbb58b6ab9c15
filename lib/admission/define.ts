// A webhook's declaration is checked when its file is loaded (so a bad file fails every test,
// the generator and the server the same way), then compiled against a configuration: default
// exclusions, exemption match conditions, enforcement overrides and derived settings.
import type { Config } from '../config/index.ts';
import {
  type CelForm,
  DEFAULT_EXCLUSIONS,
  type DefaultExclusion,
  ENFORCEMENTS,
  type Enforcement,
  type Exemption,
  type LabelSelector,
  type LabelSelectorRequirement,
  type MatchCondition,
  type NamespaceLabel,
  type NamespaceLabelTiers,
  OPERATIONS,
  type WebhookDeclaration,
} from './types.ts';

/** Suffix of every generated webhook name (the API server wants a fully qualified name). */
export const WEBHOOK_DOMAIN = 'posture.dev';
/** The immutable label every namespace carries (Kubernetes 1.21+): selects namespaces by name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** Never exempt, whatever the configuration says. */
export const UNAUTHENTICATED_GROUP = 'system:unauthenticated';
export const MAX_MATCH_CONDITIONS = 64;
/** Groups too broad to exempt: every service account, every node, every authenticated caller. */
const BROAD_GROUPS: ReadonlySet<string> = new Set(['system:serviceaccounts', 'system:authenticated', 'system:nodes']);
/** Match conditions the framework may add (lease exclusion, exemptions, the split between CEL and the webhook). */
const FRAMEWORK_CONDITIONS = 3;

export class WebhookDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookDefinitionError';
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PATH = /^\/[A-Za-z0-9._~/-]*$/;
const CONDITION_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function problemsOfSelector(where: string, s: LabelSelector | undefined): string[] {
  if (!s) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) {
    if (!LABEL_KEY.test(k)) out.push(`${where}.matchLabels: invalid label key ${JSON.stringify(k)}`);
    if (!LABEL_VALUE.test(v)) out.push(`${where}.matchLabels: invalid label value ${JSON.stringify(v)}`);
  }
  for (const e of s.matchExpressions ?? []) {
    if (!LABEL_KEY.test(e.key)) out.push(`${where}.matchExpressions: invalid label key ${JSON.stringify(e.key)}`);
    const needsValues = e.operator === 'In' || e.operator === 'NotIn';
    if (needsValues && !(e.values && e.values.length > 0)) out.push(`${where}.matchExpressions: ${e.operator} needs values`);
    if (!needsValues && e.values && e.values.length > 0) out.push(`${where}.matchExpressions: ${e.operator} takes no values`);
  }
  return out;
}

/** Every problem of a declaration, each a sentence; empty when it is valid. */
export function problemsOf(d: AnyDeclaration): string[] {
  const p: string[] = [];
  if (typeof d.name !== 'string' || !DNS_LABEL.test(d.name)) p.push(`name ${JSON.stringify(d.name)} must be a DNS label (a-z, 0-9, -; at most 63)`);
  if (typeof d.path !== 'string' || !PATH.test(d.path) || d.path === '/' || d.path.endsWith('/')) {
    p.push(`path ${JSON.stringify(d.path)} must start with / and use only URL path characters (no query, not "/", no trailing /)`);
  } else if (['/healthz', '/readyz', '/metrics', '/events'].includes(d.path)) {
    p.push(`path ${d.path} is reserved by the server`);
  }
  if (!Array.isArray(d.rules) || d.rules.length === 0) p.push('rules must list at least one rule');
  for (const [i, r] of (d.rules ?? []).entries()) {
    const ops = r.operations as readonly string[];
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every((o) => o === '*' || (OPERATIONS as readonly string[]).includes(o))) {
      p.push(`rules[${i}].operations must be CREATE, UPDATE, DELETE, CONNECT or *`);
    }
    for (const f of ['apiGroups', 'apiVersions', 'resources'] as const) {
      if (!Array.isArray(r[f]) || r[f].length === 0) p.push(`rules[${i}].${f} must not be empty`);
    }
    if (r.scope !== undefined && !['Cluster', 'Namespaced', '*'].includes(r.scope)) p.push(`rules[${i}].scope must be Cluster, Namespaced or *`);
  }
  if (d.failurePolicy !== 'Fail' && d.failurePolicy !== 'Ignore') p.push('failurePolicy must be Fail or Ignore');
  if (d.matchPolicy !== undefined && d.matchPolicy !== 'Exact' && d.matchPolicy !== 'Equivalent') p.push('matchPolicy must be Exact or Equivalent');
  if (d.sideEffects !== undefined && d.sideEffects !== 'None' && d.sideEffects !== 'NoneOnDryRun') p.push('sideEffects must be None or NoneOnDryRun');
  if (!Number.isInteger(d.timeoutSeconds) || d.timeoutSeconds < 1 || d.timeoutSeconds > 30)
    p.push(`timeoutSeconds ${d.timeoutSeconds} must be an integer from 1 to 30`);
  p.push(...problemsOfSelector('namespaceSelector', d.namespaceSelector), ...problemsOfSelector('objectSelector', d.objectSelector));
  const conditions = d.matchConditions ?? [];
  if (conditions.length > MAX_MATCH_CONDITIONS - FRAMEWORK_CONDITIONS) {
    p.push(
      `matchConditions: ${conditions.length} declared, at most ${MAX_MATCH_CONDITIONS - FRAMEWORK_CONDITIONS} (the API server allows ${MAX_MATCH_CONDITIONS}, the framework adds ${FRAMEWORK_CONDITIONS})`,
    );
  }
  const seen = new Set<string>();
  for (const c of conditions) {
    if (!CONDITION_NAME.test(c.name ?? '')) p.push(`matchConditions: invalid name ${JSON.stringify(c.name)}`);
    if (c.name?.startsWith('posture-')) p.push(`matchConditions: the prefix "posture-" is the framework's (${c.name})`);
    if (seen.has(c.name)) p.push(`matchConditions: duplicate name ${c.name}`);
    seen.add(c.name);
    if (typeof c.expression !== 'string' || c.expression.trim() === '') p.push(`matchConditions.${c.name}: empty expression`);
  }
  for (const e of d.exempt ?? []) {
    // A whole namespace's service accounts is every add-on installed there (CSI, CNI, charts):
    // exempt the control plane's controllers by name instead.
    if ('group' in e && (BROAD_GROUPS.has(e.group) || e.group.startsWith('system:serviceaccounts:'))) {
      p.push(
        `exempt: the group ${e.group} is too broad (${e.group.startsWith('system:serviceaccounts:') ? `every service account in ${e.group.slice('system:serviceaccounts:'.length)}, add-ons included` : 'a whole class of callers'}); exempt the identities that need it by name ({ user: 'system:serviceaccount:<namespace>:<name>' })`,
      );
    }
  }
  if (!ENFORCEMENTS.includes(d.enforcement)) p.push(`enforcement must be one of ${ENFORCEMENTS.join(', ')}`);
  for (const o of d.optOut ?? []) {
    if (!DEFAULT_EXCLUSIONS.includes(o)) p.push(`optOut: unknown default exclusion ${JSON.stringify(o)} (known: ${DEFAULT_EXCLUSIONS.join(', ')})`);
    else if (!d.doc?.optOuts?.[o]?.trim()) p.push(`optOut ${o}: doc.optOuts.${o} must say why`);
  }
  if (d.namespaceLabel) {
    if (!LABEL_KEY.test(d.namespaceLabel.key)) p.push(`namespaceLabel.key ${JSON.stringify(d.namespaceLabel.key)} is not a label key`);
    if (d.namespaceLabel.values.length === 0 && !d.namespaceLabel.valuesFrom) p.push('namespaceLabel.values must not be empty');
    // Each value becomes a webhook entry named after it, lower-cased and DNS-safe: two values
    // with one entry name would make a configuration the API server rejects.
    const tiers = new Map<string, string>();
    for (const v of d.namespaceLabel.values) {
      if (!LABEL_VALUE.test(v) || v === '') {
        p.push(`namespaceLabel.values: ${JSON.stringify(v)} is not a label value`);
        continue;
      }
      const t = tierLabel(v);
      const other = tiers.get(t);
      if (other !== undefined)
        p.push(
          `namespaceLabel.values: ${JSON.stringify(other)} and ${JSON.stringify(v)} both become the webhook entry ${t}.${d.name}.${WEBHOOK_DOMAIN} (entry names are lower-case, other characters become -)`,
        );
      else tiers.set(t, v);
    }
  }
  const doc = d.doc;
  if (!doc || typeof doc !== 'object') {
    p.push('doc is required');
  } else {
    for (const f of ['summary', 'protects', 'exempt', 'failurePolicy', 'timeout'] as const) {
      if (typeof doc[f] !== 'string' || doc[f].trim() === '') p.push(`doc.${f} is required`);
    }
    if (!Array.isArray(doc.denials) || doc.denials.length === 0) p.push('doc.denials must list the messages users see');
  }
  if (typeof d.authorize !== 'function') p.push('authorize must be a function');
  if (d.cel !== undefined && typeof d.cel !== 'function') p.push('cel must be a function of (settings, config)');
  return p;
}

/**
 * Declares a webhook: the one call a file of a webhooks folder makes (as its default export).
 * Throws on an invalid declaration, naming every problem.
 */
export function defineWebhook<S = unknown, P = undefined>(d: WebhookDeclaration<S, P>): WebhookDeclaration<S, P> {
  const problems = problemsOf(d);
  if (problems.length > 0) throw new WebhookDefinitionError(`webhook ${JSON.stringify(d?.name)}: ${problems.join('; ')}`);
  return Object.freeze(d);
}

// ---- Compilation against a configuration ---------------------------------------------------

/** One entry of the generated ValidatingWebhookConfiguration, and the path it is served on. */
export interface WebhookEntry {
  /** `<name>.posture.dev`, or `<tier>.<name>.posture.dev` for namespace-label tiers. */
  qualifiedName: string;
  path: string;
  namespaceSelector: LabelSelector;
  /** The namespace label this entry's requests carry (see NamespaceLabelTiers). */
  tier?: NamespaceLabel;
}

/**
 * A webhook whose prepared settings are of any type: a registry holds webhooks that each prepare
 * their own, and TypeScript has no existential type to say "some P" (with `unknown`, authorize's
 * context parameter would not accept the webhook's own P).
 */
// biome-ignore lint/suspicious/noExplicitAny: the one existential placeholder for a webhook's own settings type
export type AnyWebhook<S = unknown> = Webhook<S, any>;
/** A declaration of any settings type, as a registry or a linter sees one (see AnyWebhook). */
// biome-ignore lint/suspicious/noExplicitAny: as AnyWebhook
export type AnyDeclaration = WebhookDeclaration<any, any>;

export interface Webhook<S = unknown, P = unknown> {
  declaration: WebhookDeclaration<S, P>;
  name: string;
  enforcement: Enforcement;
  /**
   * The failurePolicy the API server gets: the declared one under `deny`; Ignore under `warn` and
   * `dry-run`, which promise never to refuse (a down server under Fail would refuse everything).
   */
  failurePolicy: 'Fail' | 'Ignore';
  settings: P;
  /** Identities never judged, resolved from the configuration. */
  exemptUsers: ReadonlySet<string>;
  exemptGroups: ReadonlySet<string>;
  /** Default exclusions in force (the declared ones minus opt-outs). */
  exclusions: readonly DefaultExclusion[];
  excludedNamespaces: readonly string[];
  matchConditions: readonly MatchCondition[];
  entries: readonly WebhookEntry[];
  /**
   * The CEL form for this configuration (a ValidatingAdmissionPolicy is generated from it), or why
   * there is none: undefined when the webhook declares none (it needs more than the request).
   */
  cel?: CelForm | { unsupported: string };
  /** File it was declared in (for errors naming both files of a duplicate). */
  source?: string;
}

export function resolveExemptions(exempt: readonly Exemption[], config: Config): { users: Set<string>; groups: Set<string> } {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const e of exempt) {
    if ('user' in e) users.add(e.user);
    else if ('group' in e) groups.add(e.group);
    else if ('usersFrom' in e) for (const u of config[e.usersFrom]) users.add(u);
    else if ('groupsFrom' in e) for (const g of config[e.groupsFrom]) groups.add(g);
    else if ('serviceAccountFrom' in e) users.add(`system:serviceaccount:${config.namespace}:${config[e.serviceAccountFrom]}`);
  }
  groups.delete(UNAUTHENTICATED_GROUP);
  return { users, groups };
}

/** A CEL string literal (CEL accepts JSON's escapes in double-quoted strings). */
export function celString(s: string): string {
  return JSON.stringify(s);
}

function celList(values: Iterable<string>): string {
  return `[${[...values].sort().map(celString).join(', ')}]`;
}

export const LEASES_CONDITION: MatchCondition = {
  name: 'posture-exclude-leases',
  expression: "!(request.resource.group == 'coordination.k8s.io' && request.resource.resource == 'leases')",
};

function exemptionCondition(users: ReadonlySet<string>, groups: ReadonlySet<string>): MatchCondition | undefined {
  const terms: string[] = [];
  if (users.size > 0) terms.push(`request.userInfo.username in ${celList(users)}`);
  if (groups.size > 0) terms.push(`request.userInfo.groups.exists(g, g in ${celList(groups)})`);
  if (terms.length === 0) return undefined;
  // Sent unless exempt; an unauthenticated caller is never exempt, whatever it claims.
  return {
    name: 'posture-skip-exempt',
    expression: `!(${terms.join(' || ')}) || request.userInfo.groups.exists(g, g == ${celString(UNAUTHENTICATED_GROUP)})`,
  };
}

function withExpressions(base: LabelSelector | undefined, extra: readonly LabelSelectorRequirement[]): LabelSelector {
  const matchExpressions = [...extra, ...(base?.matchExpressions ?? [])];
  const out: LabelSelector = {};
  if (base?.matchLabels && Object.keys(base.matchLabels).length > 0) (out as { matchLabels?: unknown }).matchLabels = base.matchLabels;
  if (matchExpressions.length > 0) (out as { matchExpressions?: unknown }).matchExpressions = matchExpressions;
  return out;
}

/** Tier names are DNS labels: `v-<value>` lower-cased with other characters replaced. */
export function tierLabel(value: string): string {
  return `v-${value.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');
}

/** A webhook's namespace label tiers under a configuration (its `valuesFrom` setting, else its values). */
export function tierValues(label: NamespaceLabelTiers, config: Config): string[] {
  if (!label.valuesFrom) return [...label.values];
  const v = (config as unknown as Record<string, unknown>)[label.valuesFrom];
  if (!Array.isArray(v)) throw new WebhookDefinitionError(`namespaceLabel.valuesFrom: ${label.valuesFrom} is not a list setting`);
  return [...new Set(v.map(String))];
}

/**
 * Compiles a declaration against a configuration.
 * @param enforcementOverride from the `webhookEnforcement` setting, when it names this webhook
 */
export function compileWebhook<S, P>(d: WebhookDeclaration<S, P>, config: Config, enforcementOverride?: Enforcement, source?: string): Webhook<S, P> {
  const optOut = new Set(d.optOut ?? []);
  const exclusions = DEFAULT_EXCLUSIONS.filter((e) => !optOut.has(e));
  const excludedNamespaces: string[] = [];
  if (exclusions.includes('own-namespace')) excludedNamespaces.push(config.namespace);
  if (exclusions.includes('kube-system')) excludedNamespaces.push('kube-system');
  if (exclusions.includes('kube-node-lease')) excludedNamespaces.push('kube-node-lease');
  const unique = [...new Set(excludedNamespaces)];
  const baseExpressions: LabelSelectorRequirement[] = unique.length > 0 ? [{ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: unique }] : [];
  const { users, groups } = resolveExemptions(d.exempt ?? [], config);
  const conditions: MatchCondition[] = [];
  if (exclusions.includes('leases')) conditions.push(LEASES_CONDITION);
  const exemptCondition = exemptionCondition(users, groups);
  if (exemptCondition) conditions.push(exemptCondition);
  conditions.push(...(d.matchConditions ?? []));

  const qualified = `${d.name}.${WEBHOOK_DOMAIN}`;
  const entries: WebhookEntry[] = [];
  if (!d.namespaceLabel) {
    entries.push({ qualifiedName: qualified, path: d.path, namespaceSelector: withExpressions(d.namespaceSelector, baseExpressions) });
  } else {
    const { key } = d.namespaceLabel;
    const values = tierValues(d.namespaceLabel, config);
    entries.push({
      qualifiedName: qualified,
      path: d.path,
      namespaceSelector: withExpressions(d.namespaceSelector, [...baseExpressions, { key, operator: 'DoesNotExist' }]),
      tier: { state: 'absent' },
    });
    for (const value of values) {
      entries.push({
        qualifiedName: `${tierLabel(value)}.${qualified}`,
        path: `${d.path}/label/${encodeURIComponent(value)}`,
        namespaceSelector: withExpressions(d.namespaceSelector, [...baseExpressions, { key, operator: 'In', values: [value] }]),
        tier: { state: 'value', value },
      });
    }
    entries.push({
      qualifiedName: `invalid.${qualified}`,
      path: `${d.path}/label-invalid`,
      // NotIn with no values is not a selector the API server takes: with no tier, any value is invalid.
      namespaceSelector: withExpressions(d.namespaceSelector, [
        ...baseExpressions,
        { key, operator: 'Exists' },
        ...(values.length > 0 ? [{ key, operator: 'NotIn' as const, values }] : []),
      ]),
      tier: { state: 'invalid' },
    });
  }
  const enforcement = enforcementOverride ?? d.enforcement;
  const settings = (d.prepare ? d.prepare(config) : undefined) as P;
  let cel: CelForm | { unsupported: string } | undefined;
  if (d.cel) {
    if (d.namespaceLabel) cel = { unsupported: 'namespace label tiers reach the webhook by path; a policy has no path' };
    else cel = d.cel(settings, config);
  }
  return Object.freeze({
    declaration: d,
    name: d.name,
    enforcement,
    failurePolicy: enforcement === 'deny' ? d.failurePolicy : 'Ignore',
    settings,
    cel,
    exemptUsers: users,
    exemptGroups: groups,
    exclusions,
    excludedNamespaces: unique,
    matchConditions: conditions,
    entries,
    source,
  });
}

/** Parses the `webhookEnforcement` setting (`name=mode` items). */
export function parseEnforcementOverrides(items: readonly string[]): Map<string, Enforcement> {
  const out = new Map<string, Enforcement>();
  for (const item of items) {
    const m = /^([a-z0-9-]+)=(deny|warn|dry-run)$/.exec(item.trim());
    if (!m) throw new WebhookDefinitionError(`webhookEnforcement: ${JSON.stringify(item)} is not <webhook-name>=deny|warn|dry-run`);
    out.set(m[1], m[2] as Enforcement);
  }
  return out;
}
