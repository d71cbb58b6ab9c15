// When GitHub's rate limit lets Scorecard go on, read from Scorecard's own log line. Its transport
// (clients/githubrepo/roundtripper/rate_limit.go) sleeps until `X-RateLimit-Reset` or for
// `Retry-After`, after logging `Rate limit exceeded. Waiting <duration> to retry...` or
// `Retry-After header set. Waiting <duration> to retry...`; logrus stamps the line with
// `time="<RFC 3339>"`. The reset is that time plus the duration. Pure.

const WAITING = /Waiting (-?[0-9.]+(?:h|m|s|ms|us|µs|ns)(?:[0-9.]+(?:h|m|s|ms|us|µs|ns))*) to retry/;
const TIME = /\btime="?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"?/;
const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000_001 };

/** A Go `time.Duration` string (`1h2m3.5s`, `-3.2s`, `250ms`) in milliseconds, or null. */
export function parseGoDuration(text: string): number | null {
  const m = /^(-?)((?:[0-9]+(?:\.[0-9]+)?(?:h|ms|m|s|us|µs|ns))+)$/.exec(text);
  if (!m) return null;
  let ms = 0;
  for (const part of m[2].matchAll(/([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)/g)) ms += Number(part[1]) * UNITS[part[2]];
  return m[1] === '-' ? -ms : ms;
}

/** GitHub's rate-limit windows are an hour: no honest wait is longer. */
export const LONGEST_RESET_MS = 3_600_000;

/**
 * The reset a run's log claims, bounded to [finished, finished + an hour]: a log line a
 * repository's content could shape (a file name in a warning) must never hold the fleet longer
 * than GitHub itself could, nor date the reset before the run ended.
 */
export function boundedReset(claimed: string, finishedAt: Date): string {
  const t = Date.parse(claimed);
  const from = finishedAt.getTime();
  if (Number.isNaN(t)) return finishedAt.toISOString();
  return new Date(Math.min(Math.max(t, from), from + LONGEST_RESET_MS)).toISOString();
}

/**
 * When the rate limit a log line waits on ends: the line's own time plus the wait, or null when
 * the line does not say both (a line without logrus' time cannot be placed in time).
 */
export function rateLimitResetOf(line: string): Date | null {
  const wait = WAITING.exec(line);
  const time = TIME.exec(line);
  if (!wait || !time) return null;
  const ms = parseGoDuration(wait[1]);
  const at = Date.parse(time[1]);
  if (ms === null || Number.isNaN(at)) return null;
  return new Date(at + Math.max(0, ms));
}
