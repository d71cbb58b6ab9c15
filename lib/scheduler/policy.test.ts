import assert from 'node:assert/strict';
import { test } from 'node:test';
import { breakerDecision, nextTickBackoffSeconds, tickOutcome } from './policy.ts';

test('nextTickBackoffSeconds grows on idle or failure and resets on work', () => {
  const cases: Array<[number, 'worked' | 'idle' | 'failed', number]> = [
    [0, 'worked', 0],
    [0, 'idle', 60],
    [60, 'idle', 120],
    [120, 'failed', 240],
    [3600, 'idle', 3600],
    [3600, 'worked', 0],
  ];
  for (const [prev, outcome, want] of cases) assert.equal(nextTickBackoffSeconds(prev, outcome, 60, 3600), want, `${prev} ${outcome}`);
});

test('breakerDecision opens when most recent runs failed for infrastructure reasons, and then allows a probe', () => {
  const I = 'infrastructure';
  const cases: Array<[string, Array<string | null>, boolean]> = [
    ['no runs', [], false],
    ['too few to judge', [I, I, I, I, I], false],
    ['half is not most', [...Array(5).fill(I), ...Array(5).fill(null)], false],
    ['most', [...Array(6).fill(I), ...Array(4).fill(null)], true],
    ['repository failures do not count', [...Array(10).fill('pod-failed'), I], false],
    ['all', Array(20).fill(I), true],
  ];
  for (const [name, recent, open] of cases) {
    const d = breakerDecision(recent, { minRuns: 10, share: 0.5, probe: 1 });
    assert.equal(d.open, open, name);
    assert.equal(d.allowed, open ? 1 : Number.POSITIVE_INFINITY, name);
  }
  // Settings: a share of 1 never opens; the probe count is what an open breaker allows.
  assert.equal(breakerDecision(Array(20).fill(I), { minRuns: 10, share: 1, probe: 1 }).open, false);
  assert.equal(breakerDecision(Array(20).fill(I), { minRuns: 10, share: 0.5, probe: 4 }).allowed, 4);
  assert.equal(breakerDecision(Array(5).fill(I), { minRuns: 5, share: 0.5, probe: 1 }).open, true, 'fewer runs suffice when minRuns says so');
});

test('tickOutcome: progress wins over errors beside it; only a tick that could do nothing of its own failed', () => {
  const cases: Array<[{ progress: number; capacity: number; systemic: boolean }, string]> = [
    [{ progress: 2, capacity: 3, systemic: true }, 'worked'],
    [{ progress: 0, capacity: 0, systemic: false }, 'worked'],
    [{ progress: 0, capacity: 3, systemic: true }, 'failed'],
    [{ progress: 0, capacity: 3, systemic: false }, 'idle'],
  ];
  for (const [t, want] of cases) assert.equal(tickOutcome(t), want, JSON.stringify(t));
});
