// scorecard-policy: the Scorecard gate's policy half. A workload that declares its source
// repository is judged by the Scorecard policy its namespace selects (label posture.dev/policy),
// or by the first policy whose repositories match; the verdicts are evaluated when scores or
// policies load (lib/admission/policy-verdicts.ts), so a request only reads one.
import { type AdmissionRequest, Allowed, Denied, defineWebhook, type NamespaceLabel, Undecided, type Verdict, Warned } from '../../../lib/admission/index.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { CONTROLLER_MANAGER, controller, controllers, listed, WORKLOAD_CONTROLLERS } from '../identities.ts';
import { POLICY_TIER_LABEL } from '../labels.ts';
import {
  annotated,
  changesWhatRuns,
  declaredRepos,
  invalidRepoMessage,
  MAX_SOURCE_REPO_CHARS,
  ParsedRepos,
  unknownMessage,
  WORKLOAD_RULES,
} from './scorecard-gate.ts';

interface Settings {
  unknown: 'allow' | 'warn' | 'deny';
  allowedHosts: readonly string[];
  parsed: ParsedRepos;
}

export function policyFailMessage(repo: string, policy: string, reasons: string, fromNamespace: boolean): string {
  return `repository ${repo} fails the Scorecard policy ${policy}${fromNamespace ? ` selected by this namespace's ${POLICY_TIER_LABEL} label` : ''}: ${reasons}`;
}

export function policyUnknownMessage(repo: string, policy: string, reasons: string): string {
  return `repository ${repo} cannot be judged by the Scorecard policy ${policy}: ${reasons}`;
}

export function noSuchPolicyMessage(name: string): string {
  return `this namespace's ${POLICY_TIER_LABEL} label selects the policy ${name}, which is not in force (not in POSTURE_POLICY_FILE)`;
}

export const INVALID_POLICY_LABEL_MESSAGE = `this namespace's ${POLICY_TIER_LABEL} label must name one of the policy tiers (POSTURE_GATE_POLICY_TIERS)`;

function tierOf(label: NamespaceLabel | undefined): { name: string | undefined } | undefined {
  if (!label || label.state === 'absent') return { name: undefined };
  if (label.state === 'invalid') return undefined;
  return { name: label.value };
}

export default defineWebhook<AdmissionServices, Settings>({
  name: 'scorecard-policy',
  path: '/scorecard-policy',
  rules: WORKLOAD_RULES,
  matchConditions: [{ name: 'declares-source-repo', expression: `object != null && (${annotated('object')})` }],
  namespaceLabel: { key: POLICY_TIER_LABEL, values: [], valuesFrom: 'gatePolicyTiers' },
  failurePolicy: 'Ignore',
  timeoutSeconds: 3,
  enforcement: 'deny',
  exempt: controllers(WORKLOAD_CONTROLLERS),
  doc: {
    summary:
      "Workloads that declare their source repository are admitted only if its latest OpenSSF Scorecard result passes the Scorecard policy that applies: the one the namespace's tier selects, else the first whose repositories match.",
    protects:
      'The same objects and operations as scorecard-gate (pods on create; Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs on create, and on an update that changes the declared repository or the pod template), ' +
      'when they carry the annotation `posture.dev/source-repo`. ' +
      'The policies come from POSTURE_POLICY_FILE (ScorecardPolicy documents, see docs/use/policy.md). A namespace label `posture.dev/policy` naming one of gatePolicyTiers selects that policy by name; without the label, the first policy whose `repositories` match the repository applies, and with none matching the workload is admitted. ' +
      "A verdict `fail` (a required check below its minimum, or the policy's own aggregate below its minimumScore) is denied, or warned under `warn` enforcement, naming the failing rules. " +
      "A verdict `unknown` (a required check missing, inconclusive or in error; the newest result older than the policy's maxAge), a repository with no score, and a tier whose policy is not in force follow gateUnknown (allow, warn or deny). " +
      'Verdicts are evaluated when scores or policies load, never per request; a changed policy file is in force for the gate once every repository has been judged under it.',
    exempt:
      `As scorecard-gate: the controllers that stamp out pods, ReplicaSets and Jobs from a template already judged: \`system:serviceaccount:kube-system:\` followed by ${listed(WORKLOAD_CONTROLLERS)} (e.g. \`${controller('replicaset-controller')}\`), and \`${CONTROLLER_MANAGER}\`. ` +
      "Workloads in kube-system, kube-node-lease and posture's own namespace are not judged (default exclusions).",
    failurePolicy:
      "Ignore: as for scorecard-gate, the annotation is the workload author's declaration, so this is a guardrail; failing closed would turn an outage into a deployment outage. Scores not loaded yet or stale, and policies still being applied, admit with a warning.",
    timeout: '3 s: verdicts are served from memory, so a longer wait only delays deployments when the webhook is unreachable.',
    denials: [
      policyFailMessage('<repo>', '<policy>', '<failing rules>', false),
      policyFailMessage('<repo>', '<policy>', '<failing rules>', true),
      policyUnknownMessage('<repo>', '<policy>', '<reasons>'),
      unknownMessage('<repo>'),
      noSuchPolicyMessage('<name>'),
      invalidRepoMessage('<value>', '<reason>'),
      INVALID_POLICY_LABEL_MESSAGE,
    ],
    settings: ['policyFile', 'gatePolicyTiers', 'gateUnknown', 'gateRefreshSeconds', 'allowedHosts'],
  },
  prepare: (config) => ({ unknown: config.gateUnknown, allowedHosts: config.allowedHosts, parsed: new ParsedRepos() }),
  authorize(request: AdmissionRequest, { settings, services, namespaceLabel, now }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return Allowed();
    if (request.subResource) return Allowed('subresources are not judged');
    const repos = declaredRepos(request.object);
    if (repos.length === 0) return Allowed();
    if (!changesWhatRuns(request)) return Allowed();
    const tier = tierOf(namespaceLabel);
    if (!tier) return Denied(INVALID_POLICY_LABEL_MESSAGE);
    if (!services.scores.lookupPolicy) return Allowed('no policy verdicts in this process');
    // No policy in force and no tier asked for one: the threshold gate answers alone (an
    // unscored or malformed repository is refused once, by one webhook).
    if (tier.name === undefined && services.scores.policiesInForce?.() === false) return Allowed();
    const warnings: string[] = [];
    const unknown = (message: string): Verdict | undefined => {
      if (settings.unknown === 'deny') return Denied(message);
      if (settings.unknown === 'warn') warnings.push(message);
      return undefined;
    };
    for (const value of repos) {
      if (value.length > MAX_SOURCE_REPO_CHARS) return Denied(invalidRepoMessage(value, `longer than ${MAX_SOURCE_REPO_CHARS} characters`));
      const parsed = settings.parsed.parse(value, settings.allowedHosts);
      if (!parsed.ok) return Denied(invalidRepoMessage(value, parsed.reason));
      const found = services.scores.lookupPolicy(parsed.repo.key, tier.name, now);
      let refused: Verdict | undefined;
      switch (found.state) {
        case 'unavailable':
          return Undecided(`Scorecard policy verdicts are unavailable: ${found.reason}`, 503);
        case 'none':
          continue;
        case 'unknown':
          refused = unknown(unknownMessage(parsed.repo.canonical));
          break;
        case 'no-such-policy':
          refused = unknown(noSuchPolicyMessage(found.name));
          break;
        case 'judged':
          if (found.verdict === 'fail') return Denied(policyFailMessage(parsed.repo.canonical, found.policy, found.reasons, tier.name !== undefined));
          if (found.verdict === 'unknown') refused = unknown(policyUnknownMessage(parsed.repo.canonical, found.policy, found.reasons));
          break;
      }
      if (refused) return refused;
    }
    const verdict: Verdict = Allowed();
    return warnings.length > 0 ? Warned(warnings, verdict) : verdict;
  },
});
