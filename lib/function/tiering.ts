// When V8 compiles a function's code with TurboFan, its optimising compiler. By default a function
// runs on Maglev's quicker, less optimised code until it has been called 3,000 times, and 500 more
// after each change of its inline caches. posture's functions answer one request at a time
// between other processes' work for most of their lives (a review from the API server, a Job
// event), so their request paths, and Node's own HTTP and TLS code under them, stay on Maglev's
// code for thousands of requests after every start: measured with `perf`, the admission server's
// functions were still Maglev code after 5,000 reviews, and its extra time over a bare server was
// spread over V8's generic property-access handlers. With TurboFan after 300 calls its CPU per
// review fell to the bare server's (README "Admission latency"). V8 reads the thresholds at every
// tier-up decision, so setting them before the first request is enough (the admission server's
// serve() does; the other functions keep V8's defaults, see functions/admission/index.ts).
import { setFlagsFromString } from 'node:v8';

/** V8's own ratio between the two thresholds (3,000 calls, then 500 after an inline-cache change). */
const AFTER_IC_UPDATE_RATIO = 6;

/** The V8 flags for TurboFan after `calls` calls; none for 0 (V8's defaults stay). */
export function turbofanFlags(calls: number): string[] {
  if (!Number.isInteger(calls) || calls < 0) throw new RangeError(`calls must be a whole number, not ${calls}`);
  if (calls === 0) return [];
  return [`--invocation-count-for-turbofan=${calls}`, `--minimum-invocations-after-ic-update=${Math.max(1, Math.round(calls / AFTER_IC_UPDATE_RATIO))}`];
}

/** Applies turbofanFlags(calls) to this process's V8; returns the flags applied. */
export function optimizeAfter(calls: number): string[] {
  const flags = turbofanFlags(calls);
  for (const f of flags) setFlagsFromString(f);
  return flags;
}
