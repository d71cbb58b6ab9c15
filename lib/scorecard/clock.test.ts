import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FUTURE_DATED_TOLERANCE_MS, isFutureDated } from './clock.ts';

test('a result is future-dated only when dated more than the tolerance after it was stored', () => {
  const stored = new Date('2030-01-01T00:00:00Z');
  const after = (ms: number) => new Date(stored.getTime() + ms);
  const cases: Array<[string, Date, boolean]> = [
    ['dated before it was stored (a right clock)', after(-60_000), false],
    ['dated when it was stored', stored, false],
    ['a little ahead, within the tolerance', after(FUTURE_DATED_TOLERANCE_MS - 1), false],
    ['exactly the tolerance ahead', after(FUTURE_DATED_TOLERANCE_MS), false],
    ['just past the tolerance', after(FUTURE_DATED_TOLERANCE_MS + 1), true],
    ['a year ahead', new Date('2031-01-01T00:00:00Z'), true],
    ['years behind (an old clock: not this flag)', new Date('2001-01-01T00:00:00Z'), false],
  ];
  for (const [name, date, want] of cases) assert.equal(isFutureDated(date, stored), want, name);
});
