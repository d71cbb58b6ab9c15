import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { isFresh, signature, verifySignature } from './sign.ts';

describe('webhook signatures', () => {
  const body = '{"text":"hi","id":"e1","sentAt":"2026-02-01T00:00:00.000Z"}';
  it('is GitHub’s scheme: sha256= and the hex HMAC of the raw body', () =>
    assert.equal(signature('s3cret', body), `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`));
  for (const [name, secret, b, header, want] of [
    ['the right signature', 's3cret', body, signature('s3cret', body), true],
    ['another secret', 'other', body, signature('s3cret', body), false],
    ['a changed body', 's3cret', `${body} `, signature('s3cret', body), false],
    ['no header', 's3cret', body, undefined, false],
    ['a malformed header', 's3cret', body, 'sha1=abc', false],
  ] as const) {
    it(`verifies ${name}: ${want}`, () => assert.equal(verifySignature(secret, b, header), want));
  }
  it('isFresh: within the tolerance only', () => {
    const now = new Date('2026-02-01T00:04:00Z');
    assert.equal(isFresh('2026-02-01T00:00:00Z', now), true);
    assert.equal(isFresh('2026-01-31T23:50:00Z', now), false);
    assert.equal(isFresh('junk', now), false);
  });
});
