import assert from 'node:assert/strict';
import { test } from 'node:test';
import { budgetHour, failureBackoffSeconds, runsPerHour, secondsUntilDueAfterSuccess } from './cadence.ts';

test('secondsUntilDueAfterSuccess: the interval and a share of the jitter', () => {
  const t = new Date('2026-01-01T00:00:00Z');
  const cases: Array<[number, number, number, string]> = [
    [3600, 0, 0.5, '2026-01-01T01:00:00.000Z'],
    [3600, 600, 0, '2026-01-01T01:00:00.000Z'],
    [3600, 600, 0.5, '2026-01-01T01:05:00.000Z'],
    [3600, 600, 1, '2026-01-01T01:09:59.000Z'], // random is [0,1): 1 is clamped below
    [3600, 600, -3, '2026-01-01T01:00:00.000Z'],
  ];
  for (const [interval, jitter, random, want] of cases) {
    assert.equal(new Date(t.getTime() + secondsUntilDueAfterSuccess(interval, jitter, random) * 1000).toISOString(), want, `${interval} ${jitter} ${random}`);
  }
});

test('failureBackoffSeconds doubles from the base and stops at the cap', () => {
  const cases: Array<[number, number]> = [
    [0, 60],
    [1, 60],
    [2, 120],
    [3, 240],
    [10, 3600],
    [1000, 3600],
  ];
  for (const [n, want] of cases) assert.equal(failureBackoffSeconds(n, 60, 3600), want, `n=${n}`);
});

test('runsPerHour is tokens × calls ÷ calls per run', () => {
  assert.equal(runsPerHour(1, 5000, 70), 71);
  assert.equal(runsPerHour(3, 5000, 70), 214);
  assert.equal(runsPerHour(0, 5000, 70), Infinity);
  assert.equal(budgetHour(new Date('2026-01-01T05:59:59.999Z')).toISOString(), '2026-01-01T05:00:00.000Z');
});
