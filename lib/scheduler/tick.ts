// One scheduler tick: reconcile what the cluster holds with what the database expects, then
// claim due repositories and create their Jobs within the concurrency cap and GitHub budget.
// Every state change is one statement (or one transaction) in the database; the cluster is the
// truth for what runs. Counting and creating happen under the tick's lease (lease.ts); the
// reconcile (reconcile.ts) and the creates (create.ts) are their own modules.
import { randomUUID } from 'node:crypto';
import { runsPerHour } from '../cadence/cadence.ts';
import { fleetPause } from '../cadence/pause.ts';
import type { Config } from '../config/index.ts';
import { describeDatabaseError, publicFailure } from '../db/errors.ts';
import { claimsOf, claimWithBudget, finishTick, getSchedulerState, recentOutcomes, setTickBackoff, startTick } from '../db/index.ts';
import { claimLeaseSeconds } from '../jobs/spec.ts';
import { toKubeError } from '../kube/cluster.ts';
import { type ClusterView, readClusterView } from './cluster-view.ts';
import { type CreateDeps, createJobs } from './create.ts';
import { type HeldLease, type LeaseDeps, takeTickLease } from './lease.ts';
import { breakerDecision, breakerSettingsOf, nextTickBackoffSeconds, tickOutcome } from './policy.ts';
import { type ReconcileDeps, reconcile, releaseOrphanedClaims } from './reconcile.ts';
import { emptySummary, type TickSummary } from './summary.ts';

/** What a tick needs. `now` is the one clock of every time decision it makes (see clock.ts). */
export interface TickDeps extends Omit<LeaseDeps, 'config'>, ReconcileDeps, CreateDeps {
  config: Config;
}

export async function runTick(slot: string, deps: TickDeps): Promise<TickSummary> {
  const { db, now } = deps;
  const start = await startTick(db, slot, now());
  if (start.status === 'finished') return { ...(start.summary as TickSummary), status: 'duplicate' };

  const lease = await takeTickLease(deps, `${slot}/${randomUUID()}`);
  if (!lease) {
    const s = emptySummary(slot, 'busy');
    if (start.status === 'new') {
      // Another tick is counting and creating right now; this slot's work is theirs or the next slot's.
      await finishTick(db, slot, s, now());
    } else {
      // This slot started before and did not finish (it crashed, or is still running elsewhere):
      // ask for a retry, which resumes it once the holder is done or its lease has ended.
      s.retry = true;
    }
    return s;
  }
  try {
    const summary = start.status === 'resumed' ? await resume(slot, deps, lease) : await tick(slot, deps, lease);
    await finishTick(db, slot, summary, now());
    return summary;
  } finally {
    await lease.release();
  }
}

/** The same slot again after a crash: finish its own claims, claim nothing new. */
async function resume(slot: string, deps: TickDeps, lease: HeldLease): Promise<TickSummary> {
  const s = emptySummary(slot, 'resumed');
  const claims = await claimsOf(deps.db, slot, deps.now());
  s.claimed = claims.length;
  await createJobs(claims, slot, deps, s, lease, deps.now());
  return s;
}

async function tick(slot: string, deps: TickDeps, lease: HeldLease): Promise<TickSummary> {
  const { db, config, log, now } = deps;
  const started = now();
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
  const active = await reconcile(view, deps, s, lease);
  await releaseOrphanedClaims(slot, deps, s, lease);
  s.active = active;
  s.capacity = Math.max(0, config.maxConcurrentJobs - active);

  const breakerSettings = breakerSettingsOf(config);
  const recent = await recentOutcomes(db, new Date(now().getTime() - breakerSettings.windowSeconds * 1000), breakerSettings.sample);
  const breaker = breakerDecision(recent, breakerSettings);
  const paused = fleetPause(recent, state.githubWaitUntil, now());
  let allowed = breaker.allowed;
  if (paused) {
    s.paused = paused;
    log.warn({ paused: paused.reason }, paused.message);
    s.skipped.push({ repo: '*', why: paused.message });
    allowed = paused.reason === 'rate-limit' ? 0 : Math.min(allowed, breakerSettings.probe);
  }
  s.breaker = { open: breaker.open, infrastructure: breaker.infrastructure, total: breaker.total };
  if (breaker.open) {
    log.warn(
      { infrastructure: breaker.infrastructure, recent: breaker.total },
      'circuit breaker open: most recent runs failed for infrastructure reasons (network, GitHub, evictions, image, Secret); starting only a probe per tick',
    );
    s.skipped.push({
      repo: '*',
      why: `circuit breaker open: ${breaker.infrastructure} of the last ${breaker.total} runs failed for infrastructure reasons; ${breaker.allowed} probe run per tick`,
    });
  }

  let systemic = false;
  if (s.capacity > 0) {
    // The cap counts Jobs (pods), each scoring up to a shard of repositories; the batch, the
    // breaker's probe and the GitHub budget count repositories.
    const wanted = Math.min(s.capacity * config.shardSize, config.claimBatch, allowed);
    if (wanted === 0) {
      // Paused until GitHub's rate limit resets: nothing to claim.
    } else {
      try {
        const fenced = await lease.fenced((tx) =>
          claimWithBudget(tx, {
            owner: slot,
            wanted,
            perHour: runsPerHour(config.githubTokenCount, config.githubCallsPerHour, config.callsPerRun),
            leaseSeconds: claimLeaseSeconds(config),
            now: now(),
          }),
        );
        if (!fenced.held) throw new LostLease('lost the tick lock before claiming');
        const got = fenced.value;
        s.budgetGranted = got.granted;
        s.claimed = got.claims.length;
        if (got.granted === 0) s.skipped.push({ repo: '*', why: 'GitHub budget for this hour is spent' });
        systemic = await createJobs(got.claims, slot, deps, s, lease, started, view.running);
      } catch (err) {
        if (err instanceof LostLease) s.skipped.push({ repo: '*', why: err.message });
        else {
          systemic = true;
          // The summary is the tick's reply: it says what failed; the log says which database.
          s.errors.push(`claiming: ${publicFailure(err)}`);
          log.warn({ err: describeDatabaseError(err) }, 'claiming failed');
        }
      }
    }
  } else {
    s.skipped.push({ repo: '*', why: `${active} posture Jobs active, cap is ${config.maxConcurrentJobs}` });
  }

  const progress = s.created + s.existing + s.reconciled.harvested;
  const backoff = nextTickBackoffSeconds(
    state.backoffSeconds,
    tickOutcome({ progress, capacity: s.capacity, systemic }),
    config.idleBackoffBaseSeconds,
    config.idleBackoffMaxSeconds,
  );
  await setTickBackoff(db, backoff, now());
  if (backoff > 0) s.notBefore = new Date(now().getTime() + backoff * 1000).toISOString();
  return s;
}

/** The lease was lost between counting and claiming: nothing was claimed. */
class LostLease extends Error {}
