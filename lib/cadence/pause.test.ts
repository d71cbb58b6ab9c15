import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetPause } from './pause.ts';

test('the fleet pauses on a refused token until a newer run shows the token works; on a spent rate limit until it resets', () => {
  const now = new Date('2026-12-07T18:00:00Z');
  const cases: Array<[string, Array<string | null>, Date | null, string | null]> = [
    ['nothing run yet', [], null, null],
    ['the newest run was refused (401)', ['credentials', null, null], null, 'credentials'],
    ['refused behind infrastructure failures and a vanished Job', ['infrastructure', 'job-missing', 'credentials', null], null, 'credentials'],
    ['a success after the refusal: the token works again', [null, 'credentials', 'credentials'], null, null],
    ["a repository's own 404 after it: only a working token gets a 404", ['pod-failed', 'credentials'], null, null],
    ['only infrastructure failures: the breaker decides, not this', ['infrastructure', 'infrastructure'], null, null],
    ['rate limit not yet reset', [null], new Date('2026-12-07T18:30:00Z'), 'rate-limit'],
    ['rate limit reset already', ['credentials'], new Date('2026-12-07T17:59:59Z'), 'credentials'],
    ['the rate limit outranks the token', ['credentials'], new Date('2026-12-07T18:00:01Z'), 'rate-limit'],
  ];
  for (const [name, recent, until, want] of cases) assert.equal(fleetPause(recent, until, now)?.reason ?? null, want, name);
  const p = fleetPause([], new Date('2026-12-07T18:30:00Z'), now);
  assert.equal(p?.reason === 'rate-limit' && p.until, '2026-12-07T18:30:00.000Z');
});
