// `posture admission review`: the exact server response, offline.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { admissionReview, object, user } from '../admission/testing.ts';
import { runCliCaptured } from './testing.ts';

test('admission review prints the response the server would send', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-review-'));
  try {
    const review = admissionReview({ operation: 'DELETE', oldObject: object('Namespace', 'kube-system'), caller: user('jane'), uid: 'r-1' });
    const file = join(dir, 'review.json');
    writeFileSync(file, JSON.stringify(review));
    const r = await runCliCaptured(['admission', 'review', 'protected-namespaces', file], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `${JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: 'r-1',
          allowed: false,
          status: { code: 403, reason: 'Forbidden', message: 'namespace "kube-system" is protected by posture: only cluster administrators may delete it' },
        },
      })}\n`,
    );
    // From stdin, with scores for the gate and a namespace label tier.
    const deploy = admissionReview({
      operation: 'CREATE',
      object: object('Deployment', 'web', { annotations: { 'posture.dev/source-repo': 'github.com/o/r' } }),
      uid: 'r-2',
    });
    const scores = join(dir, 'scores.yaml');
    writeFileSync(scores, '- repo: github.com/o/r\n  score: 6.1\n  date: "2026-11-01"\n');
    const ok = await runCliCaptured(['admission', 'review', 'scorecard-gate', '-', '--scores', scores], {}, JSON.stringify(deploy));
    assert.equal(JSON.parse(ok.stdout).response.allowed, true);
    const strict = await runCliCaptured(['admission', 'review', 'scorecard-gate', '--scores', scores, '--namespace-label', '7'], {}, JSON.stringify(deploy));
    assert.match(JSON.parse(strict.stdout).response.status.message, /scores 6.1 .* below the minimum of 7 set by this namespace/);
    const warn = await runCliCaptured(
      ['admission', 'review', 'scorecard-gate', '--scores', scores, '--namespace-label', '7'],
      { POSTURE_WEBHOOK_ENFORCEMENT: 'scorecard-gate=warn' },
      JSON.stringify(deploy),
    );
    assert.equal(JSON.parse(warn.stdout).response.allowed, true);
    assert.match(JSON.parse(warn.stdout).response.warnings[0], /below the minimum of 7/);
    // Not a review: the HTTP answer on stderr, exit 2. Unknown webhook: usage, exit 1.
    const bad = await runCliCaptured(['admission', 'review', 'protected-namespaces'], {}, '{"kind":"Pod"}');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /HTTP 400: not an AdmissionReview/);
    assert.equal((await runCliCaptured(['admission', 'review', 'nope', file], {})).code, 1);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

// The API server decodes JSON up to 10,000 levels deep: such a review used to crash the command
// with a RangeError's stack trace (it re-serialised the parsed review).
test('admission review takes a review nested 6,000 levels deep, and says clearly when YAML nests too deeply', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-review-'));
  try {
    const depth = 6_000;
    const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const cm = (finalizers: string[]) =>
      `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team","labels":{"posture.dev/protected":"true"},` +
      `"deletionTimestamp":"2026-11-26T09:00:00Z","finalizers":${JSON.stringify(finalizers)}},"spec":${deep}}`;
    const review =
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"deep-1","kind":{"group":"","version":"v1","kind":"ConfigMap"},' +
      '"resource":{"group":"","version":"v1","resource":"configmaps"},"name":"c","namespace":"team","operation":"UPDATE",' +
      `"userInfo":{"username":"jane","groups":["devs"]},"object":${cm([])},"oldObject":${cm(['example.com/f'])}}}`;
    const file = join(dir, 'deep.json');
    writeFileSync(file, review);
    const r = await runCliCaptured(['admission', 'review', 'protected-objects', file], {});
    assert.equal(r.code, 0, r.stderr);
    const response = JSON.parse(r.stdout).response;
    assert.equal(response.allowed, true, r.stdout);
    assert.equal(response.status.message, 'removing finalizers from an object being deleted');

    const yaml = join(dir, 'deep.yaml');
    writeFileSync(yaml, `apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: {uid: u, spec: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}}\n`);
    const y = await runCliCaptured(['admission', 'review', 'protected-objects', yaml], {});
    assert.equal(y.code, 2);
    assert.match(y.stderr, /^posture: .*deep\.yaml (is neither JSON nor YAML|nests too deeply)/);
    assert.doesNotMatch(y.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('admission review scorecard-policy: --policy and the checks of --scores; --namespace-label selects a policy', async () => {
  const examples = join(import.meta.dirname, '..', '..', 'docs', 'use', 'examples');
  const review = join(examples, 'deployment-review.json');
  const args = ['admission', 'review', 'scorecard-policy', review, '--scores', join(examples, 'scores.yaml'), '--exit-code'];
  const denied = await runCliCaptured([...args, '--policy', join(examples, 'policy.yaml')], {});
  assert.equal(denied.code, 4, denied.stderr);
  assert.equal(
    JSON.parse(denied.stdout).response.status.message,
    'repository github.com/posture-demo/audit-log fails the Scorecard policy baseline: score 4.7 is below the minimum of 5; Binary-Artifacts scores 5, below the required 8',
  );
  // The production policy (acme's, with its own weights) selected by the namespace's tier.
  const tier = await runCliCaptured([...args, '--policy', join(examples, 'policy.yaml'), '--namespace-label', 'production'], {});
  assert.equal(tier.code, 4, tier.stderr);
  assert.equal(
    JSON.parse(tier.stdout).response.status.message,
    "repository github.com/posture-demo/audit-log fails the Scorecard policy production selected by this namespace's posture.dev/policy label: score 4.5 is below the minimum of 6",
  );
  const bad = await runCliCaptured([...args, '--policy', join(examples, 'scores.yaml')], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid policy file ".*scores\.yaml": document 1: \(document\) must be object/);
});
