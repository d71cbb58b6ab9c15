// The Scorecard Job, as a pure function of its repositories, their due windows and the config.
// One repository runs `--repo=`; a shard of several runs `--repos=a,b,c` (Scorecard v5.4.0 and
// later scan them one after another and print one result per repository), so a repository
// costs the cluster a fraction of a Job, a pod and their events. `posture jobs render` prints
// exactly this, so operators review what will run.
import { createHash } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import type { RepoId } from '../repo/identity.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'posture';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const REPO_ID_LABEL = 'posture.dev/repo-id';
/**
 * The Job's own name, as a label: a delete collection selects Jobs by label only, so this is
 * what lets the harvester delete many harvested Jobs by name in one call.
 */
export const JOB_NAME_LABEL = 'posture.dev/job';
export const REPO_ANNOTATION = 'posture.dev/repo';
/** A shard's repositories, canonical and comma-separated, in the order Scorecard scans them. */
export const REPOS_ANNOTATION = 'posture.dev/repositories';
/** How many repositories a Job scores (a label: selectable, and bounded like any label value). */
export const SHARD_SIZE_LABEL = 'posture.dev/shard-size';
export const TICK_ANNOTATION = 'posture.dev/tick-slot';
export const DUE_ANNOTATION = 'posture.dev/due-window';
export const CHECKS_ANNOTATION = 'posture.dev/checks';
export const SCORECARD_CONTAINER = 'scorecard';
/** Selects every Job posture manages. */
export const POSTURE_JOB_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** A label-safe, stable id of a repository: never the raw name (labels allow 63 DNS-ish characters). */
export function repoIdLabel(repo: RepoId): string {
  return createHash('sha256').update(repo.key).digest('hex').slice(0, 20);
}

/**
 * `sc-<readable part>-<hash>`: at most 63 characters (a Job name becomes a pod label value),
 * DNS-1123, and the same for the same repository and due window, so a retried create is a 409.
 */
export function jobName(repo: RepoId, dueWindow: Date): string {
  return nameOf(repo, createHash('sha256').update(`${repo.key}\n${dueWindow.toISOString()}`).digest('hex').slice(0, 12));
}

/**
 * A shard's name: its first repository's readable part and a hash of every (repository, due
 * window) pair, sorted, so the same claims name the same Job (a retried create is a 409) in any
 * order. A shard of one is named as its one repository's Job.
 */
export function shardJobName(members: readonly ShardMember[]): string {
  if (members.length === 0) throw new Error('a shard has at least one repository');
  if (members.length === 1) return jobName(members[0].repo, members[0].dueWindow);
  const pairs = members.map((m) => `${m.repo.key}\n${m.dueWindow.toISOString()}`).sort();
  return nameOf(members[0].repo, createHash('sha256').update(pairs.join('\n\n')).digest('hex').slice(0, 12));
}

function nameOf(repo: RepoId, hash: string): string {
  const readable = `${repo.owner}-${repo.name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 63 - 'sc--'.length - hash.length - 6)
    .replace(/-$/, '');
  return readable ? `sc-${readable}-${hash}` : `sc-${hash}`;
}

export type JobConfig = Pick<
  Config,
  | 'namespace'
  | 'scorecardImage'
  | 'scorecardChecks'
  | 'githubTokenSecret'
  | 'githubTokenSecretKey'
  | 'githubHost'
  | 'githubCaConfigMap'
  | 'jobDeadlineSeconds'
  | 'jobTtlSeconds'
  | 'jobMemoryLimit'
  | 'jobStorageLimit'
>;

/** Where the GitHub CA bundle (POSTURE_GITHUB_CA_CONFIGMAP) is mounted, read-only. */
export const GITHUB_CA_DIR = '/etc/posture/github-ca';

export interface JobInput {
  repo: RepoId;
  dueWindow: Date;
  tickSlot?: string;
}

/** One repository of a shard and the due window its claim serves. */
export interface ShardMember {
  repo: RepoId;
  dueWindow: Date;
}

export interface ShardInput {
  /** In the order Scorecard scans them (the claims' order: priority, then oldest due). */
  members: readonly ShardMember[];
  tickSlot?: string;
}

export function scorecardArgs(repo: RepoId, checks: readonly string[]): string[] {
  return shardArgs([repo], checks);
}

/** `--repo=` for one repository, `--repos=a,b,c` for a shard (Scorecard v5.4.0 and later). */
export function shardArgs(repos: readonly RepoId[], checks: readonly string[]): string[] {
  const args = [repos.length === 1 ? `--repo=${repos[0].canonical}` : `--repos=${repos.map((r) => r.canonical).join(',')}`, '--format=json', '--show-details'];
  if (checks.length > 0) args.push(`--checks=${checks.join(',')}`);
  return args;
}

/** A Job's deadline: the per-repository deadline times the repositories it scores. */
export function shardDeadlineSeconds(jobDeadlineSeconds: number, size: number): number {
  return jobDeadlineSeconds * Math.max(1, size);
}

/**
 * How long a claim holds a repository: the configured lease, longer by the deadline of the
 * repositories a shard may scan before it (a claim must outlast its Job's deadline, which grows
 * with the shard), so the lease's margin over a Job's deadline stays what was configured.
 */
export function claimLeaseSeconds(config: Pick<Config, 'leaseSeconds' | 'jobDeadlineSeconds' | 'shardSize'>): number {
  return config.leaseSeconds + config.jobDeadlineSeconds * (Math.max(1, config.shardSize) - 1);
}

/**
 * The repositories a posture Job scores, as its annotations name them: `posture.dev/repositories`
 * (a shard) or `posture.dev/repo` (one). Canonical names, not yet validated.
 */
export function jobRepositories(annotations: Record<string, string> | undefined): string[] {
  const list = annotations?.[REPOS_ANNOTATION];
  if (list !== undefined) return list === '' ? [] : list.split(',');
  const one = annotations?.[REPO_ANNOTATION];
  return one === undefined || one === '' ? [] : [one];
}

const UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** The smaller of two quantities (a request may not exceed its limit). */
export function minQuantity(a: string, b: string): string {
  const bytes = (q: string) => {
    const m = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T|)$/.exec(q);
    return m ? Number(m[1]) * UNITS[m[2]] : Number.NaN;
  };
  return bytes(b) < bytes(a) ? b : a;
}

/** The pod's own deadline: before the Job's, so the kubelet, not the job controller, ends a pod that ran. */
export function podDeadlineSeconds(jobDeadlineSeconds: number): number {
  return Math.max(30, jobDeadlineSeconds - 30);
}

export function buildScorecardJob(input: JobInput, config: JobConfig): V1Job {
  return buildShardJob({ members: [{ repo: input.repo, dueWindow: input.dueWindow }], tickSlot: input.tickSlot }, config);
}

/** The Job of a shard: one repository is exactly the one-repository Job. */
export function buildShardJob(input: ShardInput, config: JobConfig): V1Job {
  const { members } = input;
  const name = shardJobName(members);
  const repos = members.map((m) => m.repo);
  const one = repos.length === 1;
  // A shard's Jobs are selected by name (posture.dev/job) and their repositories read from the
  // annotation; a label per repository would not fit in a label's 63 characters.
  const labels: Record<string, string> = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [COMPONENT_LABEL]: 'scorecard',
    ...(one ? { [REPO_ID_LABEL]: repoIdLabel(repos[0]) } : { [SHARD_SIZE_LABEL]: String(repos.length) }),
  };
  const reposAnnotation: Record<string, string> = one
    ? { [REPO_ANNOTATION]: repos[0].canonical }
    : { [REPOS_ANNOTATION]: repos.map((r) => r.canonical).join(',') };
  const oldestDue = new Date(Math.min(...members.map((m) => m.dueWindow.getTime())));
  const annotations: Record<string, string> = {
    ...reposAnnotation,
    [DUE_ANNOTATION]: oldestDue.toISOString(),
    [CHECKS_ANNOTATION]: config.scorecardChecks.length > 0 ? config.scorecardChecks.join(',') : 'all',
  };
  if (input.tickSlot) annotations[TICK_ANNOTATION] = input.tickSlot;
  const deadline = shardDeadlineSeconds(config.jobDeadlineSeconds, repos.length);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: config.namespace, labels: { ...labels, [JOB_NAME_LABEL]: name }, annotations },
    spec: {
      backoffLimit: 0, // a check error exits 1 after printing JSON: a retry would only spend GitHub quota
      // An eviction, preemption or node drain fails the Job at once with reason PodFailurePolicy
      // and a message naming DisruptionTarget, which the harvester classifies as infrastructure
      // (retried soon through the scheduler's budget, never held against the repository).
      podFailurePolicy: { rules: [{ action: 'FailJob', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
      // The backstop for a pod no kubelet started (never scheduled): the job controller deletes
      // it at this deadline, and only its Events say why (lib/jobs/events.ts).
      activeDeadlineSeconds: deadline,
      ttlSecondsAfterFinished: config.jobTtlSeconds,
      template: {
        metadata: { labels: { ...labels }, annotations: { ...reposAnnotation } },
        spec: {
          // The kubelet ends the pod first and keeps it: its log (Scorecard waiting on GitHub's rate
          // limit, and until when) and its status (a missing Secret) still say why at harvest time.
          activeDeadlineSeconds: podDeadlineSeconds(deadline),
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: SCORECARD_CONTAINER,
              image: config.scorecardImage,
              imagePullPolicy: 'IfNotPresent',
              args: shardArgs(repos, config.scorecardChecks),
              env: [
                {
                  name: 'GITHUB_AUTH_TOKEN',
                  valueFrom: { secretKeyRef: { name: config.githubTokenSecret, key: config.githubTokenSecretKey } },
                },
                { name: 'HOME', value: '/tmp' },
                { name: 'TMPDIR', value: '/tmp' },
                // GitHub Enterprise Server: Scorecard sends its REST and GraphQL calls there.
                ...(config.githubHost ? [{ name: 'GH_HOST', value: config.githubHost }] : []),
                ...(config.githubCaConfigMap ? [{ name: 'SSL_CERT_FILE', value: `${GITHUB_CA_DIR}/ca.crt` }] : []),
              ],
              resources: {
                requests: { cpu: '250m', memory: minQuantity('256Mi', config.jobMemoryLimit), 'ephemeral-storage': minQuantity('1Gi', config.jobStorageLimit) },
                limits: { cpu: '1', memory: config.jobMemoryLimit, 'ephemeral-storage': config.jobStorageLimit },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                ...(config.githubCaConfigMap ? [{ name: 'github-ca', mountPath: GITHUB_CA_DIR, readOnly: true }] : []),
              ],
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          // The clone lives in /tmp: a repository too big for the limit is evicted by the kubelet
          // (the repository's failure, resource-limit), not left to fill the node.
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: config.jobStorageLimit } },
            ...(config.githubCaConfigMap
              ? [{ name: 'github-ca', configMap: { name: config.githubCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]
              : []),
          ],
        },
      },
    },
  };
}
