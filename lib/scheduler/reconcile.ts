// The reconcile: level-triggered repair of what events missed, run by every tick before it
// counts and creates, and bounded so it fits in the tick.
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { publicFailure } from '../db/errors.ts';
import {
  closeRun,
  type Db,
  deletePendingRun,
  getRepoById,
  orphanedClaims,
  type PendingRun,
  pruneDetailsStep,
  releaseClaim,
  releaseExpiredLeases,
  setRunJobUids,
  storeHarvest,
} from '../db/index.ts';
import { jobState } from '../jobs/status.ts';
import { type ClusterApi, toKubeError, withRetries } from '../kube/cluster.ts';
import type { Logger } from '../log/index.ts';
import type { Clock } from './clock.ts';
import { type ClusterView, isPostureJob } from './cluster-view.ts';
import { type HeldLease, LOCK_SECONDS } from './lease.ts';
import type { TickSummary } from './summary.ts';

/**
 * How long kube-apiserver may still work on a request it received (its --request-timeout,
 * 60 s by default): a create sent before its tick's lease ended can land this long after.
 */
export const API_SERVER_REQUEST_TIMEOUT_SECONDS = 60;
/**
 * A run recorded this recently without a Job may still be being created: its batch was recorded
 * under a lease that lasts at most LOCK_SECONDS, no create is sent past that lease's end, and the
 * API server finishes what it received within its request timeout.
 */
export const IN_FLIGHT_SECONDS = LOCK_SECONDS + API_SERVER_REQUEST_TIMEOUT_SECONDS;
/** The reconcile's harvests per tick and time for them: the rest wait for the next tick. */
export const RECONCILE_HARVEST_LIMIT = 25;
export const RECONCILE_TIME_LIMIT_MS = 60_000;
/** Old results whose details are pruned per tick, at most (a few milliseconds). */
const PRUNE_BATCH = 100;

/** A pending run recorded less than IN_FLIGHT_SECONDS ago, with no Job listed, may still be being created. */
export function mayBeInFlight(recordedAt: Date, now: Date): boolean {
  return now.getTime() - recordedAt.getTime() < IN_FLIGHT_SECONDS * 1000;
}

/** Whether the reconcile harvests one more finished Job, having done `harvests` since `started`. */
export function mayHarvestAnother(harvests: number, started: Date, now: Date): boolean {
  return harvests < RECONCILE_HARVEST_LIMIT && now.getTime() - started.getTime() <= RECONCILE_TIME_LIMIT_MS;
}

export interface ReconcileDeps {
  db: Db;
  cluster: ClusterApi;
  config: Config;
  log: Logger;
  now: Clock;
  /** The harvester's lib function, for finished Jobs the event path missed. */
  harvest?: (job: V1Job) => Promise<{ status: string; why?: string }>;
  /** Delay between retries of a Kubernetes call (tests make it instant). */
  retryBaseMs?: number;
}

/** The part of a tick's summary the reconcile writes. */
export type ReconcileReport = Pick<TickSummary, 'reconciled' | 'errors'>;

/**
 * Harvests finished Jobs (at most RECONCILE_HARVEST_LIMIT), deletes Jobs already harvested,
 * closes runs whose harvest is rejected, removes posture Jobs the database never recorded,
 * settles creates whose answer was lost, closes runs whose Job vanished, clears expired leases
 * and prunes a batch of old result details. Its input (readClusterView) costs the pending runs
 * and one sweep page, not the Jobs held. Returns the number of Jobs active or possibly being
 * created.
 */
export async function reconcile(view: ClusterView, deps: ReconcileDeps, s: ReconcileReport, lease: Pick<HeldLease, 'fenced'>): Promise<number> {
  const { db, config, cluster, log, now } = deps;
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
  const harvestStart = now();
  for (const job of view.finished) {
    if (!deps.harvest || !mayHarvestAnother(harvests, harvestStart, now())) break;
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
      s.errors.push(`harvesting ${name}: ${publicFailure(err)}`);
    }
  }

  // Runs still pending whose Job is not listed: being created right now (counted as active),
  // created with a lost answer (ask by name), or created and then deleted before any harvest.
  // A shard's Job has a run per repository: each Job is settled once, for all of them.
  const missingJobs = new Map<string, PendingRun[]>();
  for (const run of view.missing) {
    const of = missingJobs.get(run.job_name);
    if (of) of.push(run);
    else missingJobs.set(run.job_name, [run]);
  }
  for (const [jobName, runs] of missingJobs) {
    // Recorded together under one lease: the newest record says whether a create may still land.
    const recordedAt = new Date(Math.max(...runs.map((run) => new Date(run.created_at).getTime())));
    if (mayBeInFlight(recordedAt, now())) {
      s.reconciled.inFlight++;
      active++;
      continue;
    }
    const uid = runs.find((run) => run.job_uid)?.job_uid;
    if (!uid) {
      let job: V1Job | undefined;
      try {
        job = await withRetries(() => cluster.getJob(config.namespace, jobName), retry);
      } catch (err) {
        s.errors.push(`asking for ${jobName}: ${toKubeError(err).message}`);
        active++; // unknown: it may exist
        continue;
      }
      s.reconciled.settled++;
      if (job && isPostureJob(job)) {
        await setRunJobUids(db, [{ jobName, jobUid: job.metadata!.uid! }]);
        if (!jobState(job).finished) active++;
        continue;
      }
      // Never created: nothing ran, so nothing failed. Give the claims back for the same window,
      // refunded, under this tick's lease (a tick that lost it settles nothing).
      const settled = await lease.fenced(async (tx) => {
        await deletePendingRun(tx, jobName);
        for (const run of runs) {
          if (run.tick_slot) await releaseClaim(tx, { repoId: run.repo_id, owner: run.tick_slot, keepWindow: true, refund: true, now: now() });
        }
      });
      if (!settled.held) {
        s.errors.push('lost the tick lock while settling creates');
        break;
      }
      continue;
    }
    let lostLease = false;
    for (const run of runs) {
      const repo = await getRepoById(db, run.repo_id);
      if (!repo) continue; // removed since: its runs went with it
      const closed = await lease.fenced((tx) =>
        storeHarvest(tx, {
          repoKey: repo.key,
          jobName,
          jobUid: uid,
          finishedAt: now(),
          checkSet: null,
          outcome: { ok: false, failure: 'job-missing', reason: 'the Job disappeared before it was harvested' },
          schedule: scheduleOf(config, 0),
        }),
      );
      if (!closed.held) {
        lostLease = true;
        break;
      }
      s.reconciled.lost++;
    }
    if (lostLease) {
      s.errors.push('lost the tick lock while settling creates');
      break;
    }
  }
  s.reconciled.leasesReleased = await releaseExpiredLeases(db, now());
  await pruneDetailsStep(db, { keep: config.detailedResults, limit: PRUNE_BATCH });
  return active;
}

/**
 * Claims of a tick that died between claiming and recording, given back for the same window
 * and refunded, so this tick claims them again. Only under the tick's lease: no live tick can
 * then be between claiming and recording.
 */
export async function releaseOrphanedClaims(
  slot: string,
  deps: Pick<ReconcileDeps, 'db' | 'now'>,
  s: ReconcileReport,
  lease: Pick<HeldLease, 'fenced'>,
): Promise<void> {
  const { now } = deps;
  const released = await lease.fenced(async (tx) => {
    let n = 0;
    for (const o of await orphanedClaims(tx, slot, now())) {
      if (await releaseClaim(tx, { repoId: o.id, owner: o.owner, keepWindow: true, refund: true, now: now() })) n++;
    }
    return n;
  });
  if (released.held) s.reconciled.orphans += released.value;
  else s.errors.push('lost the tick lock before releasing orphaned claims');
}

function scheduleOf(config: Config, random: number) {
  return {
    rescoreIntervalSeconds: config.rescoreIntervalSeconds,
    jitterSeconds: config.jitterSeconds,
    failureBackoffBaseSeconds: config.failureBackoffBaseSeconds,
    failureBackoffMaxSeconds: config.failureBackoffMaxSeconds,
    random,
  };
}
