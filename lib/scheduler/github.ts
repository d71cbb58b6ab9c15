// The tick's two GitHub steps, each an optional dependency of the scheduler's handle: GitHub's
// own remaining quota (GET /rate_limit, free, read before the tick and spent by the claim, minus
// a reserve) and the rediscovery of the sources that are due (after the tick). Without them the
// tick runs as before: the fixed estimate alone, no sources.
import { describeDatabaseError } from '../db/errors.ts';
import { type RateLimitReading, runsFromRateLimit, soonestReset } from '../github/budget.ts';
import type { RediscoverySummary, SourceRediscovery } from '../github/sources.ts';
import type { Logger } from '../log/index.ts';
import { gauge } from '../metrics/index.ts';
import type { TickSummary } from './summary.ts';

const remainingGauge = gauge(
  'posture_github_rate_limit_remaining',
  "GitHub's remaining core quota over posture's tokens (or App installation), read before each tick",
);
const runsGauge = gauge('posture_github_budget_runs', 'Runs the remaining GitHub quota paid for at the last tick (after the reserve and the runs in flight)');

/** What the handle may be given for GitHub (functions/scheduler wires both when GitHub is configured). */
export interface GitHubTickSteps {
  /** Reads GET /rate_limit per token or installation; a failure leaves the tick to its fixed estimate. */
  readRateLimits?: () => Promise<RateLimitReading[]>;
  /** Rediscovers the sources that are due. */
  sources?: SourceRediscovery;
}

/** Longest the tick waits for /rate_limit before it goes on without it. */
export const RATE_LIMIT_TIMEOUT_MS = 10_000;

/** GitHub's readings before a tick, or undefined (not configured, or not answered: logged). */
export async function readBeforeTick(steps: GitHubTickSteps, log: Logger): Promise<RateLimitReading[] | undefined> {
  if (!steps.readRateLimits) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      steps.readRateLimits(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${RATE_LIMIT_TIMEOUT_MS / 1000} s`)), RATE_LIMIT_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    log.warn({ err: (err as Error).message }, "could not read GitHub's rate limit; this tick uses the fixed estimate only");
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the claim may start by GitHub's own count (Infinity without readings), noted in the
 * summary: what was left, and why nothing is claimed when nothing is.
 */
export function runsGitHubAllows(
  readings: readonly RateLimitReading[] | undefined,
  settings: { githubBudgetReserve: number; callsPerRun: number },
  inFlight: number,
  s: TickSummary,
): number {
  if (!readings || readings.length === 0) return Number.POSITIVE_INFINITY;
  const runs = runsFromRateLimit({ readings, reservePerCredential: settings.githubBudgetReserve, callsPerRun: settings.callsPerRun, inFlight }) ?? 0;
  const remaining = readings.reduce((n, r) => n + r.remaining, 0);
  s.github = { remaining, runs };
  remainingGauge.set(remaining);
  runsGauge.set(runs);
  if (runs === 0) {
    const reset = soonestReset(readings, settings.githubBudgetReserve);
    s.skipped.push({
      repo: '*',
      why: `GitHub's remaining quota (${remaining} calls) pays for no repository over the reserve and the ${inFlight} repositories the running Jobs may still score${reset ? `; it resets at ${reset.toISOString()}` : ''}`,
    });
  }
  return runs;
}

/** The sources' step after a tick; its failure is logged and never fails the tick. */
export async function rediscoverAfterTick(steps: GitHubTickSteps, now: Date, log: Logger): Promise<RediscoverySummary | undefined> {
  if (!steps.sources) return undefined;
  try {
    const r = await steps.sources.rediscover(now);
    return r.sources > 0 ? r : undefined;
  } catch (err) {
    log.warn({ err: describeDatabaseError(err) }, 'rediscovering sources failed');
    return undefined;
  }
}
