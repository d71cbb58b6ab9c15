// The admission function's two doors, with its shipped webhooks: handle(context, event) and score.updated events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { createAdmissionApp } from '../../lib/admission/app.ts';
import { StaticScoreFeed } from '../../lib/admission/scores.ts';
import { admissionReview, object, user } from '../../lib/admission/testing.ts';
import { SCORE_UPDATED_TYPE } from '../../lib/changes/events.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { WEBHOOKS_DIR } from './webhooks-dir.ts';

test('handle: the faas contract answers reviews like the server', async () => {
  const app = await createAdmissionApp({ config: defaultConfig(), scoreFeed: new StaticScoreFeed([]), refresh: false, webhooksDir: WEBHOOKS_DIR });
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

test('a score.updated event only asks for a pull: a forged score changes nothing; other events are refused', async () => {
  const feed = new StaticScoreFeed([{ repoKey: 'github.com/o/r', repo: 'github.com/O/R', score: 2.1, date: '2026-11-01', updatedAt: new Date(1) }]);
  const app = await createAdmissionApp({ config: defaultConfig(), scoreFeed: feed, refresh: false, webhooksDir: WEBHOOKS_DIR });
  try {
    await app.scores.refresh();
    const pulls = feed.calls.length;
    for (const data of [
      { repo: 'github.com/O/R', score: 10, date: '2026-11-02' },
      { repo: 'github.com/good/repo', score: 0 },
    ]) {
      const ev = new CloudEvent({ type: SCORE_UPDATED_TYPE, source: '/posture/harvester', id: 'forged', data });
      const r = (await app.handle({ method: 'POST', path: '/', headers: {}, cloudevent: ev })) as { statusCode: number };
      assert.equal(r.statusCode, 202);
    }
    assert.deepEqual(app.scores.lookup('github.com/o/r', Date.now()), { state: 'hit', repo: 'github.com/o/r', score: 2.1, date: '2026-11-01' });
    assert.deepEqual(app.scores.lookup('github.com/good/repo', Date.now()), { state: 'unknown' });
    // The cache is not started here, so no pull was scheduled; a started one pulls (lib/admission/scores.test.ts).
    assert.equal(feed.calls.length, pulls);
    const other = (await app.handle({ method: 'POST', path: '/', headers: {}, cloudevent: new CloudEvent({ type: 'x', source: '/s', id: '1' }) })) as {
      statusCode: number;
    };
    assert.equal(other.statusCode, 400);
  } finally {
    app.close();
  }
});
