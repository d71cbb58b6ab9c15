// Webhook documentation (JSON and Markdown) generated from the same registry as the manifests,
// and the doc lint: a doc must agree with its webhook's data (what it matches, who is exempt,
// its failure policy and timeout), so prose cannot drift from behaviour (several MCVW docs say
// the opposite of their code).
import type { Config } from '../config/index.ts';
import { settings as settingSpecs } from '../config/spec.ts';
import type { AnyDeclaration, AnyWebhook } from './define.ts';
import type { LoadedDeclaration, Registry } from './registry.ts';
import type { Exemption } from './types.ts';

const SETTING_KEYS: ReadonlySet<string> = new Set(settingSpecs.map((s) => s.key));
const SETTING_ENV = new Map<string, string>(settingSpecs.map((s) => [s.key, s.env]));

function exemptionTerm(e: Exemption): { text: string; setting?: string } {
  if ('user' in e) return { text: e.user };
  if ('group' in e) return { text: e.group };
  if ('usersFrom' in e) return { text: e.usersFrom, setting: e.usersFrom };
  if ('groupsFrom' in e) return { text: e.groupsFrom, setting: e.groupsFrom };
  return { text: e.serviceAccountFrom, setting: e.serviceAccountFrom };
}

/** The word a doc must use for a resource: its singular, lower case ("deployment" for deployments). */
function resourceWord(resource: string): string {
  const main = resource.split('/')[0].toLowerCase();
  return main.endsWith('s') ? main.slice(0, -1) : main;
}

const SERVICE_ACCOUNT_USER = /^(system:serviceaccount:[^:]+:)([^:]+)$/;

/**
 * Whether a doc names an exempt identity: in full, or (for a service account) as its namespace's
 * prefix plus the backticked name, the way a list of controllers reads.
 */
function namesIdentity(text: string, identity: string): boolean {
  if (text.includes(identity)) return true;
  const m = SERVICE_ACCOUNT_USER.exec(identity);
  return m !== null && text.includes(m[1]) && text.includes(`\`${m[2]}\``);
}

const OPERATION_WORDS: Record<string, string> = { CREATE: 'create', UPDATE: 'update', DELETE: 'delete', CONNECT: 'connect' };

/** Problems of one declaration's doc against its data; empty when it agrees. */
export function lintDoc(d: AnyDeclaration): string[] {
  const p: string[] = [];
  const doc = d.doc;
  const protects = doc.protects.toLowerCase();
  for (const rule of d.rules) {
    for (const r of rule.resources) {
      if (r === '*' || r === '*/*') {
        if (!/\bevery\b|\ball\b|`\*`/.test(protects)) p.push('doc.protects must say it covers every resource (the rules use *)');
      } else if (!protects.includes(resourceWord(r))) {
        p.push(`doc.protects does not name ${r}, which its rules match`);
      }
      // A subresource is judged only if listed, and a doc must say which are (or the reader
      // assumes "every resource" covers status, which it does not).
      const sub = r.split('/')[1];
      if (sub && sub !== '*' && !protects.includes(sub.toLowerCase()))
        p.push(`doc.protects does not name the subresource ${sub} (${r}), which its rules match`);
    }
    for (const op of rule.operations) {
      if (op !== '*' && !protects.includes(OPERATION_WORDS[op]))
        p.push(`doc.protects does not say it judges ${OPERATION_WORDS[op]} (${op}), which its rules match`);
    }
  }
  const selectorKeys = [...Object.keys(d.objectSelector?.matchLabels ?? {}), ...(d.objectSelector?.matchExpressions ?? []).map((e) => e.key)];
  for (const k of selectorKeys) if (!doc.protects.includes(k)) p.push(`doc.protects does not name the label ${k} its objectSelector selects`);
  if (d.namespaceLabel && !doc.protects.includes(d.namespaceLabel.key)) p.push(`doc.protects does not name the namespace label ${d.namespaceLabel.key}`);
  const mentioned = doc.settings ?? [];
  for (const s of mentioned) if (!SETTING_KEYS.has(s)) p.push(`doc.settings names ${s}, which is not a setting`);
  for (const e of d.exempt ?? []) {
    const { text, setting } = exemptionTerm(e);
    const env = setting ? SETTING_ENV.get(setting) : undefined;
    if (!namesIdentity(doc.exempt, text) && !(env && doc.exempt.includes(env))) p.push(`doc.exempt does not name ${text}, which the webhook exempts`);
    if (setting && !mentioned.includes(setting)) p.push(`doc.settings must list ${setting} (it decides who is exempt)`);
  }
  if ((d.exempt ?? []).length === 0 && !/\bnobody\b|\bno one\b|\bnone\b/i.test(doc.exempt))
    p.push('doc.exempt must say nobody is exempt when the webhook exempts no one');
  if (!doc.failurePolicy.startsWith(`${d.failurePolicy}:`)) p.push(`doc.failurePolicy must start with "${d.failurePolicy}:" and say why`);
  if (!doc.timeout.startsWith(`${d.timeoutSeconds} s`)) p.push(`doc.timeout must start with "${d.timeoutSeconds} s" and say why`);
  return p;
}

/** Lints every loaded declaration; each problem names its file. */
export function lintDocs(loaded: readonly LoadedDeclaration[]): string[] {
  return loaded.flatMap((l) => lintDoc(l.declaration).map((problem) => `${l.source}: ${problem}`));
}

function describeExemption(e: Exemption, config: Config): string {
  if ('user' in e) return `user \`${e.user}\``;
  if ('group' in e) return `group \`${e.group}\``;
  if ('usersFrom' in e)
    return `users in \`${e.usersFrom}\` (${SETTING_ENV.get(e.usersFrom)}; default: ${config[e.usersFrom].map((u) => `\`${u}\``).join(', ') || 'none'})`;
  if ('groupsFrom' in e)
    return `groups in \`${e.groupsFrom}\` (${SETTING_ENV.get(e.groupsFrom)}; default: ${config[e.groupsFrom].map((g) => `\`${g}\``).join(', ') || 'none'})`;
  return `service account \`${e.serviceAccountFrom}\` in posture's namespace (default \`system:serviceaccount:${config.namespace}:${config[e.serviceAccountFrom]}\`)`;
}

/**
 * The JSON form of the docs: declaration data, effective selectors and the doc. `sourceDir` is the
 * webhooks folder as the repository names it (each webhook's source is a file in it).
 */
export function docsJson<S>(registry: Registry<S>, config: Config, sourceDir: string): unknown {
  return {
    generatedBy: 'npm run generate:webhooks',
    webhooks: registry.webhooks.map((w: AnyWebhook) => {
      const d = w.declaration;
      return {
        name: w.name,
        source: `${sourceDir}/${w.source}`,
        enforcement: w.enforcement,
        failurePolicy: w.failurePolicy,
        timeoutSeconds: d.timeoutSeconds,
        matchPolicy: d.matchPolicy ?? 'Equivalent',
        sideEffects: d.sideEffects ?? 'None',
        rules: d.rules,
        objectSelector: d.objectSelector ?? {},
        namespaceLabel: d.namespaceLabel,
        entries: w.entries.map((e) => ({ name: e.qualifiedName, path: e.path, namespaceSelector: e.namespaceSelector })),
        matchConditions: w.matchConditions,
        exempt: (d.exempt ?? []).map((e) => describeExemption(e, config)),
        defaultExclusions: w.exclusions,
        excludedNamespaces: w.excludedNamespaces,
        policy: engineOf(w),
        doc: d.doc,
      };
    }),
  };
}

/** What enforces a webhook under each engine: its policy, and what CEL cannot judge (or why it has no policy). */
function engineOf(w: AnyWebhook): { policy: string | null; beyondCel?: string; webhookOnly?: string } {
  if (!w.cel) return { policy: null, webhookOnly: 'it needs more than the request (no CEL form)' };
  if ('unsupported' in w.cel) return { policy: null, webhookOnly: w.cel.unsupported };
  return { policy: `posture-${w.name}`, ...(w.cel.beyondCel ? { beyondCel: w.cel.beyondCel.why } : {}) };
}

function rulesText(d: AnyDeclaration): string {
  return d.rules
    .map(
      (r) =>
        `${r.operations.join(', ')} on ${r.resources.map((x) => `\`${x}\``).join(', ')} (\`${r.apiGroups.map((g) => (g === '' ? 'core' : g)).join(', ')}/${r.apiVersions.join(', ')}\`)`,
    )
    .join('; ');
}

/** The Markdown page (docs/operate/webhooks.md); `sourceDir` as for docsJson. */
export function docsMarkdown<S>(registry: Registry<S>, config: Config, sourceDir: string): string {
  const out: string[] = [
    '# Admission webhooks',
    '',
    `<!-- Generated by \`npm run generate:webhooks\` from ${sourceDir}/: do not edit. -->`,
    '',
    `Each webhook is one file in \`${sourceDir}/\` and gets its own ValidatingWebhookConfiguration (\`knative/base/webhooks/\`), with its own failure policy and timeout. ` +
      "Unless a webhook opts out (and says why below), it never sees posture's own namespace, `kube-system` or `kube-node-lease` (namespaceSelector on the immutable `kubernetes.io/metadata.name` label) " +
      'nor `coordination.k8s.io` leases (match condition), and exempt identities are skipped by a match condition, so they never wait on the webhook. ' +
      'Enforcement: `deny` refuses, `warn` admits with the message as a warning, `dry-run` admits, logs and counts; set per webhook with `POSTURE_WEBHOOK_ENFORCEMENT` (e.g. `scorecard-gate=warn`). ' +
      'Defaults below are those of an unconfigured install.',
    '',
    `**Adding a webhook** is adding one file: \`${sourceDir}/<name>.ts\` with \`export default defineWebhook({...})\` ` +
      '(name, path, rules, failurePolicy, timeoutSeconds, enforcement, exemptions, doc, and a pure `authorize(request, context)` returning `Allowed()`, `Denied(message)`, `Undecided(message)` (its failurePolicy answers) or `Warned(...)`), ' +
      'table tests beside it in `<name>.test.ts` using `WebhookTester` from `lib/admission/testing.ts`, then `npm run generate:webhooks`. ' +
      'The registry finds the file; tests fail if it is not a valid webhook, if its name or path is taken (naming both files), if its doc disagrees with its data, or if the generated files are stale. ' +
      'Try it offline with `posture admission review <name> review.json`.',
    '',
    '| Webhook | Enforcement | Failure policy | Timeout | Policy (CEL) | Matches |',
    '| --- | --- | --- | --- | --- | --- |',
    ...registry.webhooks.map((w) => {
      const e = engineOf(w);
      return `| [${w.name}](#${w.name}) | ${w.enforcement} | ${w.failurePolicy} | ${w.declaration.timeoutSeconds} s | ${e.policy ? `\`${e.policy}\`` : 'none'} | ${rulesText(w.declaration)} |`;
    }),
    '',
    '## Choosing an engine',
    '',
    'A webhook that decides from the request alone (user, groups, names, labels, owners) also declares the same decision in CEL, beside its TypeScript `authorize`, ' +
      'and `posture webhooks manifest --engine` chooses what enforces it:',
    '',
    '- `both` (the default, and what `knative/base` ships): a **ValidatingAdmissionPolicy** and its binding enforce it inside the API server, with no network hop and nothing to be down; ' +
      'its webhook stays registered as a fallback with `failurePolicy: Ignore` (it refuses what the policy refuses while it is up, and refuses nothing while it is down). ' +
      "A request the CEL cannot judge the way `authorize` does goes to a webhook entry of its own (`beyond-cel.<name>.posture.dev`) at the webhook's declared failure policy, and the policy skips it.",
    '- `policy`: the policies alone, plus only those `beyond-cel` entries; the admission server is then needed only for the Scorecard gate.',
    '- `webhook`: the webhooks alone, each at its declared failure policy (what posture did before policies; for a cluster without ValidatingAdmissionPolicy, before Kubernetes 1.30).',
    '',
    "Settings are inlined in the policy (the protected namespace patterns, posture's namespace, the scheduler's identity, the exempt users and groups): " +
      'regenerate and apply after changing them (`posture webhooks manifest --engine both --out DIR` with the environment of the install). ' +
      "Enforcement maps to the binding's `validationActions`: `deny` → `Deny`, `warn` → `Warn`, `dry-run` → `Audit`. Exemptions, default exclusions, object selectors and match conditions are the same in both engines. " +
      "The Scorecard gate reads scores from posture's database, which CEL cannot, so it is a webhook under every engine. " +
      "Where CEL cannot say what `authorize` says, the webhook keeps the decision: protected-objects' update of a terminating protected object that removes finalizers (only-removes-finalizers needs every other field of an object of any kind compared), and a `protectedNamespaces` pattern that uses lookaround or a back-reference (JavaScript has them, CEL's RE2 does not: protected-namespaces then gets no policy and stays a webhook at its failure policy). " +
      'test/e2e/admission-vap.test.ts sends every table case of the three webhooks to a real API server with only the policies installed and checks the verdicts agree; ' +
      'bench/admission-apiserver.ts measures both ([figures](../benchmarks/admission-apiserver.md)).',
  ];
  for (const w of registry.webhooks) {
    const d = w.declaration;
    const doc = d.doc;
    out.push('', `## ${w.name}`, '', doc.summary, '', `- **Protects:** ${doc.protects}`, `- **Exempt:** ${doc.exempt}`);
    if (d.exempt?.length) out.push(`  - ${d.exempt.map((e) => describeExemption(e, config)).join('; ')}`);
    out.push(
      `- **Failure policy:** ${doc.failurePolicy}`,
      `- **Timeout:** ${doc.timeout}`,
      `- **Enforcement:** \`${w.enforcement}\`` +
        (w.failurePolicy !== d.failurePolicy ? ` (so the generated failurePolicy is ${w.failurePolicy}: ${w.enforcement} never refuses)` : ''),
      `- **Rules:** ${rulesText(d)}`,
    );
    if (d.objectSelector) out.push(`- **Object selector:** \`${JSON.stringify(d.objectSelector)}\` (matched against the new and the stored object)`);
    out.push(
      `- **Not sent:** ${w.excludedNamespaces.length > 0 ? `namespaces ${w.excludedNamespaces.map((n) => `\`${n}\``).join(', ')}` : 'no namespace is excluded'}${w.exclusions.includes('leases') ? '; leases' : ''}`,
    );
    for (const [k, why] of Object.entries(doc.optOuts ?? {})) out.push(`- **Opts out of the default exclusion \`${k}\`:** ${why}`);
    if (d.namespaceLabel)
      out.push(
        d.namespaceLabel.valuesFrom
          ? `- **Namespace label tiers:** \`${d.namespaceLabel.key}\` in the values of \`${d.namespaceLabel.valuesFrom}\` (${SETTING_ENV.get(d.namespaceLabel.valuesFrom)}; one webhook entry each, generated from the configuration; absent: the default; anything else: its own entry)`
          : `- **Namespace label tiers:** \`${d.namespaceLabel.key}\` in ${d.namespaceLabel.values.map((v) => `\`${v}\``).join(', ')} (one webhook entry each; absent: the default; anything else: its own entry)`,
      );
    if (doc.settings?.length) out.push(`- **Settings:** ${doc.settings.map((s) => `\`${s}\` (${SETTING_ENV.get(s)})`).join(', ')}`);
    const engine = engineOf(w);
    out.push(
      engine.policy
        ? `- **Policy:** ValidatingAdmissionPolicy \`${engine.policy}\` (the same decision in CEL${engine.beyondCel ? `; kept by the webhook, at its failure policy: ${engine.beyondCel}` : ''})`
        : `- **Policy:** none, a webhook under every engine: ${engine.webhookOnly}`,
    );
    out.push(
      `- **Paths:** ${w.entries.length === 1 ? `\`${w.entries[0].path}\`` : `\`${d.path}\`, \`${d.path}/label/<value>\`, \`${d.path}/label-invalid\``}`,
      '',
      'Denials read:',
      '',
      ...doc.denials.map((m) => `- \`${m}\``),
    );
    const custom = d.matchConditions ?? [];
    if (custom.length > 0)
      out.push('', 'Match conditions (CEL; the request is sent only when all are true):', '', ...custom.map((c) => `- \`${c.name}\`: \`${c.expression}\``));
  }
  return `${out.join('\n')}\n`;
}
