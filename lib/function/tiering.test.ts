// The flags, and that the Node this runs on honours them when they are set at run time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { turbofanFlags } from './tiering.ts';

test('turbofanFlags: both thresholds in V8 ratio, none for 0, refused when not a whole number', () => {
  const table: Array<[number, string[]]> = [
    [0, []],
    [300, ['--invocation-count-for-turbofan=300', '--minimum-invocations-after-ic-update=50']],
    [3000, ['--invocation-count-for-turbofan=3000', '--minimum-invocations-after-ic-update=500']],
    [1, ['--invocation-count-for-turbofan=1', '--minimum-invocations-after-ic-update=1']],
  ];
  for (const [calls, flags] of table) assert.deepEqual(turbofanFlags(calls), flags, String(calls));
  for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => turbofanFlags(bad), RangeError);
});

// A child process calls one function 1,500 times, then asks V8 (through its test-only natives, with
// compilation on the main thread so the answer does not race a background compile) whether that
// function is TurboFan code. Measured on Node 24: with the threshold at 300 it is by 1,200 calls;
// with V8's defaults it is still Maglev code after 8,000. If a Node upgrade renames or ignores the
// flags, the first case fails.
const TIERING = fileURLToPath(new URL('./tiering.ts', import.meta.url));
const child = (apply: boolean) => `
  const { optimizeAfter } = await import(${JSON.stringify(TIERING)});
  if (${apply}) optimizeAfter(300);
  function f(o) { return o.a + o.b; }
  let s = 0;
  for (let i = 0; i < 1500; i++) s += f({ a: i, b: 1 });
  const status = %GetOptimizationStatus(f);
  console.log(JSON.stringify({ turbofan: (status & (1 << 6)) !== 0, status, s }));
`;

function run(apply: boolean): { turbofan: boolean; status: number } {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', child(apply)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('optimizeAfter(300): a function called 1,500 times is TurboFan code; with V8 defaults it is not', () => {
  const applied = run(true);
  assert.ok(applied.turbofan, `not TurboFan code after 1,500 calls with the threshold at 300 (status ${applied.status.toString(2)})`);
  const defaults = run(false);
  assert.ok(!defaults.turbofan, `already TurboFan code with V8's defaults (status ${defaults.status.toString(2)}): the test no longer tells them apart`);
});
