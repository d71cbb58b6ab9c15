// scorecard-gate: workloads that declare their source repository are judged by that repository's
// latest OpenSSF Scorecard score, read from an in-memory cache (never the database on this path).
import {
  type AdmissionRequest,
  Allowed,
  Denied,
  defineWebhook,
  type NamespaceLabel,
  type RuleWithOperations,
  Undecided,
  type Verdict,
  Warned,
} from '../../../lib/admission/index.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { declaredRepos } from '../../../lib/repo/declared.ts';
import { type ParseResult, parseRepo, type RepoId } from '../../../lib/repo/identity.ts';
import { CONTROLLER_MANAGER, controller, controllers, listed, WORKLOAD_CONTROLLERS } from '../identities.ts';
import { celMetaIs, generationOf, MIN_SCORE_LABEL, podTemplateOf, SOURCE_REPO_ANNOTATION, sameJson } from '../labels.ts';

/** The longest annotation value parsed at all (parseRepo's own limit): a longer one is refused unread. */
export const MAX_SOURCE_REPO_CHARS = 300;
/** What the remembered parses may hold, keys and answers counted (about 3,000 repositories). */
export const PARSED_BUDGET_BYTES = 1 << 20;
/** A remembered parse's cost beyond its key: the RepoId's five strings and the map entry. */
const PARSED_ENTRY_OVERHEAD = 320;

/**
 * parseRepo is pure, so its valid answers are remembered: the hot path parses a repository once.
 * Bounded by bytes (oldest out first); an invalid value is never kept (anyone can send endless
 * distinct ones) and a value over MAX_SOURCE_REPO_CHARS never reaches here.
 */
export class ParsedRepos {
  readonly #map = new Map<string, RepoId>();
  readonly #budget: number;
  #bytes = 0;

  constructor(budgetBytes = PARSED_BUDGET_BYTES) {
    this.#budget = budgetBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  parse(value: string, allowedHosts: readonly string[]): ParseResult {
    const hit = this.#map.get(value);
    if (hit) return { ok: true, repo: hit };
    const r = parseRepo(value, allowedHosts);
    if (!r.ok) return r;
    const cost = 2 * value.length + 2 * (r.repo.canonical.length * 2 + r.repo.host.length + r.repo.owner.length + r.repo.name.length) + PARSED_ENTRY_OVERHEAD;
    this.#map.set(value, r.repo);
    this.#bytes += cost;
    while (this.#bytes > this.#budget && this.#map.size > 0) {
      const [oldest, repo] = this.#map.entries().next().value as [string, RepoId];
      this.#map.delete(oldest);
      this.#bytes -= 2 * oldest.length + 2 * (repo.canonical.length * 2 + repo.host.length + repo.owner.length + repo.name.length) + PARSED_ENTRY_OVERHEAD;
    }
    return r;
  }
}

interface Settings {
  threshold: number;
  unknown: 'allow' | 'warn' | 'deny';
  allowedHosts: readonly string[];
  parsed: ParsedRepos;
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

/** The repositories an object declares (lib/repo/declared.ts: the audit reads them the same way). */
export { declaredRepos };

/**
 * Whether an UPDATE is judged: only one that changes the declared repository or the pod template
 * (what would run). Scaling, relabelling, removing a finalizer while the object is deleted, or a
 * controller's bookkeeping change neither, so a score that fell after the workload was admitted
 * never wedges it (a low-score Deployment can still be scaled to 0 and deleted).
 */
export function changesWhatRuns(request: AdmissionRequest): boolean {
  if (request.operation !== 'UPDATE' || request.oldObject === null) return true;
  const before = declaredRepos(request.oldObject);
  const after = declaredRepos(request.object);
  if (before.length !== after.length || before.some((r, i) => r !== after[i])) return true;
  // The API server raises metadata.generation, before admission, on any change of the spec of
  // every kind the gate judges on UPDATE (Deployments, StatefulSets, DaemonSets, ReplicaSets,
  // Jobs, CronJobs), and a client cannot set it: the same generation means the same pod template,
  // so a metadata-only update (an annotation, a label) needs no walk of two templates.
  const generation = generationOf(request.object);
  if (generation !== undefined && generation === generationOf(request.oldObject)) return false;
  return !sameJson(podTemplateOf(request.oldObject), podTemplateOf(request.object));
}

function thresholdOf(label: NamespaceLabel | undefined, settings: Settings): { threshold: number; fromNamespace: boolean } | undefined {
  if (!label || label.state === 'absent') return { threshold: settings.threshold, fromNamespace: false };
  if (label.state === 'invalid') return undefined;
  return { threshold: Number(label.value), fromNamespace: true };
}

/** CEL: the object, its pod template or its Job template declares a repository. */
export const annotated = (root: string) =>
  [[], ['spec', 'template'], ['spec', 'jobTemplate'], ['spec', 'jobTemplate', 'spec', 'template']]
    .map((steps) => celMetaIs(root, steps, 'annotations', SOURCE_REPO_ANNOTATION))
    .join(' || ');

/** The workloads a declared repository is judged on (the scorecard-policy webhook judges the same). */
export const WORKLOAD_RULES: RuleWithOperations[] = [
  { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
  // The replication-controller is exempt like the others, so what it copies is judged here.
  { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['replicationcontrollers'], scope: 'Namespaced' },
  {
    operations: ['CREATE', 'UPDATE'],
    apiGroups: ['apps'],
    apiVersions: ['v1'],
    resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
    scope: 'Namespaced',
  },
  { operations: ['CREATE', 'UPDATE'], apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
];

export default defineWebhook<AdmissionServices, Settings>({
  name: 'scorecard-gate',
  path: '/scorecard-gate',
  rules: WORKLOAD_RULES,
  matchConditions: [{ name: 'declares-source-repo', expression: `object != null && (${annotated('object')})` }],
  namespaceLabel: { key: MIN_SCORE_LABEL, values: MIN_SCORE_VALUES },
  failurePolicy: 'Ignore',
  timeoutSeconds: 3,
  enforcement: 'deny',
  exempt: controllers(WORKLOAD_CONTROLLERS),
  doc: {
    summary: 'Workloads that declare their source repository are admitted only if its latest OpenSSF Scorecard score reaches the threshold.',
    protects:
      'Pods (create) and the workloads that create them: Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs (create, and an update that changes the declared repository or the pod template), ' +
      "when the object, its pod template or (a CronJob's) Job template carries the annotation `posture.dev/source-repo` (e.g. `github.com/org/repo`). " +
      'Every kind whose controller is exempt below is judged here, since the controller copies what was judged. ' +
      'Any other update (scaling, even to 0; labels; removing a finalizer while the object is deleted) and every subresource (scale, status) is admitted, so a score that falls after a workload was admitted never keeps it from being scaled down or deleted. ' +
      `An annotation value longer than ${MAX_SOURCE_REPO_CHARS} characters is refused without being parsed. ` +
      'A score below gateThreshold (default 5) is denied, or warned under `warn` enforcement. A namespace label `posture.dev/min-score` (a whole number 0-10) replaces the threshold there; ' +
      'the API server itself reads it (one webhook entry per value, selected by namespaceSelector), so no namespace watch is needed and a namespace created a moment ago is judged right; any other value is refused with a message. ' +
      'A repository posture has no score for follows gateUnknown (allow, warn or deny).',
    exempt:
      `The controllers that stamp out pods, ReplicaSets and Jobs from a template already judged, by name: \`system:serviceaccount:kube-system:\` followed by ${listed(WORKLOAD_CONTROLLERS)} (e.g. \`${controller('replicaset-controller')}\`), and \`${CONTROLLER_MANAGER}\`, ` +
      "so a score that drops later never stops a running workload from scaling or healing. Nobody else, not other service accounts of kube-system: the gate judges repositories, not people. Workloads in kube-system, kube-node-lease and posture's own namespace are not judged (default exclusions).",
    failurePolicy:
      "Ignore: the annotation is declared by the workload's author, so the gate is a guardrail rather than a security boundary; failing closed would turn a database or webhook outage into a deployment outage. " +
      'Scores not loaded yet or stale (older than 10 times gateRefreshSeconds) follow the same policy: the workload is admitted with a warning the client sees.',
    timeout:
      '3 s: scores are served from memory (the database is never on this path), so a longer wait only delays deployments when the webhook is unreachable.',
    denials: [
      lowScoreMessage('<repo>', 0, '<date>', 5, false),
      lowScoreMessage('<repo>', 0, '<date>', 5, true),
      unknownMessage('<repo>'),
      invalidRepoMessage('<value>', '<reason>'),
      INVALID_LABEL_MESSAGE,
    ],
    settings: ['gateThreshold', 'gateUnknown', 'gateCacheSize', 'gateRefreshSeconds', 'allowedHosts'],
  },
  prepare: (config) => ({ threshold: config.gateThreshold, unknown: config.gateUnknown, allowedHosts: config.allowedHosts, parsed: new ParsedRepos() }),
  authorize(request, { settings, services, namespaceLabel, now }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return Allowed();
    if (request.subResource) return Allowed('subresources are not judged');
    const repos = declaredRepos(request.object);
    if (repos.length === 0) return Allowed();
    if (!changesWhatRuns(request)) return Allowed();
    const t = thresholdOf(namespaceLabel, settings);
    if (!t) return Denied(INVALID_LABEL_MESSAGE);
    const warnings: string[] = [];
    for (const value of repos) {
      if (value.length > MAX_SOURCE_REPO_CHARS) return Denied(invalidRepoMessage(value, `longer than ${MAX_SOURCE_REPO_CHARS} characters`));
      const parsed = settings.parsed.parse(value, settings.allowedHosts);
      if (!parsed.ok) return Denied(invalidRepoMessage(value, parsed.reason));
      const found = services.scores.lookup(parsed.repo.key, now);
      if (found.state === 'unavailable') return Undecided(`Scorecard scores are unavailable: ${found.reason}`, 503);
      if (found.state === 'unknown') {
        if (settings.unknown === 'deny') return Denied(unknownMessage(parsed.repo.canonical));
        if (settings.unknown === 'warn') warnings.push(unknownMessage(parsed.repo.canonical));
        continue;
      }
      if (found.score < t.threshold) return Denied(lowScoreMessage(parsed.repo.canonical, found.score, found.date, t.threshold, t.fromNamespace));
    }
    const verdict: Verdict = Allowed();
    return warnings.length > 0 ? Warned(warnings, verdict) : verdict;
  },
});
