// Harvesting one finished Job: read its pod's log under a byte cap, classify it (a shard's log
// split per repository), and store each repository's run, score and checks in a transaction of
// its own. Called by the harvester function for each ApiServerSource event and by the
// scheduler's reconcile for Jobs whose events were lost.
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { diffResults, type ScoreChange } from '../changes/diff.ts';
import type { Config } from '../config/index.ts';
import { describeDatabaseError, publicFailure } from '../db/errors.ts';
import { closeRun, type Db, databaseNow, type HarvestOutcome, type HarvestStored, type JobRun, NOT_REACHED, runsByJobName, storeHarvest } from '../db/index.ts';
import { podNamesOfJobEvents, type StartFailure, startFailureOf } from '../jobs/events.ts';
import { CHECKS_ANNOTATION, jobRepositories, MANAGED_BY, MANAGED_BY_LABEL, REPOS_ANNOTATION, SCORECARD_CONTAINER } from '../jobs/spec.ts';
import { type JobState, jobState } from '../jobs/status.ts';
import { type ClusterApi, type LogChunks, toKubeError, withRetries } from '../kube/cluster.ts';
import type { Logger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { type Classification, classify, type PodFacts } from '../scorecard/classify.ts';
import { FUTURE_DATED_TOLERANCE_MS, isFutureDated } from '../scorecard/clock.ts';
import { boundedReset } from '../scorecard/rate-limit.ts';
import { readCapped } from '../scorecard/read.ts';
import { classifyShard } from '../scorecard/shard.ts';
import type { JobDeleter } from './deletions.ts';
import type { RecentlyHarvested } from './recent.ts';

const droppedResults = counter(
  'posture_harvest_dropped_total',
  'Results dropped because their run was gone: the repository was removed (and perhaps added again) while its Job ran',
);

export interface HarvestDeps {
  db: Db;
  cluster: ClusterApi;
  config: Config;
  log: Logger;
  random?: () => number;
  retryBaseMs?: number;
  /**
   * The clock of the run's finish: the scheduler's reconcile gives the tick's (the database's),
   * tests their own; the harvester function none, so the database's now() is used.
   */
  now?: () => Date;
  /** Jobs this process already stored: their later events are duplicates without a query. */
  harvested?: RecentlyHarvested;
  /** Deletes harvested Jobs after the answer (in batches); without it each is deleted before. */
  deleter?: JobDeleter;
}

/** What was stored for one repository of the Job. */
export interface StoredRepo {
  repo: string;
  runId: number;
  /** What the score changed against the result before it (a score only); latest: it is the repository's newest. */
  change?: { change: ScoreChange; latest: boolean };
  score: number | null;
  date: string | null;
  failure: string | null;
  reason: string | null;
  flagged: boolean;
  /** The result is dated after posture stored it beyond the tolerance: the pod's clock is ahead. */
  futureDated: boolean;
}

export type HarvestResult =
  | { status: 'ignored'; why: string }
  | { status: 'duplicate'; job: string }
  | { status: 'rejected'; why: string }
  /** Its runs are gone (the repositories were removed, perhaps added again, while the Job ran): nothing stored. */
  | { status: 'dropped'; job: string; why: string }
  /**
   * One entry per repository stored now, in the Job's order (a shard's repositories stored by an
   * earlier delivery, or dropped, are not repeated); `dropped` names those whose run was gone.
   */
  | { status: 'stored'; job: string; repos: StoredRepo[]; dropped?: string[] };

const futureDatedResults = counter(
  'posture_harvest_future_dated_total',
  "Results stored with a date more than the tolerance after posture stored them (the Scorecard pod's clock is ahead)",
);

/** Thrown for failures worth retrying (API server or database unavailable): reply 503. */
export class TransientHarvestError extends Error {
  /** For the log: what failed, redacted; the message (which the reply carries) never names the database. */
  readonly detail: string | undefined;
  constructor(message: string, detail?: string) {
    super(message);
    this.detail = detail;
    this.name = 'TransientHarvestError';
  }
}

/**
 * Thrown when the API server refuses the harvester's reads (403, 401, 404 on the list…): a
 * configuration or RBAC problem, not the repository's. Nothing is stored; the event is retried
 * (503) or left to the scheduler's reconcile.
 */
export class HarvestConfigError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HarvestConfigError';
    this.status = status;
  }
}

/** The label the Job controller puts on every pod it makes: the Job's UID. */
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';

/**
 * Pods the Job's controller made: both its controller ownerReference and its controller-uid
 * label name the Job's UID, as the Job controller writes them (either alone can be copied onto a
 * planted Pod by someone who may create Pods in the namespace; the pair is what the controller
 * itself selects by).
 */
export function podsOfJob(pods: V1Pod[], jobUid: string): V1Pod[] {
  if (!jobUid) return [];
  return pods.filter(
    (p) =>
      p.metadata?.labels?.[CONTROLLER_UID_LABEL] === jobUid &&
      (p.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.kind === 'Job' && o.apiVersion === 'batch/v1' && o.uid === jobUid),
  );
}

/** The newest pod of a Job (a Job with backoffLimit 0 has one, but a node loss can make two). */
export function newestPod(pods: V1Pod[]): V1Pod | undefined {
  return [...pods].sort((a, b) => new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime())[0];
}

/** What the classifier needs from the Job's state (computed once by the caller) and its pod. */
export function podFacts(state: JobState, pod: V1Pod | undefined, truncated: boolean, startFailure: StartFailure | null = null): PodFacts {
  const cs = pod?.status?.containerStatuses?.find((c) => c.name === SCORECARD_CONTAINER);
  const term = cs?.state?.terminated ?? cs?.lastState?.terminated;
  return {
    truncated,
    exitCode: term?.exitCode,
    podPhase: pod?.status?.phase,
    terminatedReason: term?.reason ?? pod?.status?.reason,
    podReason: pod?.status?.reason,
    waitingReason: cs?.state?.waiting?.reason,
    disrupted: (pod?.status?.conditions ?? []).some((c) => c.type === 'DisruptionTarget' && c.status === 'True'),
    podMessage: pod?.status?.message,
    jobReason: state.finished ? state.reason : undefined,
    jobMessage: state.finished ? state.message : undefined,
    podMissing: pod === undefined,
    startFailure,
  };
}

/**
 * Whether only the pod's Events can say why it ended: it is gone, or its container neither ran
 * nor still says what it waits on. A pod that ran has its own facts and log.
 */
export function needsEvents(pod: V1Pod | undefined): boolean {
  if (pod === undefined) return true;
  const cs = pod.status?.containerStatuses?.find((c) => c.name === SCORECARD_CONTAINER);
  if (cs?.state?.waiting?.reason) return false;
  const term = cs?.state?.terminated ?? cs?.lastState?.terminated;
  // The kubelet's word for a container of a terminal pod that never ran (the pod's own deadline
  // ended it while it waited on a Secret or an image).
  return !term || term.reason === 'ContainerStatusUnknown';
}

/** Most pods of one Job whose Events are read (a Job with backoffLimit 0 has one; a node loss can make two). */
const EVENT_PODS = 3;

export async function harvestJob(job: V1Job, deps: HarvestDeps): Promise<HarvestResult> {
  const { config, db, cluster, log } = deps;
  const name = job.metadata?.name ?? '';
  const namespace = job.metadata?.namespace ?? '';
  const uid = job.metadata?.uid ?? '';
  if (job.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return { status: 'ignored', why: 'not a posture Job' };
  if (namespace !== config.namespace) return { status: 'ignored', why: `posture Jobs run in ${config.namespace}, not ${namespace}` };
  const state = jobState(job);
  if (!state.finished) return { status: 'ignored', why: `not finished: ${state.why}` };
  if (deps.harvested?.has(uid)) return { status: 'duplicate', job: name };

  const runs = await runsByJobName(db, name);
  // The scheduler records every run before it creates the Job: a Job without one was not made by it.
  if (runs.length === 0) return { status: 'ignored', why: 'no run recorded for this Job: not created by the scheduler' };
  const pending = runs.filter((r) => r.outcome === 'pending');
  if (pending.length === 0) {
    if (runs.some((r) => r.job_uid === uid)) deps.harvested?.add(uid);
    return { status: 'duplicate', job: name };
  }
  if (pending.some((r) => r.job_uid && r.job_uid !== uid)) return { status: 'ignored', why: 'a different Job of the same name was recorded' };

  const annotations = job.metadata?.annotations;
  const shard = annotations?.[REPOS_ANNOTATION] !== undefined;
  const named = jobRepositories(annotations);
  if (named.length === 0) return { status: 'rejected', why: 'the Job names no repository (annotation posture.dev/repo or posture.dev/repositories)' };
  const repos: RepoId[] = [];
  for (const n of named) {
    const parsed = parseRepo(n, config.allowedHosts);
    if (!parsed.ok) return { status: 'rejected', why: `repository annotation: ${parsed.reason}` };
    if (repos.some((r) => r.key === parsed.repo.key)) return { status: 'rejected', why: `repository annotation: ${parsed.repo.canonical} is named twice` };
    repos.push(parsed.repo);
  }

  let pod: V1Pod | undefined;
  let startFailure: StartFailure | null = null;
  let text = '';
  let truncated = false;
  try {
    const pods = await withRetries(() => cluster.listPods(namespace, `batch.kubernetes.io/job-name=${name}`), {
      retries: config.kubeRetries,
      baseMs: deps.retryBaseMs,
    });
    pod = newestPod(podsOfJob(pods, uid));
    if (pod?.metadata?.name) {
      // The cap is per repository: a shard's log holds one result per repository.
      const got = await readLog(cluster, namespace, pod.metadata.name, config.logByteCap * repos.length, TAIL_LINES * repos.length);
      text = got.text;
      truncated = got.truncated;
    }
    if (needsEvents(pod)) startFailure = await readStartFailure(deps, namespace, uid, pod?.metadata?.name);
  } catch (err) {
    const e = toKubeError(err);
    if (e.retryable) throw new TransientHarvestError(`reading the Job's pod: ${e.message}`);
    // Classifying an empty log would store the repository's failure for our own RBAC problem.
    log.error(
      { job: name, status: e.status, err: e.message },
      'the harvester may not read pods, pods/log or events in the Job namespace: fix its RBAC; nothing stored, the Job is left for a retry',
    );
    throw new HarvestConfigError(
      e.status,
      `reading the Job's pod (${e.status}): ${e.message}; check the harvester's RBAC (get/list pods, get pods/log, list events)`,
    );
  }

  const facts = podFacts(state, pod, truncated, startFailure);
  const verdict = shard
    ? classifyShard(
        text,
        repos.map((r) => r.canonical),
        facts,
        { allowedHosts: config.allowedHosts },
      )
    : undefined;
  if (verdict && verdict.ignoredCount > 0) {
    // A forged or stray line: it scores nobody, and someone should know it was there.
    log.warn({ job: name, ignored: verdict.ignored, count: verdict.ignoredCount }, 'lines naming no repository of the shard were ignored');
  }
  const outcomes: Array<{ repo: RepoId; c: Classification | null }> = verdict
    ? verdict.outcomes.map((o, i) => ({
        repo: repos[i],
        c:
          o.kind === 'result'
            ? { ok: true, result: o.result, flagged: o.flagged, internalErrors: o.internalErrors }
            : o.kind === 'failed'
              ? { ok: false, failure: o.failure, reason: o.reason, retryAt: o.retryAt }
              : null,
      }))
    : [{ repo: repos[0], c: onlyFor(classify(text, facts), repos[0], config.allowedHosts) }];

  const checksAnnotation = annotations?.[CHECKS_ANNOTATION];
  const checkSet = !checksAnnotation || checksAnnotation === 'all' ? null : checksAnnotation.split(',');
  const byKey = new Map<string, JobRun>(runs.filter((r) => r.key !== null).map((r) => [r.key!, r]));
  const stored: StoredRepo[] = [];
  const dropped: string[] = [];
  let duplicates = 0;
  for (const { repo, c } of outcomes) {
    if (shard && !byKey.has(repo.key)) {
      // No run of this Job for it: it was removed while the Job ran (and perhaps added again).
      dropped.push(repo.canonical);
      continue;
    }
    const outcome: HarvestOutcome =
      c === null
        ? { ok: false, failure: NOT_REACHED, reason: 'the Job ended before Scorecard started on this repository; it is due again, nothing held against it' }
        : c.ok
          ? { ok: true, flagged: c.flagged, result: { ...c.result, checks: c.result.checks.map((x) => ({ ...x })) } }
          : {
              ok: false,
              failure: c.failure,
              reason: c.reason,
              // A wait, not a time: the pod's and the Job controller's clocks place it, the database's stores it.
              retryInSeconds: c.retryAt === undefined ? undefined : (Date.parse(boundedReset(c.retryAt, state.finishedAt)) - state.finishedAt.getTime()) / 1000,
            };
    let got: HarvestStored;
    try {
      got = await storeHarvest(db, {
        repoKey: repo.key,
        jobName: name,
        jobUid: uid,
        finishedAt: deps.now?.(),
        checkSet,
        outcome,
        schedule: {
          rescoreIntervalSeconds: config.rescoreIntervalSeconds,
          jitterSeconds: config.jitterSeconds,
          failureBackoffBaseSeconds: config.failureBackoffBaseSeconds,
          failureBackoffMaxSeconds: config.failureBackoffMaxSeconds,
          stuckAfterRuns: config.stuckAfterRuns,
          random: (deps.random ?? Math.random)(),
        },
      });
    } catch (err) {
      // What is stored stays stored: a retried event stores the rest (each repository's run is its own).
      throw new TransientHarvestError(`storing the result: ${publicFailure(err)}`, describeDatabaseError(err));
    }
    if (got.status === 'unknown-repo' && !shard) return { status: 'rejected', why: `repository ${repo.canonical} is not in the database` };
    if (got.status === 'no-run' || got.status === 'unknown-repo') {
      dropped.push(repo.canonical);
      continue;
    }
    if (got.status === 'duplicate') {
      duplicates++;
      continue;
    }
    stored.push(storedRepo(repo, c, got, name, log));
  }
  if (shard) {
    // A run of this Job whose repository the Job does not name can never be harvested: close it
    // (not the repository's failure), or the Job would be read again on every tick.
    const keys = new Set(repos.map((r) => r.key));
    for (const run of pending) {
      if (run.key !== null && !keys.has(run.key)) {
        // The database's clock, as every other finish (the process's is never stored).
        const at = deps.now?.() ?? (await databaseNow(db));
        await closeRun(db, name, 'the Job does not name this repository', at, config.failureBackoffBaseSeconds, Number(run.repo_id));
      }
    }
  }
  if (dropped.length > 0) {
    // Removed while its Job ran (and maybe added again: a new repository, whose record this
    // result must not join): the result is dropped, said once here and counted.
    const why = `no run of this Job is recorded for ${dropped.join(', ')}: removed while the Job ran; ${dropped.length === 1 ? 'its result is' : 'their results are'} dropped`;
    log.warn({ job: name, repos: dropped }, why);
    droppedResults.inc(dropped.length);
    if (stored.length === 0 && duplicates === 0) return { status: 'dropped', job: name, why };
  }
  deps.harvested?.add(uid);
  if (stored.length === 0) return { status: 'duplicate', job: name };

  if (!config.keepJobs) {
    // Stored first, deleted second: a crash in between leaves a Job the next event or the
    // scheduler's sweep finds harvested.
    if (deps.deleter) deps.deleter.delete({ namespace, name, uid, labels: job.metadata?.labels });
    else
      await cluster
        .deleteJob(namespace, name, uid)
        .catch((err) => log.warn({ job: name, err: toKubeError(err).message }, "could not delete the harvested Job; the scheduler's sweep will"));
  }
  return { status: 'stored', job: name, repos: stored, ...(dropped.length > 0 ? { dropped } : {}) };
}

/** A log can only score the repository its Job ran for; anything else is a forged or mixed-up result. */
function onlyFor(c: Classification, repo: RepoId, allowedHosts: readonly string[]): Classification {
  if (!c.ok) return c;
  const claimed = parseRepo(c.result.repo, allowedHosts);
  if (claimed.ok && claimed.repo.key === repo.key) return c;
  return {
    ok: false,
    failure: 'invalid-result',
    reason: `the result is for ${JSON.stringify(c.result.repo.slice(0, 200))}, but the Job ran for ${repo.canonical}`,
  };
}

/** What one repository's stored run says, and the change its score made. */
function storedRepo(repo: RepoId, c: Classification | null, got: Extract<HarvestStored, { status: 'stored' }>, job: string, log: Logger): StoredRepo {
  const ok = c?.ok ? c : null;
  // Ordered by the stored time either way; a date past it is kept as the result's own, and told.
  const futureDated = ok !== null && got.storedAt !== null && isFutureDated(new Date(ok.result.date), got.storedAt);
  if (futureDated && ok && got.storedAt) {
    futureDatedResults.inc();
    log.warn(
      {
        job,
        repo: repo.canonical,
        date: ok.result.date,
        storedAt: got.storedAt.toISOString(),
        toleranceSeconds: FUTURE_DATED_TOLERANCE_MS / 1000,
      },
      "result dated after posture stored it: the Scorecard pod's clock is ahead (check the node's time); it is ordered by when it was stored",
    );
  }
  const change =
    ok && got.scoreId !== null
      ? {
          change: diffResults(got.previous, {
            id: got.scoreId,
            score: ok.result.score,
            date: new Date(ok.result.date).toISOString(),
            commit: ok.result.commit,
            checks: ok.result.checks,
          }),
          latest: got.latest,
        }
      : undefined;
  const failed = c === null ? { failure: NOT_REACHED, reason: 'not reached' } : c.ok ? null : { failure: c.failure, reason: c.reason };
  return {
    repo: repo.canonical,
    runId: got.runId,
    change,
    score: ok ? ok.result.score : null,
    date: ok ? ok.result.date : null,
    failure: failed?.failure ?? null,
    reason: failed?.reason ?? null,
    flagged: ok ? ok.flagged : false,
    futureDated,
  };
}

/** Why the Job's pod never started, from its Events: the pod's own, found by name through the Job's. */
async function readStartFailure(deps: HarvestDeps, namespace: string, jobUid: string, podName: string | undefined): Promise<StartFailure | null> {
  const retry = { retries: deps.config.kubeRetries, baseMs: deps.retryBaseMs };
  const names = podName
    ? [podName]
    : podNamesOfJobEvents(await withRetries(() => deps.cluster.listEvents(namespace, `involvedObject.uid=${jobUid}`), retry)).slice(-EVENT_PODS);
  const events = [];
  for (const name of names) {
    events.push(...(await withRetries(() => deps.cluster.listEvents(namespace, `involvedObject.kind=Pod,involvedObject.name=${name}`), retry)));
  }
  return startFailureOf(events);
}

/** Lines asked for per repository when the log is over the cap: the result line plus whatever stderr follows it. */
export const TAIL_LINES = 200;

async function readLog(cluster: ClusterApi, namespace: string, pod: string, cap: number, tailLines: number): Promise<{ text: string; truncated: boolean }> {
  const head = await readLogPart(cluster, namespace, pod, cap, 'head', tailLines);
  if (!head.truncated) return head;
  // Over the cap: Scorecard prints its result last (stdout after all of its stderr), so the
  // head is the wrong end. Ask for the last lines and keep at most the cap of them (a shard's
  // repositories whose lines were cut off are `truncated`, never given a neighbour's line).
  const tail = await readLogPart(cluster, namespace, pod, cap, 'tail', tailLines);
  return { text: tail.text, truncated: true };
}

async function readLogPart(
  cluster: ClusterApi,
  namespace: string,
  pod: string,
  cap: number,
  end: 'head' | 'tail',
  tailLines: number,
): Promise<{ text: string; truncated: boolean }> {
  let stream: LogChunks;
  try {
    // One byte over the cap tells a log of exactly cap bytes from a longer one.
    stream = await cluster.streamPodLog(namespace, pod, SCORECARD_CONTAINER, cap + 1, end === 'tail' ? { tailLines } : {});
  } catch (err) {
    const e = toKubeError(err);
    if (e.status === 400 || e.status === 404) return { text: '', truncated: false }; // container never started, or gone
    throw e;
  }
  try {
    const got = await readCapped(stream.chunks, { capBytes: cap, keep: end });
    return { text: got.text, truncated: got.truncated };
  } finally {
    stream.abort();
  }
}
