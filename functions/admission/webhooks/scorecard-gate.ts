// scorecard-gate: workloads that declare their source repository are judged by that repository's
// latest OpenSSF Scorecard score, read from an in-memory cache (never the database on this path).
import { Allowed, Denied, Errored, Warned, defineWebhook, type AdmissionRequest, type NamespaceLabel, type Verdict } from '../../../lib/admission/index.ts';
import { parseRepo, type ParseResult } from '../../../lib/repo/identity.ts';
import { annotationsOf, celMetaIs, MIN_SCORE_LABEL, podTemplateOf, SOURCE_REPO_ANNOTATION } from '../labels.ts';
import type { AdmissionServices } from '../services.ts';

interface Settings {
  threshold: number;
  unknown: 'allow' | 'warn' | 'deny';
  allowedHosts: readonly string[];
  /** parseRepo is pure, so its answers are remembered (bounded): the hot path parses a repository once. */
  parsed: Map<string, ParseResult>;
}

const PARSED_MAX = 10_000;

function parseOnce(value: string, settings: Settings): ParseResult {
  let r = settings.parsed.get(value);
  if (r === undefined) {
    r = parseRepo(value, settings.allowedHosts);
    if (settings.parsed.size >= PARSED_MAX) settings.parsed.clear();
    settings.parsed.set(value, r);
  }
  return r;
}

/** Namespace label values the API server routes to their own tier (whole scores 0 to 10). */
export const MIN_SCORE_VALUES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10'] as const;

export function lowScoreMessage(repo: string, score: number, date: string, threshold: number, fromNamespace: boolean): string {
  const day = date ? ` (${date.slice(0, 10)})` : '';
  return `repository ${repo} scores ${score} on OpenSSF Scorecard${day}, below the minimum of ${threshold}${fromNamespace ? ` set by this namespace's ${MIN_SCORE_LABEL} label` : ''}`;
}

export function unknownMessage(repo: string): string {
  return `repository ${repo} has no OpenSSF Scorecard score in posture yet`;
}

export function invalidRepoMessage(value: string, reason: string): string {
  return `annotation ${SOURCE_REPO_ANNOTATION}=${JSON.stringify(value.slice(0, 200))} is not a repository posture can judge: ${reason}`;
}

export const INVALID_LABEL_MESSAGE = `this namespace's ${MIN_SCORE_LABEL} label must be a whole number from 0 to 10`;

/** The repositories an object declares: on itself or on the pod template it stamps out. */
export function declaredRepos(request: AdmissionRequest): string[] {
  const own = annotationsOf(request.object)[SOURCE_REPO_ANNOTATION];
  const template = annotationsOf(podTemplateOf(request.object))[SOURCE_REPO_ANNOTATION];
  const out: string[] = [];
  if (typeof own === 'string') out.push(own);
  if (typeof template === 'string' && template !== own) out.push(template);
  return out;
}

function thresholdOf(label: NamespaceLabel | undefined, settings: Settings): { threshold: number; fromNamespace: boolean } | undefined {
  if (!label || label.state === 'absent') return { threshold: settings.threshold, fromNamespace: false };
  if (label.state === 'invalid') return undefined;
  return { threshold: Number(label.value), fromNamespace: true };
}

const annotated = (root: string) =>
  [[], ['spec', 'template'], ['spec', 'jobTemplate', 'spec', 'template']].map((steps) => celMetaIs(root, steps, 'annotations', SOURCE_REPO_ANNOTATION)).join(' || ');

export default defineWebhook<AdmissionServices, Settings>({
  name: 'scorecard-gate',
  path: '/scorecard-gate',
  rules: [
    { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    { operations: ['CREATE', 'UPDATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], scope: 'Namespaced' },
    { operations: ['CREATE', 'UPDATE'], apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
  ],
  matchConditions: [{ name: 'declares-source-repo', expression: `object != null && (${annotated('object')})` }],
  namespaceLabel: { key: MIN_SCORE_LABEL, values: MIN_SCORE_VALUES },
  failurePolicy: 'Ignore',
  timeoutSeconds: 3,
  enforcement: 'deny',
  exempt: [{ group: 'system:serviceaccounts:kube-system' }, { user: 'system:kube-controller-manager' }],
  doc: {
    summary: 'Workloads that declare their source repository are admitted only if its latest OpenSSF Scorecard score reaches the threshold.',
    protects:
      'Pods (create) and the workloads that create them: Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs (create and update), ' +
      'when the object or its pod template carries the annotation `posture.dev/source-repo` (e.g. `github.com/org/repo`). ' +
      'A score below gateThreshold (default 5) is denied, or warned under `warn` enforcement. A namespace label `posture.dev/min-score` (a whole number 0-10) replaces the threshold there; ' +
      'the API server itself reads it (one webhook entry per value, selected by namespaceSelector), so no namespace watch is needed and a namespace created a moment ago is judged right; any other value is refused with a message. ' +
      'A repository posture has no score for follows gateUnknown (allow, warn or deny).',
    exempt:
      "The control plane's own identities: kube-system's service accounts (group `system:serviceaccounts:kube-system`: the ReplicaSet, Job and CronJob controllers stamping out pods of workloads already judged) and `system:kube-controller-manager`, " +
      'so a score that drops later never stops a running workload from scaling or healing. Nobody else: the gate judges repositories, not people. Workloads in kube-system, kube-node-lease and posture\'s own namespace are not judged (default exclusions).',
    failurePolicy:
      'Ignore: the annotation is declared by the workload\'s author, so the gate is a guardrail rather than a security boundary; failing closed would turn a database or webhook outage into a deployment outage. ' +
      'Scores not loaded yet or stale (older than 10 times gateRefreshSeconds) follow the same policy: the workload is admitted with a warning the client sees.',
    timeout: '3 s: scores are served from memory (the database is never on this path), so a longer wait only delays deployments when the webhook is unreachable.',
    denials: [
      lowScoreMessage('<repo>', 0, '<date>', 5, false),
      lowScoreMessage('<repo>', 0, '<date>', 5, true),
      unknownMessage('<repo>'),
      invalidRepoMessage('<value>', '<reason>'),
      INVALID_LABEL_MESSAGE,
    ],
    settings: ['gateThreshold', 'gateUnknown', 'gateCacheSize', 'gateRefreshSeconds', 'allowedHosts'],
  },
  prepare: (config) => ({ threshold: config.gateThreshold, unknown: config.gateUnknown, allowedHosts: config.allowedHosts, parsed: new Map() }),
  authorize(request, { settings, services, namespaceLabel, now }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return Allowed();
    if (request.subResource) return Allowed('subresources are not judged');
    const repos = declaredRepos(request);
    if (repos.length === 0) return Allowed();
    const t = thresholdOf(namespaceLabel, settings);
    if (!t) return Denied(INVALID_LABEL_MESSAGE);
    const warnings: string[] = [];
    for (const value of repos) {
      const parsed = parseOnce(value, settings);
      if (!parsed.ok) return Denied(invalidRepoMessage(value, parsed.reason));
      const found = services.scores.lookup(parsed.repo.key, now);
      if (found.state === 'unavailable') return Errored(`Scorecard scores are unavailable: ${found.reason}`, 503);
      if (found.state === 'unknown') {
        if (settings.unknown === 'deny') return Denied(unknownMessage(parsed.repo.canonical));
        if (settings.unknown === 'warn') warnings.push(unknownMessage(parsed.repo.canonical));
        continue;
      }
      if (found.score < t.threshold) return Denied(lowScoreMessage(found.repo, found.score, found.date, t.threshold, t.fromNamespace));
    }
    const verdict: Verdict = Allowed();
    return warnings.length > 0 ? Warned(warnings, verdict) : verdict;
  },
});
