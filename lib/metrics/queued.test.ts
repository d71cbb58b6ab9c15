// The queued metrics: what a read of the registry shows is exact, whether the queue was emptied by
// the read or by filling up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricsText } from './index.ts';
import { queuedCounter, queuedHistogram } from './queued.ts';

function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

test('a queued histogram shows every observation at the next read, below and past the queue length', async () => {
  const h = queuedHistogram('test_queued_seconds', 'test', ['webhook'], [0.001, 0.01]);
  const a = h.labels('a');
  assert.equal(h.labels('a'), a, 'one queue per label set');
  // 10,000 observations: the queue (4,096) fills twice and the rest waits for the read.
  for (let i = 0; i < 10_000; i++) a.observe(i % 2 === 0 ? 0.0005 : 0.005);
  h.labels('b').observe(0.5);
  const s = series((await metricsText()).body, 'test_queued_seconds');
  assert.equal(s.get('test_queued_seconds_count{webhook="a"}'), 10_000);
  assert.equal(s.get('test_queued_seconds_bucket{le="0.001",webhook="a"}'), 5_000);
  assert.equal(s.get('test_queued_seconds_bucket{le="0.01",webhook="a"}'), 10_000);
  assert.ok(Math.abs(s.get('test_queued_seconds_sum{webhook="a"}')! - 27.5) < 1e-9);
  assert.equal(s.get('test_queued_seconds_count{webhook="b"}'), 1);
  assert.equal(s.get('test_queued_seconds_bucket{le="+Inf",webhook="b"}'), 1);
  // A second read counts nothing twice.
  a.observe(0.0005);
  const again = series((await metricsText()).body, 'test_queued_seconds');
  assert.equal(again.get('test_queued_seconds_count{webhook="a"}'), 10_001);
});

test('a queued counter shows every increment at the next read, and nothing twice', async () => {
  const c = queuedCounter('test_queued_total', 'test', ['webhook', 'outcome']);
  const allowed = c.labels('a', 'allowed');
  for (let i = 0; i < 7; i++) allowed.inc();
  c.labels('a', 'denied').inc();
  let s = series((await metricsText()).body, 'test_queued_total');
  assert.equal(s.get('test_queued_total{webhook="a",outcome="allowed"}'), 7);
  assert.equal(s.get('test_queued_total{webhook="a",outcome="denied"}'), 1);
  s = series((await metricsText()).body, 'test_queued_total');
  assert.equal(s.get('test_queued_total{webhook="a",outcome="allowed"}'), 7, 'a read with nothing queued adds nothing');
  allowed.inc();
  s = series((await metricsText()).body, 'test_queued_total');
  assert.equal(s.get('test_queued_total{webhook="a",outcome="allowed"}'), 8);
});
