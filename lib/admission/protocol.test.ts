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

// Anyone who reaches the server chooses these values: a message quoting one used JSON.stringify,
// whose recursion overflowed on an array nested 20,000 deep and threw out of the request path.
test('parseReview: deeply nested values where strings belong are refused with a message, never thrown on', () => {
  const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`);
  const request = (operation: unknown) => ({
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation,
    userInfo: { username: 'jane' },
    object: { metadata: {} },
  });
  const cases: Array<[unknown, string, RegExp]> = [
    [{ kind: deep }, 'not-a-review', /^kind is an array, expected "AdmissionReview"$/],
    [{ kind: 'AdmissionReview', apiVersion: deep }, 'not-a-review', /^apiVersion an array is not supported/],
    [{ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: request(deep) }, 'malformed', /^request\.operation an array is not one of/],
    [
      { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: request('x'.repeat(1_000_000)) },
      'malformed',
      /^request\.operation "x{100}…" is not/,
    ],
  ];
  for (const [body, kind, problem] of cases) {
    const r = parseReview(body) as { kind: string; problem: string };
    assert.equal(r.kind, kind);
    assert.match(r.problem, problem);
  }
});
