import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startReceiver, type TestReceiver } from './receiver.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.ts';
import { backoffDelay, deliverWebhook } from './webhook.ts';

const alert = {
  text: 'posture: github.com/a/b dropped: x',
  id: 'changed-run-7',
  action: 'open' as const,
  repo: 'github.com/a/b',
  reasons: ['x'],
  title: 't',
  markdown: 'm',
};

describe('deliverWebhook against a receiver that checks every signature', () => {
  let rx: TestReceiver;
  const waits: number[] = [];
  const sleep = async (ms: number) => void waits.push(ms);
  before(async () => (rx = await startReceiver('s3cret')));
  after(() => rx.close());

  it('signs the raw body; the receiver takes it', async () => {
    const r = await deliverWebhook(alert, { url: rx.url, secret: 's3cret', sleep });
    assert.deepEqual(r, { ok: true, attempts: 1, status: 204 });
    const d = rx.deliveries.at(-1)!;
    assert.equal(d.signatureOk, true);
    assert.match(String(d.headers[SIGNATURE_HEADER]), /^sha256=[0-9a-f]{64}$/);
    assert.equal(d.headers[DELIVERY_HEADER], 'changed-run-7');
    assert.match(String(d.headers[TIMESTAMP_HEADER]), /^\d{10}$/);
    assert.equal(d.body?.text, alert.text);
  });

  it('a receiver that fails twice then answers gets the alert once, every attempt signed', async () => {
    rx.deliveries.length = 0;
    rx.alerts.clear();
    waits.length = 0;
    rx.failNext(2);
    const r = await deliverWebhook({ ...alert, id: 'changed-run-8' }, { url: rx.url, secret: 's3cret', sleep, backoffMs: 100 });
    assert.deepEqual(r, { ok: true, attempts: 3, status: 204 });
    assert.deepEqual(
      rx.deliveries.map((d) => [d.status, d.signatureOk]),
      [
        [503, true],
        [503, true],
        [204, true],
      ],
    );
    assert.deepEqual([...rx.alerts.keys()], ['changed-run-8']);
    assert.deepEqual(waits, [100, 200], 'exponential backoff between attempts');
  });

  it('the wrong secret is refused by the receiver and not retried (a 4xx)', async () => {
    rx.deliveries.length = 0;
    const r = await deliverWebhook({ ...alert, id: 'changed-run-9' }, { url: rx.url, secret: 'wrong', sleep });
    assert.deepEqual(r, { ok: false, attempts: 1, status: 401, error: 'receiver answered 401' });
    assert.equal(rx.deliveries[0].signatureOk, false);
  });

  it('gives up after its attempts and says why, without the URL (its token)', async () => {
    rx.failNext(10, 500);
    const r = await deliverWebhook({ ...alert, id: 'changed-run-10' }, { url: rx.url, secret: 's3cret', sleep, attempts: 3 });
    assert.deepEqual(r, { ok: false, attempts: 3, status: 500, error: 'receiver answered 500' });
    rx.failNext(0);
  });

  it('an unreachable receiver: a failure naming no URL', async () => {
    const r = await deliverWebhook(alert, { url: 'http://127.0.0.1:1/hook?token=chat-secret', secret: 's3cret', sleep, attempts: 2 });
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 2);
    assert.doesNotMatch(r.error ?? '', /chat-secret|127\.0\.0\.1/);
  });
});

describe('backoffDelay', () => {
  for (const [retry, ra, want] of [
    [0, undefined, 1000],
    [3, undefined, 8000],
    [10, undefined, 60000],
    [0, '7', 7000],
    [0, '600', 60000],
    [1, 'Wed, 21 Oct 2015 07:28:00 GMT', 2000],
  ] as const) {
    it(`retry ${retry}${ra ? ` with Retry-After ${ra}` : ''}: ${want} ms`, () => assert.equal(backoffDelay(retry, 1000, 60000, ra), want));
  }
});
