// One scheduler tick: reconcile what the cluster holds with what the database expects, then
// claim due repositories and create their Jobs within the concurrency cap and GitHub budget.
// Every state change is one statement (or one transaction) in the database; the cluster is the
// truth for what runs.
//
// Counting and creating happen under a lease (the tick lock) whose owner is a token unique to
// this call, renewed while it works and checked before every batch of creates: a tick that
// stalled past its lease (a GC pause, a request Knative gave up on) finds it lost and stops
// instead of creating from a stale count. A dead holder's lease ends within LOCK_SECONDS.
import { randomUUID } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import {
  acquireTickLock, claimsOf, claimWithBudget, closeRun, deletePendingRun, finishTick, getSchedulerState, orphanedClaims,
  pruneDetailsStep, recentOutcomes, recordRuns, releaseClaim, releaseExpiredLeases, releaseTickLock, renewTickLock,
  setRunJobUids, setTickBackoff, startTick, storeHarvest, type ClaimedRepo, type Db,
} from '../db/index.ts';
import { buildScorecardJob, MANAGED_BY, MANAGED_BY_LABEL, repoIdLabel } from '../jobs/spec.ts';
import { jobState } from '../jobs/status.ts';
import { toKubeError, withRetries, type ClusterApi } from '../kube/cluster.ts';
import { readClusterView, type ClusterView } from './cluster-view.ts';
import type { Logger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { breakerDecision, breakerSettingsOf, nextTickBackoffSeconds, runsPerHour, tickOutcome } from '../scheduler/policy.ts';

export interface TickDeps {
  db: Db;
  cluster: ClusterApi;
  config: Config;
  log: Logger;
  now?: () => Date;
  /** The harvester's lib function, for finished Jobs the event path missed. */
  harvest?: (job: V1Job) => Promise<{ status: string; why?: string }>;
  /** Delay between retries of a Kubernetes call (tests make it instant). */
  retryBaseMs?: number;
  /** How often the tick lock is renewed while a tick works (tests stop it to play a stalled process). */
  lockRenewMs?: number;
}

export interface TickSummary {
  slot: string;
  status: 'done' | 'duplicate' | 'backed-off' | 'busy' | 'resumed';
  /** A busy reply for a slot that started before: retry it (HTTP 503), it resumes once the lock is free. */
  retry?: boolean;
  claimed: number;
  created: number;
  /** Jobs that already existed (a retried create answered 409, or a create whose answer was lost). */
  existing: number;
  skipped: Array<{ repo: string; why: string }>;
  errors: string[];
  active: number;
  capacity: number;
  budgetGranted: number;
  /** Open when most recent runs failed for the infrastructure's reasons: only a probe is started. */
  breaker: { open: boolean; infrastructure: number; total: number };
  reconciled: {
    harvested: number; removed: number; lost: number; leasesReleased: number;
    /** Harvested Jobs deleted here because the harvester's delete failed. */
    deleted: number;
    /** Jobs whose harvest was rejected: their run is closed, the Job deleted. */
    rejected: number;
    /** Claims of a tick that died before recording them, given back (same window, budget refunded). */
    orphans: number;
    /** Creates whose answer was lost, settled by asking for the Job by name. */
    settled: number;
    /** Runs whose create may still be in flight: counted as active. */
    inFlight: number;
  };
  notBefore?: string;
}

/** The lease on counting and creating; renewed every LOCK_SECONDS / 3. */
export const LOCK_SECONDS = 15;
/** A run recorded this recently without a Job may still be being created (by a tick that lost its lock). */
export const IN_FLIGHT_SECONDS = 2 * LOCK_SECONDS;
/** The reconcile's harvests per tick and time for them: the rest wait for the next tick. */
export const RECONCILE_HARVEST_LIMIT = 25;
export const RECONCILE_BUDGET_MS = 60_000;
/** Creates stop after this long: Knative ends the request at 300 s (knative/scheduler.yaml). */
export const TICK_BUDGET_MS = 240_000;
const CREATE_PARALLELISM = 8;
/** Old results whose details are pruned per tick, at most (a few milliseconds). */
const PRUNE_BATCH = 100;

function emptySummary(slot: string, status: TickSummary['status']): TickSummary {
  return {
    slot, status, claimed: 0, created: 0, existing: 0, skipped: [], errors: [], active: 0, capacity: 0, budgetGranted: 0,
    breaker: { open: false, infrastructure: 0, total: 0 },
    reconciled: { harvested: 0, removed: 0, lost: 0, leasesReleased: 0, deleted: 0, rejected: 0, orphans: 0, settled: 0, inFlight: 0 },
  };
}

/** The lock, held: `fence()` renews it and says whether this tick still holds it. */
interface HeldLock {
  fence(): Promise<boolean>;
  stop(): void;
}

/** The lease's length: never longer than a claim's lease, so it never blocks longer than a claim would. */
const lockSeconds = (config: Config) => Math.min(LOCK_SECONDS, config.leaseSeconds);

function keepLock(deps: TickDeps, token: string, now: () => Date): HeldLock {
  let lost = false;
  let inFlight: Promise<boolean> | undefined;
  const renewOnce = async () => {
    try {
      if (!(await renewTickLock(deps.db, token, lockSeconds(deps.config), now()))) lost = true;
    } catch {
      // The database is unreachable: so is every create's run record; the next fence decides.
    }
    return !lost;
  };
  // One renewal at a time: a slow database must not pile them up.
  const renew = () => {
    if (lost) return Promise.resolve(false);
    inFlight ??= renewOnce().finally(() => (inFlight = undefined));
    return inFlight;
  };
  const timer = setInterval(() => void renew(), deps.lockRenewMs ?? (lockSeconds(deps.config) * 1000) / 3);
  timer.unref();
  return { fence: renew, stop: () => clearInterval(timer) };
}

export async function runTick(slot: string, deps: TickDeps): Promise<TickSummary> {
  const now = deps.now ?? (() => new Date());
  const start = await startTick(deps.db, slot, now());
  if (start.status === 'finished') return { ...(start.summary as TickSummary), status: 'duplicate' };

  const token = `${slot}/${randomUUID()}`;
  if (!(await acquireTickLock(deps.db, token, lockSeconds(deps.config), now()))) {
    const s = emptySummary(slot, 'busy');
    if (start.status === 'new') {
      // Another tick is counting and creating right now; this slot's work is theirs or the next slot's.
      await finishTick(deps.db, slot, s, now());
    } else {
      // This slot started before and did not finish (it crashed, or is still running elsewhere):
      // ask for a retry, which resumes it once the holder is done or its lease has ended.
      s.retry = true;
    }
    return s;
  }
  const lock = keepLock(deps, token, now);
  try {
    const summary = start.status === 'resumed' ? await resume(slot, deps, now, lock) : await tick(slot, deps, now, lock);
    await finishTick(deps.db, slot, summary, now());
    return summary;
  } finally {
    lock.stop();
    await releaseTickLock(deps.db, token);
  }
}

/** The same slot again after a crash: finish its own claims, claim nothing new. */
async function resume(slot: string, deps: TickDeps, now: () => Date, lock: HeldLock): Promise<TickSummary> {
  const s = emptySummary(slot, 'resumed');
  const claims = await claimsOf(deps.db, slot, now());
  s.claimed = claims.length;
  await createJobs(claims, slot, deps, now, s, lock, Date.now());
  return s;
}

async function tick(slot: string, deps: TickDeps, now: () => Date, lock: HeldLock): Promise<TickSummary> {
  const { db, config, log } = deps;
  const started = Date.now();
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
  // Claims of a tick that died between claiming and recording (it cannot be creating: we hold
  // the lock): given back for the same window and refunded, so this tick claims them again.
  for (const o of await orphanedClaims(db, slot, now())) {
    if (await releaseClaim(db, { repoId: o.id, owner: o.owner, keepWindow: true, refund: true, now: now() })) s.reconciled.orphans++;
  }
  const running = view.running as Set<string | undefined>;
  s.active = active;
  s.capacity = Math.max(0, config.maxConcurrentJobs - active);

  const breakerSettings = breakerSettingsOf(config);
  const breaker = breakerDecision(await recentOutcomes(db, new Date(now().getTime() - breakerSettings.windowSeconds * 1000), breakerSettings.sample), breakerSettings);
  s.breaker = { open: breaker.open, infrastructure: breaker.infrastructure, total: breaker.total };
  if (breaker.open) {
    log.warn({ infrastructure: breaker.infrastructure, recent: breaker.total }, 'circuit breaker open: most recent runs failed for infrastructure reasons (network, GitHub, evictions, image, Secret); starting only a probe per tick');
    s.skipped.push({ repo: '*', why: `circuit breaker open: ${breaker.infrastructure} of the last ${breaker.total} runs failed for infrastructure reasons; ${breaker.allowed} probe run per tick` });
  }

  let systemic = false;
  if (s.capacity > 0) {
    const wanted = Math.min(s.capacity, config.claimBatch, breaker.allowed);
    if (!(await lock.fence())) {
      s.skipped.push({ repo: '*', why: 'lost the tick lock before claiming' });
    } else {
      try {
        const got = await claimWithBudget(db, {
          owner: slot, wanted, perHour: runsPerHour(config.githubTokenCount, config.githubCallsPerHour, config.callsPerRun), leaseSeconds: config.leaseSeconds, now: now(),
        });
        s.budgetGranted = got.granted;
        s.claimed = got.claims.length;
        if (got.granted === 0) s.skipped.push({ repo: '*', why: 'GitHub budget for this hour is spent' });
        systemic = await createJobs(got.claims, slot, deps, now, s, lock, started, running);
      } catch (err) {
        systemic = true;
        s.errors.push(`claiming: ${(err as Error).message}`);
      }
    }
  } else {
    s.skipped.push({ repo: '*', why: `${active} posture Jobs active, cap is ${config.maxConcurrentJobs}` });
  }

  const progress = s.created + s.existing + s.reconciled.harvested;
  const backoff = nextTickBackoffSeconds(state.backoffSeconds, tickOutcome({ progress, capacity: s.capacity, systemic }), config.idleBackoffBaseSeconds, config.idleBackoffMaxSeconds);
  await setTickBackoff(db, backoff, now());
  if (backoff > 0) s.notBefore = new Date(now().getTime() + backoff * 1000).toISOString();
  return s;
}

const isOurs = (job: V1Job | undefined) => job?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

/**
 * Level-triggered repair of what events missed, bounded so it fits in the tick: harvest
 * finished Jobs (at most RECONCILE_HARVEST_LIMIT), delete Jobs already harvested, close runs
 * whose harvest is rejected, remove posture Jobs the database never recorded, settle creates
 * whose answer was lost, close runs whose Job vanished, give back orphaned claims, clear
 * expired leases and prune a batch of old result details. Its input (readClusterView) costs
 * the pending runs and one sweep page, not the Jobs held. Returns the number of Jobs active or
 * possibly being created.
 */
async function reconcile(view: ClusterView, deps: TickDeps, now: () => Date, s: TickSummary): Promise<number> {
  const { db, config, cluster, log } = deps;
  const retry = { retries: config.kubeRetries, baseMs: deps.retryBaseMs };
  const del = async (name: string, uid: string | undefined, counter: 'removed' | 'deleted') => {
    try {
      await cluster.deleteJob(config.namespace, name, uid);
      s.reconciled[counter]++;
    } catch (err) {
      s.errors.push(`deleting ${name}: ${toKubeError(err).message}`);
    }
  };
  for (const job of view.unrecorded) {
    // The scheduler records a run before it creates a Job, so this Job is not ours.
    log.warn({ job: job.name }, 'removing a posture-labelled Job the database never recorded');
    await del(job.name, job.uid, 'removed');
  }
  // Harvested, but the harvester's delete failed: without this it would be listed until its TTL.
  if (!config.keepJobs) for (const job of view.harvested) await del(job.name, job.uid, 'deleted');
  let active = view.active;
  let harvests = 0;
  const harvestStart = Date.now();
  for (const job of view.finished) {
    if (!deps.harvest || harvests >= RECONCILE_HARVEST_LIMIT || Date.now() - harvestStart > RECONCILE_BUDGET_MS) break;
    harvests++;
    const name = job.metadata!.name!;
    try {
      const r = await deps.harvest(job);
      if (r.status === 'stored') s.reconciled.harvested++;
      else if (r.status === 'rejected') {
        // It can never be harvested: close its run (not the repository's failure) and delete it,
        // rather than read its pods and log again on every tick until its TTL.
        await closeRun(db, name, `harvest rejected: ${r.why ?? ''}`, now(), config.failureBackoffBaseSeconds);
        s.reconciled.rejected++;
        if (!config.keepJobs) await del(name, job.metadata?.uid, 'deleted');
      } else if (r.status === 'duplicate' && !config.keepJobs) await del(name, job.metadata?.uid, 'deleted');
    } catch (err) {
      s.errors.push(`harvesting ${name}: ${(err as Error).message}`);
    }
  }

  // Runs still pending whose Job is not listed: being created right now (counted as active),
  // created with a lost answer (ask by name), or created and then deleted before any harvest.
  for (const run of view.missing) {
    if (now().getTime() - new Date(run.created_at).getTime() < IN_FLIGHT_SECONDS * 1000) {
      s.reconciled.inFlight++;
      active++;
      continue;
    }
    if (!run.job_uid) {
      let job: V1Job | undefined;
      try {
        job = await withRetries(() => cluster.getJob(config.namespace, run.job_name), retry);
      } catch (err) {
        s.errors.push(`asking for ${run.job_name}: ${toKubeError(err).message}`);
        active++; // unknown: it may exist
        continue;
      }
      s.reconciled.settled++;
      if (job && isOurs(job)) {
        await setRunJobUids(db, [{ jobName: run.job_name, jobUid: job.metadata!.uid! }]);
        if (!jobState(job).finished) active++;
        continue;
      }
      // Never created: nothing ran, so nothing failed. Give the claim back for the same window, refunded.
      await deletePendingRun(db, run.job_name);
      if (run.tick_slot) await releaseClaim(db, { repoId: run.repo_id, owner: run.tick_slot, keepWindow: true, refund: true, now: now() });
      continue;
    }
    const repo = await db('repos').where({ id: run.repo_id }).first();
    await storeHarvest(db, {
      repoKey: repo.key, jobName: run.job_name, jobUid: run.job_uid, tickSlot: run.tick_slot,
      finishedAt: now(), checkSet: null,
      outcome: { ok: false, failure: 'job-missing', reason: 'the Job disappeared before it was harvested' },
      schedule: scheduleOf(config, 0),
    });
    s.reconciled.lost++;
  }
  s.reconciled.leasesReleased = await releaseExpiredLeases(db, now());
  await pruneDetailsStep(db, { keep: config.detailedResults, limit: PRUNE_BATCH });
  return active;
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
 * Creates the Jobs of claimed repositories: runs recorded first (one statement), then batches
 * of creates, each batch only while this tick still holds the lock, UIDs recorded after each
 * batch. A claim that gets no Job is given back with its budget. Returns true when the tick
 * could not do its work (a refusal, or the API server kept failing).
 */
async function createJobs(claims: ClaimedRepo[], slot: string, deps: TickDeps, now: () => Date, s: TickSummary, lock: HeldLock, started: number, running = new Set<string | undefined>()): Promise<boolean> {
  const { db, config, cluster, log } = deps;
  const retry = { retries: config.kubeRetries, baseMs: deps.retryBaseMs };
  const planned: Array<{ claim: ClaimedRepo; job: V1Job }> = [];
  for (const claim of claims) {
    const parsed = parseRepo(claim.canonical, config.allowedHosts);
    if (!parsed.ok) {
      // Never hand an unvalidated name to a Job; park the row and say why.
      const why = `invalid repository name in the database: ${parsed.reason}`;
      s.skipped.push({ repo: claim.canonical, why });
      await releaseClaim(db, { repoId: claim.id, owner: slot, now: now(), dueAt: new Date(now().getTime() + config.failureBackoffMaxSeconds * 1000), error: why, refund: true });
    } else if (running.has(repoIdLabel(parsed.repo))) {
      // Its previous Job outlived the lease (only if the lease is shorter than the deadline): wait for it.
      s.skipped.push({ repo: claim.canonical, why: 'a Job for this repository is still running' });
      await releaseClaim(db, { repoId: claim.id, owner: slot, now: now(), dueAt: new Date(now().getTime() + config.leaseSeconds * 1000), refund: true });
    } else {
      planned.push({ claim, job: buildScorecardJob({ repo: parsed.repo, dueWindow: claim.claimedDueAt, tickSlot: slot }, config) });
    }
  }
  // Recorded before created: a Job the database does not know is not ours (see reconcile).
  await recordRuns(db, planned.map((p) => ({ repoId: p.claim.id, jobName: p.job.metadata!.name!, tickSlot: slot, createdAt: now() })));

  let stop: string | undefined;
  let systemic = false;
  const giveBack = async (p: { claim: ClaimedRepo; job: V1Job }, error?: string) => {
    await deletePendingRun(db, p.job.metadata!.name!);
    await releaseClaim(db, { repoId: p.claim.id, owner: slot, now: now(), keepWindow: true, refund: true, error });
  };
  const create = async (p: { claim: ClaimedRepo; job: V1Job }, uids: Array<{ jobName: string; jobUid: string }>) => {
    const name = p.job.metadata!.name!;
    try {
      const res = await withRetries(() => cluster.createJob(config.namespace, p.job), retry);
      if (res.job.metadata?.uid) uids.push({ jobName: name, jobUid: res.job.metadata.uid });
      if (res.created) s.created++;
      else s.existing++;
      return;
    } catch (err) {
      const e = toKubeError(err);
      if (!e.retryable && e.status !== 409 && e.status !== 408) {
        // A refusal (403, 422…): certainly not created.
        await giveBack(p, `creating Job: ${e.message}`);
        s.errors.push(`${p.claim.canonical}: ${e.message}`);
        systemic = true;
        stop = `${e.status} ${e.reason}: configuration error, not retried this tick`;
        log.error({ status: e.status, reason: e.reason, err: e.message }, 'Job creation refused; fix the configuration or RBAC');
        return;
      }
      // A timeout, reset, 5xx, or 409 whose GET failed: the Job may exist. Ask before deciding.
      s.errors.push(`${p.claim.canonical}: ${e.message}`);
      systemic = true;
      stop = 'the API server keeps failing';
      let job: V1Job | undefined;
      try {
        job = await withRetries(() => cluster.getJob(config.namespace, name), retry);
      } catch (getErr) {
        // Unknown: the run stays pending and the claim held; the reconcile asks again once no
        // create can still be in flight, then adopts the Job or gives the claim back.
        s.skipped.push({ repo: p.claim.canonical, why: `create unanswered (${e.message}) and the Job cannot be read (${toKubeError(getErr).message}); settled by a later tick` });
        return;
      }
      s.reconciled.settled++;
      if (job && isOurs(job)) {
        if (job.metadata?.uid) uids.push({ jobName: name, jobUid: job.metadata.uid });
        s.existing++;
        return;
      }
      // Not created (so far): the claim goes back for the same window (a create still in flight
      // then meets its own name: 409), refunded; the run stays pending until the reconcile has
      // checked once more that no such Job appeared.
      await releaseClaim(db, { repoId: p.claim.id, owner: slot, now: now(), keepWindow: true, refund: true, error: `creating Job: ${e.message}` });
    }
  };

  const queue = [...planned];
  // The first create goes alone: a refusal (403, 422) then stops the tick after one call, not eight.
  let size = 1;
  while (queue.length > 0) {
    const batch = queue.splice(0, size);
    size = CREATE_PARALLELISM;
    if (!stop && Date.now() - started > TICK_BUDGET_MS) stop = 'the tick ran out of time';
    if (!stop && !(await lock.fence())) stop = 'lost the tick lock (this tick stalled past its lease); another tick counts now';
    if (stop) {
      for (const p of batch) await giveBack(p);
      continue;
    }
    const uids: Array<{ jobName: string; jobUid: string }> = [];
    await Promise.all(batch.map((p) => create(p, uids)));
    await setRunJobUids(db, uids);
  }
  if (stop) s.skipped.push({ repo: '*', why: stop });
  return systemic;
}
