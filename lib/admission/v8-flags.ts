// The admission server's V8 flags: fixed choices of its runtime, not operator settings. serve() in
// the admission function applies them before the first review; the other functions keep V8's
// defaults (they scale to zero, and in bench/pipeline.ts sooner compiles cost the harvester more
// than they saved). V8 reads both flags when it decides, so setting them at run time is enough
// (v8-flags.test.ts proves it on the Node that runs the tests).
//
// TurboFan sooner. By default a function runs on Maglev's quicker, less optimised code until it
// has been called 3,000 times, and 500 more after each change of its inline caches. The admission
// server answers one review at a time between other processes' work for most of its life, so its
// request path, and Node's HTTP and TLS code under it, stayed on Maglev's code for thousands of
// reviews after every start, its extra time over a bare server spread over V8's generic
// property-access handlers (seen with `perf`). bench/admission-apiserver.ts (the API server's own
// latency metric) and bench/admission-replay.ts (CPU per review) show what TurboFan after
// TURBOFAN_AFTER_CALLS calls brings it back to the bare server's: their posture-v8defaults target
// runs the server with V8's defaults beside it.
//
// Optimised code kept through V8's memory reducer. The reducer collects garbage once a busy
// process turns quiet and, by default, "favours memory": that collection stops retaining maps only
// a transition tree still holds. The maps of a review's objects are such maps between two reviews,
// and optimised code depends on them, so every function of the request path is deoptimised and
// compiled again after each quiet spell: bench/admission-replay.ts shows what that costs per review
// once reviews resume (its posture-reducer target runs the server with V8's reducer beside
// posture's). With the flag below the reducer's collections are ordinary full ones: they free what
// is dead and keep the maps (the heap still shrinks; pages stay pooled for reuse). On Node 24 the
// reducer sees a process as quiet only if it has allocated on V8's C++ heap, which node:vm does:
// the admission server's JSON realm (lib/admission/json-realm.ts) uses it.
//
// POSTURE_BENCH_V8_DEFAULTS is for those benchmarks only: a comma-separated list of the choices to
// leave at V8's defaults, `turbofan` and `reducer` (what their posture-v8defaults and
// posture-reducer targets set). It is not a setting: nothing else reads it and no document lists it.
import { setFlagsFromString } from 'node:v8';

/** Calls after which V8 compiles a function with TurboFan in the admission server (V8's default: 3,000). */
export const TURBOFAN_AFTER_CALLS = 300;

/** V8's own ratio between its two TurboFan thresholds (3,000 calls, then 500 after an inline-cache change). */
const AFTER_IC_UPDATE_RATIO = 6;

/** TurboFan after TURBOFAN_AFTER_CALLS calls, and after a sixth as many once an inline cache changed. */
export const TURBOFAN_FLAGS: readonly string[] = Object.freeze([
  `--invocation-count-for-turbofan=${TURBOFAN_AFTER_CALLS}`,
  `--minimum-invocations-after-ic-update=${Math.round(TURBOFAN_AFTER_CALLS / AFTER_IC_UPDATE_RATIO)}`,
]);

/** The memory reducer's collections are ordinary full ones, which keep the maps optimised code depends on. */
export const KEEP_CODE_FLAGS: readonly string[] = Object.freeze(['--no-memory-reducer-favors-memory']);

/** Which of the two choices apply (both, in the admission server). */
export interface AdmissionV8Choices {
  turbofanSooner: boolean;
  keepCodeThroughMemoryReducer: boolean;
}

/** The benchmarks' switch (see above). */
export const BENCH_V8_DEFAULTS_ENV = 'POSTURE_BENCH_V8_DEFAULTS';

/** Both choices, less those POSTURE_BENCH_V8_DEFAULTS names; an unknown name is an error, not a silent default. */
export function admissionV8Choices(env: Record<string, string | undefined> = process.env): AdmissionV8Choices {
  const defaults = (env[BENCH_V8_DEFAULTS_ENV] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const d of defaults) {
    if (d !== 'turbofan' && d !== 'reducer')
      throw new Error(`${BENCH_V8_DEFAULTS_ENV}=${env[BENCH_V8_DEFAULTS_ENV]}: expected turbofan and/or reducer, not ${JSON.stringify(d)}`);
  }
  return { turbofanSooner: !defaults.includes('turbofan'), keepCodeThroughMemoryReducer: !defaults.includes('reducer') };
}

/** The V8 flags of a set of choices. */
export function admissionV8Flags(choices: AdmissionV8Choices): string[] {
  return [...(choices.turbofanSooner ? TURBOFAN_FLAGS : []), ...(choices.keepCodeThroughMemoryReducer ? KEEP_CODE_FLAGS : [])];
}

/** Sets the admission server's V8 flags in this process (before its first review); returns those set. */
export function applyAdmissionV8Flags(choices: AdmissionV8Choices = admissionV8Choices()): string[] {
  const flags = admissionV8Flags(choices);
  for (const f of flags) setFlagsFromString(f);
  return flags;
}
