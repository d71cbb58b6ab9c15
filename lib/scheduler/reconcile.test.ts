import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IN_FLIGHT_SECONDS, mayBeInFlight, mayHarvestAnother, RECONCILE_HARVEST_LIMIT, RECONCILE_TIME_LIMIT_MS } from './reconcile.ts';

test('mayBeInFlight: a run without a Job is possibly still being created for IN_FLIGHT_SECONDS after it was recorded', () => {
  const recorded = new Date('2030-01-01T00:00:00Z');
  const at = (ms: number) => new Date(recorded.getTime() + ms);
  const cases: Array<[number, boolean]> = [
    [0, true],
    [IN_FLIGHT_SECONDS * 1000 - 1, true],
    [IN_FLIGHT_SECONDS * 1000, false],
    [3_600_000, false],
    [-5_000, true], // recorded "in the future" (clock skew between ticks): not yet settled
  ];
  for (const [after, want] of cases) assert.equal(mayBeInFlight(recorded, at(after)), want, `${after} ms after`);
});

test('mayHarvestAnother: at most RECONCILE_HARVEST_LIMIT harvests, none once RECONCILE_TIME_LIMIT_MS have passed', () => {
  const started = new Date('2030-01-01T00:00:00Z');
  const cases: Array<[number, number, boolean]> = [
    [0, 0, true],
    [RECONCILE_HARVEST_LIMIT - 1, 0, true],
    [RECONCILE_HARVEST_LIMIT, 0, false],
    [1, RECONCILE_TIME_LIMIT_MS, true], // at the limit, not past it
    [1, RECONCILE_TIME_LIMIT_MS + 1, false],
    [0, RECONCILE_TIME_LIMIT_MS + 1, false],
  ];
  for (const [harvests, elapsed, want] of cases)
    assert.equal(mayHarvestAnother(harvests, started, new Date(started.getTime() + elapsed)), want, `${harvests} harvests, ${elapsed} ms`);
});
