// One scheduler tick: reconcile what the cluster holds with what the database expects, then
// claim due repositories and create their Jobs within the concurrency cap and GitHub budget.
// Every state change is one statement in the database; the cluster is the truth for what runs.
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import {
  acquireTickLock, claimDueRepos, claimsOf, deletePendingRun, finishTick, getSchedulerState, pruneDetailsStep, recordRuns,
  refundBudget, releaseClaim, releaseExpiredLeases, releaseTickLock, setRunJobUids, setTickBackoff,
  startTick, storeHarvest, takeBudget, type ClaimedRepo, type Db,
} from '../db/index.ts';
import { buildScorecardJob, repoIdLabel } from '../jobs/spec.ts';
import { toKubeError, withRetries, type ClusterApi } from '../kube/cluster.ts';
import { readClusterView, type ClusterView } from './cluster-view.ts';
import type { Logger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { nextTickBackoffSeconds, runsPerHour } from '../scheduler/policy.ts';

export interface TickDeps {
  db: Db;
  cluster: ClusterApi;
  config: Config;
  log: Logger;
  now?: () => Date;
  /** The harvester's lib function, for finished Jobs the event path missed. */
  harvest?: (job: V1Job) => Promise<{ status: string }>;
  /** Delay between retries of a Kubernetes call (tests make it instant). */
  retryBaseMs?: number;
}

export interface TickSummary {
  slot: string;
  status: 'done' | 'duplicate' | 'backed-off' | 'busy' | 'resumed';
  claimed: number;
  created: number;
  /** Jobs that already existed (a retried create answered 409): counted as success. */
  existing: number;
  skipped: Array<{ repo: string; why: string }>;
  errors: string[];
  active: number;
  capacity: number;
  budgetGranted: number;
  reconciled: { harvested: number; removed: number; lost: number; leasesReleased: number };
  notBefore?: string;
}

const LOCK_SECONDS = 300;
const CREATE_PARALLELISM = 8;
/** Old results whose details are pruned per tick, at most (a few milliseconds). */
const PRUNE_BATCH = 100;

function emptySummary(slot: string, status: TickSummary['status']): TickSummary {
  return { slot, status, claimed: 0, created: 0, existing: 0, skipped: [], errors: [], active: 0, capacity: 0, budgetGranted: 0, reconciled: { harvested: 0, removed: 0, lost: 0, leasesReleased: 0 } };
}

export async function runTick(slot: string, deps: TickDeps): Promise<TickSummary> {
  const now = deps.now ?? (() => new Date());
  const start = await startTick(deps.db, slot, now());
  if (start.status === 'finished') return { ...(start.summary as TickSummary), status: 'duplicate' };

  // The lock outlives a crashed holder by at most a lease, so it never blocks longer than a claim would.
  if (!(await acquireTickLock(deps.db, slot, Math.min(LOCK_SECONDS, deps.config.leaseSeconds), now()))) {
    // Another tick is counting and creating right now; this slot's work is theirs or the next slot's.
    const s = emptySummary(slot, 'busy');
    if (start.status === 'new') await finishTick(deps.db, slot, s, now());
    return s;
  }
  try {
    const summary = start.status === 'resumed' ? await resume(slot, deps, now) : await tick(slot, deps, now);
    await finishTick(deps.db, slot, summary, now());
    return summary;
  } finally {
    await releaseTickLock(deps.db, slot);
  }
}

/** The same slot again after a crash: finish its own claims, claim nothing new. */
async function resume(slot: string, deps: TickDeps, now: () => Date): Promise<TickSummary> {
  const s = emptySummary(slot, 'resumed');
  const claims = await claimsOf(deps.db, slot, now());
  s.claimed = claims.length;
  await createJobs(claims, slot, deps, now, s);
  return s;
}

async function tick(slot: string, deps: TickDeps, now: () => Date): Promise<TickSummary> {
  const { db, config } = deps;
  const s = emptySummary(slot, 'done');
  const state = await getSchedulerState(db);
  if (state.notBefore && state.notBefore > now()) {
    s.status = 'backed-off';
    s.notBefore = state.notBefore.toISOString();
    return s;
  }

  let view: ClusterView;
  try {
    view = await readClusterView(deps);
  } catch (err) {
    s.errors.push(`listing Jobs: ${toKubeError(err).message}`);
    await setTickBackoff(db, nextTickBackoffSeconds(state.backoffSeconds, 'failed', config.idleBackoffBaseSeconds, config.idleBackoffMaxSeconds), now());
    return s;
  }
  const active = await reconcile(view, deps, now, s);
  const running = view.running as Set<string | undefined>;
  s.active = active;
  s.capacity = Math.max(0, config.maxConcurrentJobs - active);

  if (s.capacity > 0) {
    const wanted = Math.min(s.capacity, config.claimBatch);
    s.budgetGranted = await takeBudget(db, wanted, runsPerHour(config.githubTokenCount, config.githubCallsPerHour, config.callsPerRun), now());
    if (s.budgetGranted === 0) s.skipped.push({ repo: '*', why: 'GitHub budget for this hour is spent' });
    const claims = await claimDueRepos(db, { owner: slot, limit: s.budgetGranted, leaseSeconds: config.leaseSeconds, now: now() });
    s.claimed = claims.length;
    await refundBudget(db, s.budgetGranted - claims.length, now());
    await createJobs(claims, slot, deps, now, s, running);
  } else {
    s.skipped.push({ repo: '*', why: `${active} posture Jobs active, cap is ${config.maxConcurrentJobs}` });
  }

  const outcome = s.errors.length > 0 ? 'failed' : s.created + s.existing + s.reconciled.harvested > 0 || s.capacity === 0 ? 'worked' : 'idle';
  const backoff = nextTickBackoffSeconds(state.backoffSeconds, outcome, config.idleBackoffBaseSeconds, config.idleBackoffMaxSeconds);
  await setTickBackoff(db, backoff, now());
  if (backoff > 0) s.notBefore = new Date(now().getTime() + backoff * 1000).toISOString();
  return s;
}

/**
 * Level-triggered repair of what events missed: harvest finished Jobs, remove posture Jobs the
 * database never recorded, close runs whose Job vanished, clear expired leases, prune a batch
 * of old result details. Its input (readClusterView) costs the pending runs, not the Jobs held.
 * Returns the number of Jobs still active.
 */
async function reconcile(view: ClusterView, deps: TickDeps, now: () => Date, s: TickSummary): Promise<number> {
  const { db, config, cluster, log } = deps;
  for (const job of view.unrecorded) {
    // The scheduler records a run before it creates a Job, so this Job is not ours.
    log.warn({ job: job.name }, 'removing a posture-labelled Job the database never recorded');
    await cluster.deleteJob(config.namespace, job.name, job.uid).catch((err) => s.errors.push(`deleting ${job.name}: ${toKubeError(err).message}`));
    s.reconciled.removed++;
  }
  for (const job of view.finished) {
    if (!deps.harvest) break;
    try {
      const r = await deps.harvest(job);
      if (r.status === 'stored') s.reconciled.harvested++;
    } catch (err) {
      s.errors.push(`harvesting ${job.metadata?.name}: ${(err as Error).message}`);
    }
  }
  // Runs still pending whose Job is gone: created and then deleted (by its TTL, or by hand)
  // before any harvest, or never created at all.
  for (const run of view.missing) {
    if (now().getTime() - new Date(run.created_at).getTime() < config.leaseSeconds * 1000) continue; // may still be being created
    if (!run.job_uid) {
      // The create never answered (the tick died first): nothing ran, so nothing failed. The
      // repository came due again when its lease ended.
      await deletePendingRun(db, run.job_name);
      continue;
    }
    const repo = await db('repos').where({ id: run.repo_id }).first();
    await storeHarvest(db, {
      repoKey: repo.key, jobName: run.job_name, jobUid: run.job_uid ?? `missing:${run.job_name}`, tickSlot: run.tick_slot,
      finishedAt: now(), checkSet: null,
      outcome: { ok: false, failure: 'job-missing', reason: 'the Job disappeared before it was harvested' },
      schedule: scheduleOf(config, 0),
    });
    s.reconciled.lost++;
  }
  s.reconciled.leasesReleased = await releaseExpiredLeases(db, now());
  await pruneDetailsStep(db, { keep: config.detailedResults, limit: PRUNE_BATCH });
  return view.active;
}

export function scheduleOf(config: Config, random: number) {
  return {
    rescoreIntervalSeconds: config.rescoreIntervalSeconds,
    jitterSeconds: config.jitterSeconds,
    failureBackoffBaseSeconds: config.failureBackoffBaseSeconds,
    failureBackoffMaxSeconds: config.failureBackoffMaxSeconds,
    random,
  };
}

/**
 * Creates the Jobs of claimed repositories: runs recorded first (one statement), creates a few
 * at a time, UIDs recorded after (one statement). Stops early on a configuration error.
 */
async function createJobs(claims: ClaimedRepo[], slot: string, deps: TickDeps, now: () => Date, s: TickSummary, running = new Set<string | undefined>()): Promise<void> {
  const { db, config, cluster, log } = deps;
  const planned: Array<{ claim: ClaimedRepo; job: V1Job }> = [];
  for (const claim of claims) {
    const parsed = parseRepo(claim.canonical, config.allowedHosts);
    if (!parsed.ok) {
      // Never hand an unvalidated name to a Job; park the row and say why.
      const why = `invalid repository name in the database: ${parsed.reason}`;
      s.skipped.push({ repo: claim.canonical, why });
      await releaseClaim(db, { repoId: claim.id, owner: slot, now: now(), dueAt: new Date(now().getTime() + config.failureBackoffMaxSeconds * 1000), error: why });
    } else if (running.has(repoIdLabel(parsed.repo))) {
      // Its previous Job outlived the lease (only if the lease is shorter than the deadline): wait for it.
      s.skipped.push({ repo: claim.canonical, why: 'a Job for this repository is still running' });
      await releaseClaim(db, { repoId: claim.id, owner: slot, now: now(), dueAt: new Date(now().getTime() + config.leaseSeconds * 1000) });
    } else {
      planned.push({ claim, job: buildScorecardJob({ repo: parsed.repo, dueWindow: claim.claimedDueAt, tickSlot: slot }, config) });
    }
  }
  // Recorded before created: a Job the database does not know is not ours (see reconcile).
  await recordRuns(db, planned.map((p) => ({ repoId: p.claim.id, jobName: p.job.metadata!.name!, tickSlot: slot, createdAt: now() })));

  const uids: Array<{ jobName: string; jobUid: string }> = [];
  let stop: string | undefined;
  const queue = [...planned];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { claim, job } = next;
      const name = job.metadata!.name!;
      if (stop) {
        await deletePendingRun(db, name);
        await releaseClaim(db, { repoId: claim.id, owner: slot, now: now() });
        continue;
      }
      try {
        const res = await withRetries(() => cluster.createJob(config.namespace, job), { retries: config.kubeRetries, baseMs: deps.retryBaseMs });
        if (res.job.metadata?.uid) uids.push({ jobName: name, jobUid: res.job.metadata.uid });
        if (res.created) s.created++;
        else s.existing++;
      } catch (err) {
        const e = toKubeError(err);
        await deletePendingRun(db, name);
        await releaseClaim(db, { repoId: claim.id, owner: slot, now: now(), error: `creating Job: ${e.message}` });
        s.errors.push(`${claim.canonical}: ${e.message}`);
        if (!e.retryable) {
          stop = `${e.status} ${e.reason}: configuration error, not retried this tick`;
          log.error({ status: e.status, reason: e.reason, err: e.message }, 'Job creation refused; fix the configuration or RBAC');
        } else {
          stop = 'the API server keeps failing';
        }
      }
    }
  };
  try {
    // The first create goes alone: a refusal (403, 422) then stops the tick after one call, not eight.
    const rest = queue.splice(1);
    await worker();
    queue.push(...rest);
    await Promise.all(Array.from({ length: Math.min(CREATE_PARALLELISM, queue.length) }, worker));
  } finally {
    await setRunJobUids(db, uids);
  }
  if (stop) s.skipped.push({ repo: '*', why: stop });
}

