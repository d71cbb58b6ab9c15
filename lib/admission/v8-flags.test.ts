// The admission server's V8 flags, the benchmarks' switch, and that the Node this runs on honours
// the flags when they are set at run time.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { admissionV8Choices, admissionV8Flags, KEEP_CODE_FLAGS } from './v8-flags.ts';

test('admissionV8Flags: TurboFan after 300 calls (50 after an inline-cache change, V8 ratio) and code kept through the memory reducer', () => {
  const both = ['--invocation-count-for-turbofan=300', '--minimum-invocations-after-ic-update=50', '--no-memory-reducer-favors-memory'];
  assert.deepEqual(admissionV8Flags(admissionV8Choices({})), both);
  assert.deepEqual(admissionV8Flags({ turbofanSooner: false, keepCodeThroughMemoryReducer: false }), []);
});

test('POSTURE_BENCH_V8_DEFAULTS leaves the named choices at V8 defaults; an unknown name is refused', () => {
  const table: Array<[string, { turbofanSooner: boolean; keepCodeThroughMemoryReducer: boolean }]> = [
    ['', { turbofanSooner: true, keepCodeThroughMemoryReducer: true }],
    ['turbofan', { turbofanSooner: false, keepCodeThroughMemoryReducer: true }],
    ['reducer', { turbofanSooner: true, keepCodeThroughMemoryReducer: false }],
    ['turbofan, reducer', { turbofanSooner: false, keepCodeThroughMemoryReducer: false }],
  ];
  for (const [value, want] of table) assert.deepEqual(admissionV8Choices({ POSTURE_BENCH_V8_DEFAULTS: value }), want, value);
  assert.throws(() => admissionV8Choices({ POSTURE_BENCH_V8_DEFAULTS: 'turbo' }), /expected turbofan and\/or reducer, not "turbo"/);
});

// A child process calls one function 1,500 times, then asks V8 (through its test-only natives, with
// compilation on the main thread so the answer does not race a background compile) whether that
// function is TurboFan code: with posture's threshold it is well before 1,500 calls; with V8's
// defaults it is still Maglev code well after. If a Node upgrade renames or ignores the flags, the
// first case fails.
const V8_FLAGS = fileURLToPath(new URL('./v8-flags.ts', import.meta.url));
const child = (apply: boolean) => `
  const { applyAdmissionV8Flags } = await import(${JSON.stringify(V8_FLAGS)});
  applyAdmissionV8Flags({ turbofanSooner: ${apply}, keepCodeThroughMemoryReducer: false });
  function f(o) { return o.a + o.b; }
  let s = 0;
  for (let i = 0; i < 1500; i++) s += f({ a: i, b: 1 });
  const status = %GetOptimizationStatus(f);
  console.log(JSON.stringify({ turbofan: (status & (1 << 6)) !== 0, status, s }));
`;

function run(apply: boolean): { turbofan: boolean; status: number } {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', child(apply)], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('TurboFan sooner: a function called 1,500 times is TurboFan code; with V8 defaults it is not', () => {
  const applied = run(true);
  assert.ok(applied.turbofan, `not TurboFan code after 1,500 calls with the threshold at 300 (status ${applied.status.toString(2)})`);
  const defaults = run(false);
  assert.ok(!defaults.turbofan, `already TurboFan code with V8's defaults (status ${defaults.status.toString(2)}): the test no longer tells them apart`);
});

// A child process optimises a function on objects JSON.parse makes from a context of its own (as
// posture's parseJson does, json-realm.ts; node:vm is also what lets Node 24's memory
// reducer see a quiet process as quiet), then turns quiet: a call every 50 ms, no object kept.
// V8's memory reducer collects some seconds later; the child reports, after each collection the
// reducer made (Node marks them "all external memory"), whether the function is still TurboFan
// code. On Node 24, with V8's defaults the first one deoptimises it ("embedded weak objects
// cleared": the map it depends on was not retained); with KEEP_CODE_FLAGS it stays.
const reducerChild = (apply: boolean) => `
  const { applyAdmissionV8Flags } = await import(${JSON.stringify(V8_FLAGS)});
  const { runInNewContext } = await import('node:vm');
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  applyAdmissionV8Flags({ turbofanSooner: false, keepCodeThroughMemoryReducer: ${apply} });
  const parse = runInNewContext('JSON.parse');
  const text = JSON.stringify({ uid: 'u', allowed: 1, code: 2 });
  function read(o) { return o.uid.length + o.allowed + o.code; }
  %PrepareFunctionForOptimization(read);
  let s = 0;
  for (let i = 0; i < 100; i++) s += read(parse(text));
  %OptimizeFunctionOnNextCall(read);
  s += read(parse(text));
  const turbofan = () => (%GetOptimizationStatus(read) & (1 << 6)) !== 0;
  const optimised = turbofan();
  const after = [];
  const done = () => { console.log(JSON.stringify({ optimised, after, s })); process.exit(0); };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail.kind !== constants.NODE_PERFORMANCE_GC_MAJOR || !(e.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY)) continue;
      after.push(turbofan());
      if (after.length === 2) done();
    }
  }).observe({ entryTypes: ['gc'] });
  // A busy phase, then quiet.
  let keep = [];
  for (let i = 0; i < 300000; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 50000) keep = []; }
  keep = null;
  setInterval(() => { s += read(parse(text)); }, 50);
  setTimeout(done, 40000);
`;

function runReducer(apply: boolean): Promise<{ optimised: boolean; after: boolean[] }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', reducerChild(apply)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => {
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

test("code kept through the memory reducer: optimised code survives its collections; with V8's defaults the reducer deoptimises it", {
  timeout: 60_000,
}, async () => {
  // Both children at once: each waits for the reducer.
  const [kept, defaults] = await Promise.all([runReducer(true), runReducer(false)]);
  assert.ok(kept.optimised && defaults.optimised, 'the function was not TurboFan code to begin with');
  assert.ok(defaults.after.length > 0, "the memory reducer did not collect within 40 s with V8's defaults: the test no longer exercises it");
  assert.equal(defaults.after[0], false, "V8's defaults kept the code through the reducer's collection: the test no longer tells them apart");
  assert.ok(kept.after.length > 0, 'the memory reducer did not collect within 40 s with KEEP_CODE_FLAGS');
  assert.deepEqual(
    kept.after,
    kept.after.map(() => true),
    `deoptimised by the reducer's collection with ${KEEP_CODE_FLAGS.join(' ')}`,
  );
});
