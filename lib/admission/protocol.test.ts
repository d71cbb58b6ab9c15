import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReview } from './protocol.ts';
import { OPERATIONS, REVIEW_VERSIONS } from './types.ts';

test('parseReview: exactly the review versions and operations types.ts lists', () => {
  const review = (apiVersion: string, operation: string) => ({
    kind: 'AdmissionReview',
    apiVersion,
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Namespace' },
      resource: { group: '', version: 'v1', resource: 'namespaces' },
      operation,
      userInfo: { username: 'jane' },
      object: { metadata: { name: 'a' } },
      oldObject: { metadata: { name: 'a' } },
    },
  });
  for (const v of REVIEW_VERSIONS) for (const op of OPERATIONS) assert.equal(parseReview(review(v, op)).kind, 'ok', `${v} ${op}`);
  for (const v of ['admission.k8s.io/v2', 'admission.k8s.io/V1', '', 'v1']) assert.equal(parseReview(review(v, 'CREATE')).kind, 'not-a-review', v);
  for (const op of ['create', 'PATCH', '', 'DELETE ']) {
    const r = parseReview(review('admission.k8s.io/v1', op));
    assert.equal(r.kind, 'malformed', op);
    assert.match((r as { problem: string }).problem, /is not one of CREATE, UPDATE, DELETE, CONNECT/);
  }
});
