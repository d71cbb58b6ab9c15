// Webhook signatures, as GitHub signs its own: HMAC-SHA256 of the raw body under a shared secret,
// hex, in `X-Posture-Signature-256: sha256=<hex>`. The body carries the event id and the time it
// was sent, so the signature covers both: a receiver rejects a stale time and an id it has seen.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-posture-signature-256';
/** The CloudEvent id (also `id` in the body): the same for every attempt of one alert. */
export const DELIVERY_HEADER = 'x-posture-delivery';
/** Unix seconds of this attempt (also `sentAt` in the body, which the signature covers). */
export const TIMESTAMP_HEADER = 'x-posture-timestamp';

export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What a receiver does: recompute the HMAC of the raw bytes and compare in constant time. */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const want = Buffer.from(signature(secret, body));
  const got = Buffer.from(header);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** A receiver's freshness check: the signed `sentAt` within `toleranceSeconds` of its clock. */
export function isFresh(sentAtIso: string, now: Date, toleranceSeconds = 300): boolean {
  const t = Date.parse(sentAtIso);
  return Number.isFinite(t) && Math.abs(now.getTime() - t) <= toleranceSeconds * 1000;
}
