// When the fleet starts no Scorecard Job for GitHub's sake: a refused token or a spent rate
// limit, neither any repository's doing. The scheduler decides with it; the dashboard and
// `posture up` say it. Pure.

/** Why the fleet starts no Job, or only a probe: the token or the rate limit, neither any repository's. */
export type FleetPause = { reason: 'credentials'; message: string } | { reason: 'rate-limit'; until: string; message: string };

// Outcomes that say nothing about the token: the infrastructure's, a vanished Job, the rate limit.
const SAYS_NOTHING_OF_THE_TOKEN = new Set(['infrastructure', 'job-missing', 'rate-limited']);

/**
 * Whether the fleet pauses, from the newest runs (failure classes, null = success, newest
 * first) and when GitHub's rate limit resets (from a rate-limited run's log). GitHub answers
 * 401 only about the token, so one refused run pauses the fleet until a newer run shows the
 * token works again (a success, or any failure GitHub could only give a working token). While
 * the rate limit has not reset nothing starts: every run would wait on it.
 */
export function fleetPause(recent: ReadonlyArray<string | null>, githubWaitUntil: Date | null, now: Date): FleetPause | null {
  if (githubWaitUntil && githubWaitUntil > now) {
    return {
      reason: 'rate-limit',
      until: githubWaitUntil.toISOString(),
      message: `GitHub's rate limit is spent until ${githubWaitUntil.toISOString()}: no Scorecard Job starts before then`,
    };
  }
  const telling = recent.find((c) => c === null || !SAYS_NOTHING_OF_THE_TOKEN.has(c));
  if (telling === 'credentials') {
    return {
      reason: 'credentials',
      message: 'GitHub refused the token (401 Bad credentials): fix the token Secret; starting only a probe run per tick, no repository is blamed',
    };
  }
  return null;
}
