// The admission function's two doors: handle(context, event) and score.updated events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { StaticScoreFeed } from '../../lib/admission/scores.ts';
import { admissionReview, object, user } from '../../lib/admission/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { SCORE_UPDATED_TYPE } from '../../lib/harvest/handler.ts';
import { createAdmissionApp, scoreFromEvent } from './app.ts';

test('handle: the faas contract answers reviews like the server', async () => {
  const app = await createAdmissionApp({ config: defaultConfig(), scoreFeed: new StaticScoreFeed([]), refresh: false });
  try {
    const review = admissionReview({ operation: 'DELETE', oldObject: object('Namespace', 'kube-system'), caller: user('jane'), uid: 'h-1' });
    const raw = Buffer.from(JSON.stringify(review));
    for (const ctx of [
      { method: 'POST', path: '/protected-namespaces', headers: { 'content-type': 'application/json' }, rawBody: raw },
      { method: 'POST', path: '/protected-namespaces', headers: { 'content-type': 'application/json' }, body: review },
    ]) {
      const r = (await app.handle(ctx)) as { statusCode: number; body: string };
      assert.equal(r.statusCode, 200);
      const body = JSON.parse(r.body);
      assert.equal(body.response.uid, 'h-1');
      assert.equal(body.response.allowed, false);
    }
    const notFound = (await app.handle({ method: 'POST', path: '/x', headers: {}, body: {} })) as { statusCode: number };
    assert.equal(notFound.statusCode, 404);
  } finally {
    app.close();
  }
});

test('score.updated events reach the gate cache; other events are refused', async () => {
  const app = await createAdmissionApp({ config: defaultConfig(), scoreFeed: new StaticScoreFeed([]), refresh: false });
  try {
    await app.scores.refresh();
    const ev = new CloudEvent({ type: SCORE_UPDATED_TYPE, source: '/posture/harvester', id: 'run-1', data: { repo: 'github.com/O/R', score: 2.5, date: '2026-11-01' } });
    const r = (await app.handle({ method: 'POST', path: '/', headers: {}, cloudevent: ev })) as { statusCode: number };
    assert.equal(r.statusCode, 202);
    assert.deepEqual(app.scores.lookup('github.com/o/r', Date.now()), { state: 'hit', repo: 'github.com/O/R', score: 2.5, date: '2026-11-01' });
    const other = (await app.handle({ method: 'POST', path: '/', headers: {}, cloudevent: new CloudEvent({ type: 'x', source: '/s', id: '1' }) })) as { statusCode: number };
    assert.equal(other.statusCode, 400);
    assert.equal(scoreFromEvent({ repo: 'a/b', score: 3, failure: 'timeout' }), undefined);
  } finally {
    app.close();
  }
});
