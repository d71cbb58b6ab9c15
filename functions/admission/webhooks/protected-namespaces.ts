// protected-namespaces: only administrators may create, change or delete kube-system and the other
// protected namespaces, or set posture's policy labels on any namespace.
import { type AdmissionRequest, Allowed, celString, Denied, defineWebhook } from '../../../lib/admission/index.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { API_SERVER, CONTROLLER_MANAGER, controller } from '../identities.ts';
import { celLabels, celMessage, hole, labelsOf, notRe2, POLICY_LABEL_PREFIX } from '../labels.ts';

interface Settings {
  /** The protected names as one matcher (see protectedNames). */
  protectedName: NameMatcher;
}

const VERB = { CREATE: 'create', UPDATE: 'change', DELETE: 'delete', CONNECT: 'connect to' } as const;

/** CEL: protectedMessage for the request's operation. */
function celProtectedMessage(): string {
  const ops = ['CREATE', 'UPDATE', 'DELETE'] as const;
  return `{${ops.map((op) => `${celString(op)}: ${celMessage(protectedMessage(hole('name'), op), { name: 'variables.name' })}`).join(', ')}}[request.operation]`;
}

export function protectedMessage(name: string, operation: AdmissionRequest['operation']): string {
  return `namespace "${name}" is protected by posture: only cluster administrators may ${VERB[operation]} it`;
}

export function policyLabelMessage(key: string): string {
  return `namespace label "${key}" is posture policy: only cluster administrators may set, change or remove it`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What protected-namespaces tests a name with: a RegExp, or a matcher that behaves as one would. */
export interface NameMatcher {
  test(name: string): boolean;
}

/** `^name$`, `^prefix` or `^prefix.*` over the characters of namespace names: no expression needed. */
const LITERAL = /^\^([a-z0-9-]+)(\$|\.\*)?$/;

/**
 * The patterns as one matcher. Patterns that only name a namespace (`^default$`) or a prefix
 * (`^kube-`, `^kube-.*`), as the defaults do, are a set lookup and a prefix compare; the others are
 * one expression (each a non-capturing alternative), unless one of them refers to its own groups by
 * number or name, which joining would renumber: then the first pattern that matches, one by one.
 * The webhook runs between other processes' work, with its caches cold: a regular expression's
 * compiled code is more to fetch than a string compare (bench/admission-replay.ts).
 */
export function protectedNames(patterns: readonly string[]): NameMatcher {
  const compiled = patterns.map((p) => new RegExp(p)); // each must compile on its own
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const rest: string[] = [];
  for (const p of patterns) {
    const m = LITERAL.exec(p);
    if (!m) rest.push(p);
    else if (m[2] === '$') exact.add(m[1]);
    else prefixes.push(m[1]);
  }
  if (exact.size === 0 && prefixes.length === 0) return joined(rest, compiled);
  // Only names and prefixes (the defaults): no expression runs for a name none of them matches.
  const others =
    rest.length > 0
      ? joined(
          rest,
          compiled.filter((_, i) => !LITERAL.test(patterns[i])),
        )
      : undefined;
  return {
    test(name: string): boolean {
      if (exact.has(name)) return true;
      for (let i = 0; i < prefixes.length; i++) if (name.startsWith(prefixes[i])) return true;
      return others?.test(name) === true;
    },
  };
}

function joined(patterns: readonly string[], compiled: readonly RegExp[]): NameMatcher {
  if (compiled.length === 0) return /(?!)/;
  if (!patterns.some((p) => /\\[1-9]|\\k</.test(p))) {
    try {
      return new RegExp(patterns.map((p) => `(?:${p})`).join('|'));
    } catch {
      // An engine without duplicate group names across alternatives (before ES2025): one by one.
    }
  }
  return { test: (name: string) => compiled.some((r) => r.test(name)) };
}

const NONE: readonly string[] = Object.freeze([]);

/** Keys under posture.dev/ whose value differs between two label maps, sorted (none: no allocation). */
export function changedPolicyLabels(before: Record<string, string>, after: Record<string, string>): readonly string[] {
  let changed: string[] | undefined;
  for (const k in after) {
    if (k.startsWith(POLICY_LABEL_PREFIX) && Object.hasOwn(after, k) && (!Object.hasOwn(before, k) || before[k] !== after[k])) {
      changed ??= [];
      changed.push(k);
    }
  }
  for (const k in before) {
    if (k.startsWith(POLICY_LABEL_PREFIX) && Object.hasOwn(before, k) && !Object.hasOwn(after, k)) {
      changed ??= [];
      changed.push(k);
    }
  }
  return changed ? changed.sort() : NONE;
}

export default defineWebhook<AdmissionServices, Settings>({
  name: 'protected-namespaces',
  path: '/protected-namespaces',
  // The subresources too: a Namespace's status and finalize strategies keep the request's labels,
  // so either could set posture.dev/min-score past a rule on `namespaces` alone.
  rules: [
    {
      operations: ['CREATE', 'UPDATE', 'DELETE'],
      apiGroups: [''],
      apiVersions: ['v1'],
      resources: ['namespaces', 'namespaces/status', 'namespaces/finalize'],
      scope: 'Cluster',
    },
  ],
  failurePolicy: 'Fail',
  timeoutSeconds: 3,
  enforcement: 'deny',
  exempt: [
    { groupsFrom: 'adminGroups' },
    { usersFrom: 'adminUsers' },
    { user: controller('namespace-controller') },
    { user: CONTROLLER_MANAGER },
    { user: API_SERVER },
  ],
  // The namespaces it protects are the ones the defaults would exclude: it must see them.
  optOut: ['own-namespace', 'kube-system', 'kube-node-lease'],
  doc: {
    summary: 'Only administrators may create, change or delete protected namespaces, or set posture policy labels on any namespace.',
    protects:
      "Namespaces whose name matches a pattern in protectedNamespaces (default `^kube-.*` and `^default$`) and posture's own namespace: create, update (labels included, through the `status` and `finalize` subresources too) and delete. " +
      "On every namespace, labels under `posture.dev/` (such as `posture.dev/min-score`, which lowers the Scorecard gate's threshold) are policy: setting, changing or removing one is refused, whichever of `namespaces`, `namespaces/status` or `namespaces/finalize` the request goes through.",
    exempt:
      'Members of the groups in adminGroups (default `system:masters`, `posture:admins`), the users in adminUsers, and the control plane by name: ' +
      `the namespace controller \`${controller('namespace-controller')}\` (finishes namespace deletes through \`finalize\`), \`${CONTROLLER_MANAGER}\`, and the API server's own loopback client \`${API_SERVER}\` (creates kube-system, kube-public, kube-node-lease and default at start-up). ` +
      'Other service accounts of kube-system are judged. They are skipped by a match condition, so the API server does not even call the webhook for them. `system:unauthenticated` is never exempt.',
    failurePolicy:
      'Fail: while the webhook is down, a namespace editor could otherwise set `posture.dev/min-score=0` and keep it after recovery, a lasting effect. ' +
      'The bootstrap concern of kubernetes#56761 (a failing namespace webhook kept an API server from starting) does not apply: the API server creates its namespaces as `system:apiserver`, which the match condition skips, ' +
      'and test/e2e/attacks.test.ts restarts an API server with this configuration and the webhook down and sees it become ready. While the webhook is down, non-administrators cannot create, change or delete namespaces.',
    timeout: '3 s: the decision is in memory and takes microseconds; a short timeout bounds what an unreachable webhook adds to namespace operations.',
    denials: [protectedMessage('<name>', 'DELETE'), protectedMessage('<name>', 'CREATE'), protectedMessage('<name>', 'UPDATE'), policyLabelMessage('<key>')],
    optOuts: {
      'own-namespace':
        "posture's own namespace is one of the protected namespaces; the rule matches namespaces only, so the webhook's own pods are never judged.",
      'kube-system': 'kube-system is the first namespace this webhook protects; its own service accounts stay exempt by identity.',
      'kube-node-lease': 'kube-node-lease matches `^kube-.*`; deleting it would stop node heartbeats.',
    },
    settings: ['protectedNamespaces', 'namespace', 'adminGroups', 'adminUsers'],
  },
  prepare: (config) => ({ protectedName: protectedNames([...config.protectedNamespaces, `^${escapeRegExp(config.namespace)}$`]) }),
  // The same decision in CEL: the patterns inlined (RE2 and JavaScript agree on them unless one
  // uses lookaround or a back-reference), the changed policy labels as a list whose least is named.
  cel(_settings, config) {
    const patterns = [...config.protectedNamespaces, `^${escapeRegExp(config.namespace)}$`];
    for (const p of patterns) {
      const why = notRe2(p);
      if (why) return { unsupported: `protectedNamespaces: ${why}` };
    }
    const prefix = celString(POLICY_LABEL_PREFIX);
    return {
      variables: [
        {
          name: 'name',
          expression:
            "has(request.name) && request.name != '' ? request.name : object != null && has(object.metadata.name) ? object.metadata.name : oldObject != null && has(oldObject.metadata.name) ? oldObject.metadata.name : ''",
        },
        { name: 'protected', expression: patterns.map((p) => `variables.name.matches(${celString(p)})`).join(' || ') },
        { name: 'before', expression: celLabels('oldObject') },
        { name: 'after', expression: celLabels('object') },
        {
          name: 'changedPolicyLabels',
          expression:
            `variables.after.filter(k, k.startsWith(${prefix}) && (!(k in variables.before) || variables.before[k] != variables.after[k])) + ` +
            `variables.before.filter(k, k.startsWith(${prefix}) && !(k in variables.after))`,
        },
      ],
      validations: [
        {
          expression: '!variables.protected',
          messageExpression: celProtectedMessage(),
        },
        {
          expression: "request.operation == 'DELETE' || variables.changedPolicyLabels.size() == 0",
          messageExpression: celMessage(policyLabelMessage(hole('key')), { key: 'variables.changedPolicyLabels.min()' }),
        },
      ],
    };
  },
  authorize(request, { settings }) {
    const name = request.name || request.object?.metadata?.name || request.oldObject?.metadata?.name || '';
    if (request.operation === 'CONNECT') return Allowed();
    if (settings.protectedName.test(name)) return Denied(protectedMessage(name, request.operation));
    if (request.operation === 'DELETE') return Allowed();
    const changed = changedPolicyLabels(labelsOf(request.oldObject), labelsOf(request.object));
    if (changed.length > 0) return Denied(policyLabelMessage(changed[0]));
    return Allowed();
  },
});
