// The creates: claimed repositories become Jobs, up to POSTURE_SHARD_SIZE repositories per Job
// (a shard). Runs (one per repository) are recorded before their Jobs are created (a Job the
// database does not know is not posture's, see the reconcile), creates go in batches while the
// tick still holds its lease, and a claim that gets no Job is given back with its budget.
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { type ClaimedRepo, type Db, deletePendingRun, recordRuns, releaseClaim, setRunJobUids } from '../db/index.ts';
import { buildShardJob, JOB_NAME_LABEL, type ShardMember, shardJobName } from '../jobs/spec.ts';
import { type ClusterApi, KubeError, toKubeError, withRetries } from '../kube/cluster.ts';
import type { Logger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import type { Clock } from './clock.ts';
import { isPostureJob } from './cluster-view.ts';
import type { HeldLease } from './lease.ts';
import type { TickSummary } from './summary.ts';

/** Creates stop this long after the tick started: Knative ends the request at 300 s (knative/scheduler.yaml). */
export const CREATE_TIME_LIMIT_MS = 240_000;
const CREATE_PARALLELISM = 8;

export interface CreateDeps {
  db: Db;
  cluster: ClusterApi;
  config: Config;
  log: Logger;
  now: Clock;
  /** Delay between retries of a Kubernetes call (tests make it instant). */
  retryBaseMs?: number;
}

/** The part of a tick's summary the creates write (a create settled by name counts as reconciled). */
export type CreateReport = Pick<TickSummary, 'created' | 'scheduled' | 'existing' | 'skipped' | 'errors' | 'reconciled'>;

/** What becomes of one claim before any create: a repository of a shard, or the claim parked (released, due later, refunded). */
export type ClaimPlan = { kind: 'scan'; member: ShardMember } | { kind: 'park'; why: string; dueInSeconds: number; error?: string };

/** `running`: ids of repositories whose previous Job still runs. */
export function planClaim(claim: ClaimedRepo, config: Config, running: ReadonlySet<number>): ClaimPlan {
  const parsed = parseRepo(claim.canonical, config.allowedHosts);
  if (!parsed.ok) {
    // Never hand an unvalidated name to a Job; park the row for long and say why on it.
    const why = `invalid repository name in the database: ${parsed.reason}`;
    return { kind: 'park', why, dueInSeconds: config.failureBackoffMaxSeconds, error: why };
  }
  if (running.has(claim.id)) {
    // Its previous Job outlived the lease (only if the lease is shorter than the deadline): wait for it.
    return { kind: 'park', why: 'a Job for this repository is still running', dueInSeconds: config.leaseSeconds };
  }
  return { kind: 'scan', member: { repo: parsed.repo, dueWindow: claim.claimedDueAt } };
}

/** A planned Job: its repositories' claims and what its Job scans, in claim order. */
export interface Shard {
  name: string;
  claims: ClaimedRepo[];
  members: ShardMember[];
}

/**
 * Groups claims, in claim order (priority, then oldest due), into shards of at most `size`
 * repositories: the higher priorities fill the first Jobs and come first in their Job (Scorecard
 * scans in order). Chunking in order, never by priority apart, makes exactly ceil(claims / size)
 * Jobs, so the claims the cap allowed (capacity × size) never need more Jobs than the cap.
 */
export function groupShards(planned: ReadonlyArray<{ claim: ClaimedRepo & { recordedJob?: string }; member: ShardMember }>, size: number): Shard[] {
  const out: Shard[] = [];
  // A resumed tick's claims whose runs were recorded keep their Job (and its name): the create
  // then meets the Job if it was sent, or sends it now, never a second Job for a repository.
  const recorded = new Map<string, Shard>();
  const fresh: Array<(typeof planned)[number]> = [];
  for (const p of planned) {
    if (p.claim.recordedJob === undefined) {
      fresh.push(p);
      continue;
    }
    let shard = recorded.get(p.claim.recordedJob);
    if (!shard) {
      shard = { name: p.claim.recordedJob, claims: [], members: [] };
      recorded.set(p.claim.recordedJob, shard);
      out.push(shard);
    }
    shard.claims.push(p.claim);
    shard.members.push(p.member);
  }
  const step = Math.max(1, size);
  for (let i = 0; i < fresh.length; i += step) {
    const chunk = fresh.slice(i, i + step);
    const members = chunk.map((p) => p.member);
    out.push({ name: shardJobName(members), claims: chunk.map((p) => p.claim), members });
  }
  return out;
}

/** How a shard's repositories are named in the summary and the log. */
function shardLabel(claims: readonly ClaimedRepo[]): string {
  return claims.length === 1 ? claims[0].canonical : `${claims[0].canonical} and ${claims.length - 1} more`;
}

/** Whether the creates stop: more than CREATE_TIME_LIMIT_MS since the tick started (at the limit is not past it). */
export function pastCreateTimeLimit(tickStarted: Date, now: Date): boolean {
  return now.getTime() - tickStarted.getTime() > CREATE_TIME_LIMIT_MS;
}

/**
 * What a failed create means: a refusal (403, 422…) created nothing for certain; a timeout, a
 * reset, a 5xx or a 409 whose read failed may have created the Job.
 */
export function createFailureKind(e: KubeError): 'refused' | 'maybe-created' {
  return !e.retryable && e.status !== 409 && e.status !== 408 ? 'refused' : 'maybe-created';
}

/**
 * Creates the Jobs of claimed repositories in batches, a shard of up to POSTURE_SHARD_SIZE
 * repositories per Job. Each batch's runs are recorded in one transaction with a renewal of the
 * lease (the fence), then its creates are sent, none after the lease's end, and the UIDs
 * recorded. A claim that gets no Job is given back with its budget; a tick that lost its lease
 * writes nothing more (the next holder settles its claims and runs). A repository removed since
 * it was claimed is left out of its shard on its own. `tickStarted` is when the tick started, by
 * the tick's clock. Returns true when the tick could not do its work (a refusal, or the API
 * server kept failing).
 */
export async function createJobs(
  claims: Array<ClaimedRepo & { recordedJob?: string }>,
  slot: string,
  deps: CreateDeps,
  s: CreateReport,
  lease: Pick<HeldLease, 'fenced' | 'until'>,
  tickStarted: Date,
  running: ReadonlySet<number> = new Set(),
): Promise<boolean> {
  const { config, cluster, log, now } = deps;
  const scans: Array<{ claim: ClaimedRepo & { recordedJob?: string }; member: ShardMember }> = [];
  const parked: Array<{ claim: ClaimedRepo; plan: Extract<ClaimPlan, { kind: 'park' }> }> = [];
  for (const claim of claims) {
    const plan = planClaim(claim, config, running);
    if (plan.kind === 'scan') scans.push({ claim, member: plan.member });
    else parked.push({ claim, plan });
  }
  const LOST = 'lost the tick lock (this tick stalled past its lease, or could not renew it); another tick counts now';
  let stop: string | undefined;
  if (parked.length > 0) {
    const f = await lease.fenced(async (tx) => {
      for (const { claim, plan } of parked) {
        const at = now();
        await releaseClaim(tx, {
          repoId: claim.id,
          owner: slot,
          now: at,
          dueAt: new Date(at.getTime() + plan.dueInSeconds * 1000),
          error: plan.error,
          refund: true,
        });
      }
    });
    if (f.held) for (const { claim, plan } of parked) s.skipped.push({ repo: claim.canonical, why: plan.why });
    else stop = LOST;
  }

  let systemic = false;
  /** Gives a shard's claims back (its runs forgotten), under the lease; false: the lease is lost and nothing was written. */
  const giveBack = async (ps: Array<{ shard: Shard; error?: string }>) => {
    if (ps.length === 0) return true;
    const f = await lease.fenced(async (tx) => {
      for (const p of ps) {
        await deletePendingRun(tx, p.shard.name);
        for (const claim of p.shard.claims) {
          await releaseClaim(tx, { repoId: claim.id, owner: slot, now: now(), keepWindow: true, refund: true, error: p.error });
        }
      }
    });
    return f.held;
  };
  const create = async (shard: Shard, uids: Array<{ jobName: string; jobUid: string }>, unsent: Shard[]) => {
    const { name } = shard;
    const job: V1Job = buildShardJob({ members: shard.members, tickSlot: slot }, config);
    // The recorded name: the same claims name the same Job, so a retry meets 409 (a shard that
    // lost a repository since its claim keeps the name its runs were recorded under).
    job.metadata!.name = name;
    job.metadata!.labels![JOB_NAME_LABEL] = name;
    // No attempt starts, and none lasts, past the lease's end: a create cannot land after the
    // next holder has counted (the reconcile waits IN_FLIGHT_SECONDS past a run's record for one
    // the API server is still working on).
    const attemptTimeoutMs = () => Math.min(config.kubeTimeoutSeconds * 1000, lease.until().getTime() - now().getTime());
    let sent = false;
    try {
      const res = await withRetries(
        () => {
          const timeoutMs = attemptTimeoutMs();
          if (timeoutMs <= 0) throw new LeaseEnded();
          sent = true;
          return cluster.createJob(config.namespace, job, { timeoutMs });
        },
        { retries: config.kubeRetries, baseMs: deps.retryBaseMs },
      );
      if (res.job.metadata?.uid) uids.push({ jobName: name, jobUid: res.job.metadata.uid });
      if (res.created) s.created++;
      else s.existing++;
      s.scheduled += shard.claims.length;
      return;
    } catch (err) {
      if (err instanceof LeaseEnded && !sent) {
        unsent.push(shard);
        stop ??= 'the lease ended before the create could be sent';
        return;
      }
      const e = err instanceof LeaseEnded ? new KubeError(0, 'the create had no answer before the lease ended', 'Timeout') : toKubeError(err);
      const what = shardLabel(shard.claims);
      if (createFailureKind(e) === 'refused') {
        s.errors.push(`${what}: ${e.message}`);
        if (!(await giveBack([{ shard, error: `creating Job: ${e.message}` }]))) stop = LOST;
        systemic = true;
        stop ??= `${e.status} ${e.reason}: configuration error, not retried this tick`;
        log.error({ status: e.status, reason: e.reason, err: e.message }, 'Job creation refused; fix the configuration or RBAC');
        return;
      }
      // The Job may exist: ask before deciding.
      s.errors.push(`${what}: ${e.message}`);
      systemic = true;
      stop ??= 'the API server keeps failing';
      let found: V1Job | undefined;
      try {
        found = await withRetries(() => cluster.getJob(config.namespace, name), { retries: config.kubeRetries, baseMs: deps.retryBaseMs });
      } catch (getErr) {
        // Unknown: the runs stay pending and the claims held; the reconcile asks again once no
        // create can still be in flight, then adopts the Job or gives the claims back.
        for (const claim of shard.claims)
          s.skipped.push({
            repo: claim.canonical,
            why: `create unanswered (${e.message}) and the Job cannot be read (${toKubeError(getErr).message}); settled by a later tick`,
          });
        return;
      }
      s.reconciled.settled++;
      if (found && isPostureJob(found)) {
        if (found.metadata?.uid) uids.push({ jobName: name, jobUid: found.metadata.uid });
        s.existing++;
        s.scheduled += shard.claims.length;
        return;
      }
      // Not created (so far): the claims go back for the same window (a create still in flight
      // then meets its own name: 409), refunded; the runs stay pending until the reconcile has
      // checked once more that no such Job appeared.
      const f = await lease.fenced(async (tx) => {
        for (const claim of shard.claims) {
          await releaseClaim(tx, { repoId: claim.id, owner: slot, now: now(), keepWindow: true, refund: true, error: `creating Job: ${e.message}` });
        }
      });
      if (!f.held) stop = LOST;
    }
  };

  const queue = groupShards(scans, config.shardSize);
  // The first create goes alone: a refusal (403, 422) then stops the tick after one call, not eight.
  let size = 1;
  while (queue.length > 0) {
    const batch = queue.splice(0, size);
    size = CREATE_PARALLELISM;
    if (!stop && pastCreateTimeLimit(tickStarted, now())) stop = 'the tick ran out of time';
    if (stop) {
      if (stop !== LOST && !(await giveBack(batch.map((shard) => ({ shard }))))) stop = LOST;
      continue;
    }
    const recorded = await lease.fenced((tx) =>
      recordRuns(
        tx,
        batch.flatMap((shard) => shard.claims.map((claim) => ({ repoId: claim.id, jobName: shard.name, tickSlot: slot, createdAt: now() }))),
      ),
    );
    if (!recorded.held) {
      // Nothing of this batch was written: its claims have no run, so the next holder releases them.
      stop = LOST;
      continue;
    }
    const toCreate: Shard[] = [];
    for (const shard of batch) {
      const kept = shard.claims.map((claim, i) => ({ claim, member: shard.members[i] })).filter((p) => recorded.value.has(p.claim.id));
      for (const claim of shard.claims) {
        if (!recorded.value.has(claim.id)) s.skipped.push({ repo: claim.canonical, why: 'removed after it was claimed' });
      }
      if (kept.length > 0) toCreate.push({ name: shard.name, claims: kept.map((p) => p.claim), members: kept.map((p) => p.member) });
    }
    const uids: Array<{ jobName: string; jobUid: string }> = [];
    const unsent: Shard[] = [];
    await Promise.all(toCreate.map((shard) => create(shard, uids, unsent)));
    // The Jobs exist whoever holds the lease now: their UIDs are recorded regardless.
    await setRunJobUids(deps.db, uids);
    if (unsent.length > 0 && !(await giveBack(unsent.map((shard) => ({ shard }))))) stop = LOST;
  }
  if (stop) s.skipped.push({ repo: '*', why: stop });
  return systemic;
}

/** A create not sent because the lease it was fenced under had ended. */
class LeaseEnded extends Error {}
