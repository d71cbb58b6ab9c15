import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoAllows, TargetLimiter, targetWait } from './rate.ts';

describe('repoAllows', () => {
  const now = new Date('2026-02-01T12:00:00Z');
  const ago = (s: number) => new Date(now.getTime() - s * 1000);
  for (const [action, last, want] of [
    ['update', null, true],
    ['update', ago(10), false],
    ['update', ago(3600), true],
    ['open', ago(1), true],
    ['close', ago(1), true],
  ] as const) {
    it(`${action} ${last ? `${(now.getTime() - last.getTime()) / 1000}s after the last message` : 'with none before'}: ${want ? 'sent' : 'suppressed'}`, () =>
      assert.equal(repoAllows(action, last, now, 3600_000), want));
  }
});

describe('targetWait', () => {
  for (const [name, sent, want] of [
    ['under the limit', [0, 10], 0],
    ['at the limit: until the oldest leaves the window', [0, 10, 20], 30],
    ['old sends do not count', [-100, -70, 20], 0],
  ] as const) {
    it(name, () => assert.equal(targetWait(sent, 30, 3, 60), want));
  }
  it('TargetLimiter lets `limit` through at once, then waits per target', async () => {
    let t = 0;
    const l = new TargetLimiter(2, 50, () => t);
    assert.equal(await l.take('a'), 0);
    assert.equal(await l.take('a'), 0);
    assert.equal(await l.take('b'), 0, 'another target has its own budget');
    const p = l.take('a');
    t = 60; // the window passed while it waited
    assert.ok((await p) > 0, 'the third waited');
  });
});
