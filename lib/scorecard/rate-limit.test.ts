import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundedReset, parseGoDuration, rateLimitResetOf } from './rate-limit.ts';

test('Go durations as Scorecard prints them, in milliseconds', () => {
  const cases: Array<[string, number | null]> = [
    ['59m59s', 3_599_000],
    ['1h0m0s', 3_600_000],
    ['2.5s', 2500],
    ['-3.2s', -3200],
    ['250ms', 250],
    ['1m0.123456789s', 60_123.456789],
    ['1500µs', 1.5],
    ['0s', 0],
    ['', null],
    ['5 minutes', null],
    ['1h2x', null],
  ];
  for (const [text, want] of cases) {
    const got = parseGoDuration(text);
    if (want === null) assert.equal(got, null, text);
    else assert.ok(got !== null && Math.abs(got - want) < 1e-6, `${text}: ${got}`);
  }
});

test("the reset is the logrus line's time plus the wait; without both it is unknown", () => {
  const line = 'time="2026-12-07T18:00:00Z" level=info msg="Rate limit exceeded. Waiting 59m30s to retry..."';
  assert.equal(rateLimitResetOf(line)?.toISOString(), '2026-12-07T18:59:30.000Z');
  assert.equal(
    rateLimitResetOf('time="2026-12-07T18:00:00+01:00" level=info msg="Retry-After header set. Waiting 1m0s to retry..."')?.toISOString(),
    '2026-12-07T17:01:00.000Z',
  );
  // A reset already past (a negative wait) is the line's time: nothing to wait for.
  assert.equal(rateLimitResetOf('time="2026-12-07T18:00:00Z" msg="Rate limit exceeded. Waiting -2s to retry..."')?.toISOString(), '2026-12-07T18:00:00.000Z');
  assert.equal(rateLimitResetOf('Rate limit exceeded. Waiting 59m30s to retry...'), null);
  assert.equal(rateLimitResetOf('time="2026-12-07T18:00:00Z" msg="Rate limit exceeded. Retrying..."'), null);
});

test('a reset the log claims is bounded to the hour after the run: a crafted line cannot hold the fleet for a year', () => {
  const finished = new Date('2026-12-07T18:00:00Z');
  const cases: Array<[string, string]> = [
    ['2026-12-07T18:30:00.000Z', '2026-12-07T18:30:00.000Z'],
    ['2027-12-07T18:00:00.000Z', '2026-12-07T19:00:00.000Z'],
    ['2020-01-01T00:00:00.000Z', '2026-12-07T18:00:00.000Z'],
    ['not a date', '2026-12-07T18:00:00.000Z'],
  ];
  for (const [claimed, want] of cases) assert.equal(boundedReset(claimed, finished), want, claimed);
});
