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

// Optimised code is kept through V8's memory reducer. The reducer collects garbage once a busy
// process turns quiet (its allocation rate falls) and, by default, with "reduce memory footprint"
// set, where the collector stops retaining maps only a transition tree still holds. The maps of a
// review's objects are such maps between two reviews, and optimised code depends on them: every
// function of the request path is deoptimised and must be compiled again: measured on the
// admission server (bench/admission-replay.ts), 1.2-1.4x the bare server's main-thread CPU per
// review, 1.5-1.9x with the compiler's threads, in the minute after it. On Node 24 the reducer sees a quiet process as quiet only if the process
// has allocated on V8's C++ heap, which `node:vm` does and posture's parseJson realm uses (see
// lib/admission/protocol.ts); without it, its watchdog still runs one 100 s after a full GC. With
// this flag its collections are ordinary full ones: they free what is dead and keep the maps (the
// heap still shrinks; pages stay pooled for reuse). V8 reads it when the reducer starts a
// collection, so setting it at run time is enough (tiering.test.ts proves it).
export const KEEP_CODE_FLAGS: readonly string[] = Object.freeze(['--no-memory-reducer-favors-memory']);

/** Applies KEEP_CODE_FLAGS to this process's V8 unless `reduceMemory`; returns the flags applied. */
export function keepOptimizedCode(reduceMemory: boolean): string[] {
  if (reduceMemory) return [];
  for (const f of KEEP_CODE_FLAGS) setFlagsFromString(f);
  return [...KEEP_CODE_FLAGS];
}
