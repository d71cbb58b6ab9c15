import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CheckScore, diffResults, noticeOf, type ResultRef, scoreDelta } from './diff.ts';

const ref = (id: number, score: number, checks: CheckScore[]): ResultRef & { checks: CheckScore[] } => ({
  id,
  score,
  date: `2026-01-0${id}T00:00:00Z`,
  commit: String(id).repeat(40).slice(0, 40),
  checks,
});

describe('scoreDelta', () => {
  for (const [from, to, want] of [
    [7.1, 7.3, 0.2],
    [7.3, 7.1, -0.2],
    [0, 10, 10],
    [5.5, 5.5, 0],
    [-1, 2.5, 3.5],
  ] as const) {
    it(`${from} → ${to} is ${want}`, () => assert.equal(scoreDelta(from, to), want));
  }
});

describe('diffResults', () => {
  it('a first result has no delta and nothing changed, added or removed', () => {
    const c = diffResults(null, ref(1, 6, [{ name: 'A', score: 5 }]));
    assert.equal(c.delta, null);
    assert.equal(c.from, null);
    assert.deepEqual([c.changed, c.added, c.removed, c.unchanged], [[], [], [], 0]);
  });
  it('tells changed, added, removed and unchanged checks apart; biggest drop first', () => {
    const c = diffResults(
      ref(1, 7.5, [
        { name: 'Keep', score: 10 },
        { name: 'Drop', score: 9, reason: 'r1' },
        { name: 'Rise', score: 2 },
        { name: 'Gone', score: 4 },
        { name: 'Dip', score: 6 },
      ]),
      ref(2, 6.3, [
        { name: 'Keep', score: 10 },
        { name: 'Drop', score: 0, reason: 'r2' },
        { name: 'Rise', score: 8 },
        { name: 'New', score: 3 },
        { name: 'Dip', score: 5 },
      ]),
    );
    assert.equal(c.delta, -1.2);
    assert.deepEqual(
      c.changed.map((x) => [x.name, x.from, x.to, x.delta]),
      [
        ['Drop', 9, 0, -9],
        ['Dip', 6, 5, -1],
        ['Rise', 2, 8, 6],
      ],
    );
    assert.equal(c.changed[0].reasonFrom, 'r1');
    assert.equal(c.changed[0].reasonTo, 'r2');
    assert.deepEqual(c.added, [{ name: 'New', score: 3 }]);
    assert.deepEqual(c.removed, [{ name: 'Gone', score: 4 }]);
    assert.equal(c.unchanged, 1);
  });
  it('an inconclusive side (-1) is a change without a numeric delta', () => {
    const c = diffResults(ref(1, 5, [{ name: 'A', score: -1 }]), ref(2, 5, [{ name: 'A', score: 7 }]));
    assert.deepEqual(
      c.changed.map((x) => [x.from, x.to, x.delta]),
      [[-1, 7, null]],
    );
  });
  it('the refs in the answer carry no checks', () => {
    const c = diffResults(ref(1, 5, [{ name: 'A', score: 1 }]), ref(2, 5, [{ name: 'A', score: 1 }]));
    assert.deepEqual(Object.keys(c.to).sort(), ['commit', 'date', 'id', 'score']);
  });
});

describe('noticeOf', () => {
  const change = (from: number, to: number, fromChecks: CheckScore[] = [], toChecks: CheckScore[] = []) =>
    diffResults(ref(1, from, fromChecks), ref(2, to, toChecks));
  const cases: Array<[string, ReturnType<typeof change> | ReturnType<typeof diffResults>, number, boolean, string[]]> = [
    ['a drop at the threshold notifies', change(7.5, 7.0), 0.5, true, ['score fell 0.5 (7.5 → 7.0)']],
    ['a rise at the threshold notifies', change(6.0, 6.5), 0.5, true, ['score rose 0.5 (6.0 → 6.5)']],
    ['noise below the threshold does not (scorecard-monitor#88)', change(7.5, 7.3), 0.5, false, []],
    ['no move does not, even with threshold 0', change(7.5, 7.5), 0, false, []],
    [
      'a check falling to 0 notifies even without a score move',
      change(7.5, 7.5, [{ name: 'Code-Review', score: 8 }], [{ name: 'Code-Review', score: 0 }]),
      0.5,
      true,
      ['Code-Review fell to 0'],
    ],
    ['a check that was already 0 does not', change(7.5, 7.5, [{ name: 'Fuzzing', score: 0 }], [{ name: 'Fuzzing', score: 0 }]), 0.5, false, []],
    ['inconclusive to 0 does not count as a fall', change(7.5, 7.5, [{ name: 'SAST', score: -1 }], [{ name: 'SAST', score: 0 }]), 0.5, false, []],
    ['a first result never notifies', diffResults(null, ref(1, 0, [{ name: 'A', score: 0 }])), 0.5, false, []],
  ];
  for (const [title, c, threshold, notify, reasons] of cases) {
    it(title, () => {
      const n = noticeOf(c, threshold);
      assert.equal(n.notify, notify);
      assert.deepEqual(n.reasons, reasons);
    });
  }
});
