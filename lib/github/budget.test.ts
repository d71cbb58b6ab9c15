import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runsFromRateLimit, soonestReset } from './budget.ts';

const reading = (remaining: number, reset = 2_000_000_000, limit = 5000) => ({ limit, remaining, reset });

test('runs GitHub pays for: what is left over the reserve, less the runs in flight, at a run’s cost', () => {
  const cases: Array<[string, Parameters<typeof runsFromRateLimit>[0], number | undefined]> = [
    ['no readings: the caller keeps its estimate', { readings: [], reservePerCredential: 500, callsPerRun: 70, inFlight: 0 }, undefined],
    ['a full token', { readings: [reading(5000)], reservePerCredential: 500, callsPerRun: 70, inFlight: 0 }, 64],
    ['a small remainder limits the claim', { readings: [reading(700)], reservePerCredential: 500, callsPerRun: 70, inFlight: 0 }, 2],
    ['under the reserve: nothing', { readings: [reading(400)], reservePerCredential: 500, callsPerRun: 70, inFlight: 0 }, 0],
    ['runs in flight spend first', { readings: [reading(5000)], reservePerCredential: 500, callsPerRun: 70, inFlight: 60 }, 4],
    ['more in flight than left: never negative', { readings: [reading(1000)], reservePerCredential: 500, callsPerRun: 70, inFlight: 50 }, 0],
    [
      'tokens add up (Scorecard rotates them call by call)',
      { readings: [reading(570), reading(570)], reservePerCredential: 500, callsPerRun: 70, inFlight: 0 },
      2,
    ],
    [
      'a spent token adds nothing, and takes nothing from the others',
      { readings: [reading(0), reading(640)], reservePerCredential: 500, callsPerRun: 70, inFlight: 0 },
      2,
    ],
    ['no reserve', { readings: [reading(140)], reservePerCredential: 0, callsPerRun: 70, inFlight: 0 }, 2],
  ];
  for (const [name, input, want] of cases) assert.equal(runsFromRateLimit(input), want, name);
});

test('the soonest reset among the spent credentials', () => {
  assert.equal(soonestReset([reading(5000, 100)], 500), undefined);
  assert.deepEqual(soonestReset([reading(10, 300), reading(5000, 100), reading(400, 200)], 500), new Date(200_000));
});
