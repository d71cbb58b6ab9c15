// The scheduler function's logic behind handle(): event in, tick, summary out.
import { describeDatabaseError, publicFailure } from '../db/errors.ts';
import { parsePing } from '../events/ping.ts';
import { type Context, type Handle, reply } from '../function/handle.ts';
import { counter, gauge } from '../metrics/index.ts';
import { type Clock, databaseClock } from './clock.ts';
import { type GitHubTickSteps, readBeforeTick, rediscoverAfterTick } from './github.ts';
import { LOCK_SECONDS } from './lease.ts';
import { runTick, type TickDeps } from './tick.ts';

const ticks = counter('posture_scheduler_ticks_total', 'Scheduler ticks by status', ['status']);
const outcomes = counter('posture_scheduler_repos_total', 'Repositories per tick outcome', ['outcome']);
const breakerOpen = gauge(
  'posture_scheduler_breaker_open',
  '1 while the fleet-wide circuit breaker is open (most recent runs failed for infrastructure reasons)',
);

const paused = gauge(
  'posture_scheduler_paused',
  "1 while the fleet is paused for GitHub's sake, by reason: credentials (the token was refused, 401; a probe per tick) or rate-limit (no Job until the reset)",
  ['reason'],
);

/** What the function module provides for a tick: everything but the clock, which is the handler's; GitHub's steps are optional. */
export type SchedulerDeps = Omit<TickDeps, 'now' | 'githubRateLimits'> & GitHubTickSteps;

/**
 * deps is a function so the function module can open the database lazily, once. `clock` is the
 * clock of every time decision the tick makes; by default the database's, read for each tick
 * (tests give their own).
 */
export function createSchedulerHandle(deps: () => Promise<SchedulerDeps>, clock?: Clock): Handle {
  return async (context: Context, event?: unknown) => {
    if (!context.cloudevent) {
      ticks.inc({ status: 'rejected' });
      return reply(400, { error: 'expected a CloudEvent of type dev.knative.sources.ping (binary or structured mode)' });
    }
    let d: SchedulerDeps;
    let now: Clock;
    try {
      d = await deps();
      now = clock ?? (await databaseClock(d.db));
    } catch (err) {
      ticks.inc({ status: 'unavailable' });
      context.log.error({ err: describeDatabaseError(err) }, 'tick failed');
      return reply(503, { error: `tick failed: ${publicFailure(err)}` });
    }
    // The ping's own time names its slot; the database's clock only stands in when it has none.
    const ping = parsePing(context.cloudevent, now());
    if (!ping.ok) {
      ticks.inc({ status: 'rejected' });
      return reply(400, { error: ping.reason });
    }
    void event;
    try {
      const summary = await runTick(ping.slot, { ...d, now, githubRateLimits: await readBeforeTick(d, d.log) });
      if (summary.status !== 'duplicate' && !summary.retry) summary.sources = await rediscoverAfterTick(d, now(), d.log);
      ticks.inc({ status: summary.status });
      outcomes.inc({ outcome: 'claimed' }, summary.claimed);
      outcomes.inc({ outcome: 'created' }, summary.created);
      outcomes.inc({ outcome: 'existing' }, summary.existing);
      outcomes.inc({ outcome: 'skipped' }, summary.skipped.length);
      outcomes.inc({ outcome: 'error' }, summary.errors.length);
      d.log.info({ tick: summary }, 'tick');
      if (summary.breaker) breakerOpen.set(summary.breaker.open ? 1 : 0);
      if (summary.status === 'done') {
        for (const reason of ['credentials', 'rate-limit'] as const) paused.set({ reason }, summary.paused?.reason === reason ? 1 : 0);
      }
      if (summary.retry) {
        // A slot that started before is unfinished and another tick holds the lock (or its dead
        // holder's lease has not ended): 503 makes Knative deliver it again, and it resumes.
        const r = reply(503, summary);
        return { ...r, headers: { ...r.headers, 'retry-after': String(LOCK_SECONDS) } };
      }
      return reply(200, summary);
    } catch (err) {
      // The database or the cluster is unavailable: 503 makes Knative retry the same slot.
      ticks.inc({ status: 'unavailable' });
      context.log.error({ err: describeDatabaseError(err) }, 'tick failed');
      return reply(503, { error: `tick failed: ${publicFailure(err)}` });
    }
  };
}
