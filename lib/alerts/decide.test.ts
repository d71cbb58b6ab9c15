import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlertDecision, alertInputOf, decide, type OpenAlert } from './decide.ts';
import { checks, inputOf, policyChanged, REPO, scoreChanged } from './testing.ts';

const open = (o: Partial<OpenAlert> = {}): OpenAlert => ({ baselineScore: 7, zeroChecks: [], failingRules: null, score: 5, ...o });
const T = 0.5;

describe('decide: score.changed', () => {
  const cases: Array<[string, OpenAlert | null, ReturnType<typeof scoreChanged>, Partial<AlertDecision>]> = [
    [
      'a drop past the threshold opens',
      null,
      scoreChanged(2, { score: 7, checks: checks(8, 7) }, { score: 6, checks: checks(6, 7) }),
      {
        action: 'open',
        reasons: ['score fell 1.0 (7.0 → 6.0)'],
        next: { baselineScore: 7, zeroChecks: [], failingRules: null, score: 6 },
      },
    ],
    ['a drop exactly at the threshold opens', null, scoreChanged(2, { score: 7, checks: checks(8) }, { score: 6.5, checks: checks(7) }), { action: 'open' }],
    [
      'a rise past the threshold, nothing open: nothing to say',
      null,
      scoreChanged(2, { score: 6, checks: checks(6) }, { score: 7, checks: checks(8) }),
      { action: 'none', next: null },
    ],
    [
      'a check falling to 0 opens even without a score drop',
      null,
      scoreChanged(2, { score: 7, checks: checks(3, 5) }, { score: 7, checks: checks(0, 8) }),
      {
        action: 'open',
        reasons: ['Code-Review fell to 0'],
        next: { baselineScore: 7, zeroChecks: ['Code-Review'], failingRules: null, score: 7 },
      },
    ],
    [
      'a further drop while open updates, keeping the first baseline',
      open({ score: 6 }),
      scoreChanged(3, { score: 6, checks: checks(6) }, { score: 5, checks: checks(4) }),
      {
        action: 'update',
        reasons: ['score fell 1.0 (6.0 → 5.0)'],
        next: { baselineScore: 7, zeroChecks: [], failingRules: null, score: 5 },
      },
    ],
    [
      'a partial rise while open updates',
      open(),
      scoreChanged(3, { score: 5, checks: checks(4) }, { score: 6, checks: checks(6) }),
      {
        action: 'update',
        reasons: ['score rose 1.0 (5.0 → 6.0)'],
      },
    ],
    [
      'back at the baseline closes',
      open(),
      scoreChanged(3, { score: 5, checks: checks(4) }, { score: 7, checks: checks(8) }),
      {
        action: 'close',
        reasons: ['score recovered to 7.0 (was 7.0 before the drop)'],
        next: null,
      },
    ],
    [
      'back at the baseline with a check still at 0 stays open',
      open({ zeroChecks: ['Maintained'] }),
      scoreChanged(3, { score: 5, checks: checks(4, 0) }, { score: 7.5, checks: checks(9, 0) }),
      {
        action: 'update',
        next: { baselineScore: 7, zeroChecks: ['Maintained'], failingRules: null, score: 7.5 },
      },
    ],
    [
      'the check at 0 coming back with the score closes',
      open({ zeroChecks: ['Maintained'] }),
      scoreChanged(3, { score: 6, checks: checks(4, 0) }, { score: 7, checks: checks(4, 9) }),
      { action: 'close', next: null },
    ],
    [
      'recovered score while the policy fails: an update, the policy part stays',
      open({ failingRules: ['min-score'] }),
      scoreChanged(3, { score: 5, checks: checks(4) }, { score: 7, checks: checks(8) }),
      {
        action: 'update',
        next: { baselineScore: null, zeroChecks: [], failingRules: ['min-score'], score: 7 },
      },
    ],
    [
      'a drop while only the policy fails starts the score part at its baseline',
      open({ baselineScore: null, failingRules: ['r'], score: null }),
      scoreChanged(3, { score: 8, checks: checks(8) }, { score: 6, checks: checks(5) }),
      {
        action: 'update',
        next: { baselineScore: 8, zeroChecks: [], failingRules: ['r'], score: 6 },
      },
    ],
  ];
  for (const [name, state, ev, want] of cases) {
    it(name, () => {
      const d = decide(state, inputOf(ev), T);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(d[k as keyof AlertDecision], v, k);
    });
  }
});

describe('decide: policy.changed', () => {
  const p = (from: 'pass' | 'fail' | null, to: 'pass' | 'fail', rules: string[] = []) => inputOf(policyChanged('p1', { repo: REPO, from, to, rules }));
  const cases: Array<[string, OpenAlert | null, ReturnType<typeof p>, Partial<AlertDecision>]> = [
    [
      'turning fail opens',
      null,
      p('pass', 'fail', ['b', 'a']),
      { action: 'open', reasons: ['the policy fails: a, b'], next: { baselineScore: null, zeroChecks: [], failingRules: ['a', 'b'], score: null } },
    ],
    ['failing from the first evaluation opens', null, p(null, 'fail'), { action: 'open', reasons: ['the policy fails'] }],
    ['passing with nothing open: nothing', null, p('fail', 'pass'), { action: 'none', next: null }],
    [
      'other rules failing while open: an update',
      open({ failingRules: ['a'] }),
      p('fail', 'fail', ['a', 'c']),
      { action: 'update', next: open({ failingRules: ['a', 'c'] }) },
    ],
    ['the same rules again: nothing', open({ failingRules: ['a'] }), p('fail', 'fail', ['a']), { action: 'none' }],
    [
      'passing with only the policy open closes',
      open({ baselineScore: null, failingRules: ['a'] }),
      p('fail', 'pass'),
      { action: 'close', next: null, reasons: ['the policy passes again'] },
    ],
    ['passing while the score is still down: an update', open({ failingRules: ['a'] }), p('fail', 'pass'), { action: 'update', next: open() }],
    ['passing while only the score is open: nothing', open(), p('fail', 'pass'), { action: 'none', next: open() }],
  ];
  for (const [name, state, input, want] of cases) {
    it(name, () => {
      const d = decide(state, input, T);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(d[k as keyof AlertDecision], v, k);
    });
  }
});

describe('alertInputOf', () => {
  const good = scoreChanged(2, { score: 7, checks: checks(8) }, { score: 6, checks: checks(6) });
  for (const [name, ev, want] of [
    ['no id', { type: good.type, data: good.data }, /no id/],
    ['another type', { id: 'x', type: 'dev.posture.score.updated', data: good.data }, /not an event the alerts act on/],
    ['no data', { id: 'x', type: good.type }, /no JSON data/],
    ['no repo', { id: 'x', type: good.type, data: { ...good.data, repo: '' } }, /data.repo/],
    ['score.changed without checks', { id: 'x', type: good.type, data: { ...good.data, changed: undefined } }, /data.changed/],
    ['policy with a bad outcome', policyChanged('p', { repo: REPO, from: null, to: 'maybe' as 'fail', rules: [] }), /data.to must be pass or fail/],
    [
      'policy with bad rules',
      { ...policyChanged('p', { repo: REPO, from: null, to: 'fail', rules: [] }), data: { repo: REPO, from: null, to: 'fail', rules: [1] } },
      /data.rules/,
    ],
  ] as const) {
    it(`refuses ${name} in one line`, () => {
      const r = alertInputOf(ev as never);
      assert.equal(typeof r, 'string');
      assert.match(r as string, want);
      assert.doesNotMatch(r as string, /\n/);
    });
  }
  it('takes the harvester’s own event', () => assert.equal((alertInputOf(good) as { kind: string }).kind, 'score'));
});
