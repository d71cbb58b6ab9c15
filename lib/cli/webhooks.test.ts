// The committed webhook configurations and docs are what the generators produce now, and the
// generators' options work.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { WEBHOOKS_DIR } from '../../test/shipped-webhooks.ts';
import { runCliCaptured } from './testing.ts';
import { DOCS_DIR, MANIFEST_DIR, renderWebhookOutputs, repositoryRoot } from './webhooks.ts';

test('committed webhook manifests and docs are fresh (npm run generate:webhooks)', async () => {
  const expected = await renderWebhookOutputs(WEBHOOKS_DIR);
  for (const [path, text] of expected) {
    let current: string | undefined;
    try {
      current = readFileSync(join(repositoryRoot, path), 'utf8');
    } catch {
      current = undefined;
    }
    assert.ok(current === text, `${path} is stale: run npm run generate:webhooks`);
  }
  const extra = readdirSync(join(repositoryRoot, MANIFEST_DIR)).filter((f) => !expected.has(`${MANIFEST_DIR}/${f}`));
  assert.deepEqual(extra, [], `files in ${MANIFEST_DIR}/ that no webhook produces`);
  assert.ok(expected.has(`${DOCS_DIR}/webhooks.json`));
});

test('webhooks manifest: one configuration per webhook, url and caBundle from a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-manifest-'));
  try {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const r = await runCliCaptured(['webhooks', 'manifest', '--url', 'https://127.0.0.1:8443', '--ca-bundle', ca], {});
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.metadata.name).sort(), [
      'posture-job-guard',
      'posture-protected-namespaces',
      'posture-protected-objects',
      'posture-scorecard-gate',
      'posture-scorecard-policy',
    ]);
    // No policy tier configured: the label absent, and any value refused (a NotIn with no values
    // is not a selector the API server takes).
    const policy = docs.find((d) => d.metadata.name === 'posture-scorecard-policy');
    assert.deepEqual(
      policy.webhooks.map((w: any) => [w.name, w.namespaceSelector.matchExpressions.slice(1)]),
      [
        ['scorecard-policy.posture.dev', [{ key: 'posture.dev/policy', operator: 'DoesNotExist' }]],
        ['invalid.scorecard-policy.posture.dev', [{ key: 'posture.dev/policy', operator: 'Exists' }]],
      ],
    );
    const gate = docs.find((d) => d.metadata.name === 'posture-scorecard-gate');
    assert.equal(gate.webhooks.length, 13);
    assert.equal(gate.webhooks[0].clientConfig.url, 'https://127.0.0.1:8443/scorecard-gate');
    assert.equal(Buffer.from(gate.webhooks[0].clientConfig.caBundle, 'base64').toString(), readFileSync(ca, 'utf8'));
    assert.equal(gate.metadata.annotations, undefined);
    for (const d of docs)
      for (const w of d.webhooks) assert.ok(w.timeoutSeconds >= 1 && w.timeoutSeconds <= 30 && ['Fail', 'Ignore'].includes(w.failurePolicy));
    const policies = Object.fromEntries(docs.map((d) => [d.metadata.name, d.webhooks[0].failurePolicy]));
    assert.deepEqual(policies, {
      'posture-job-guard': 'Fail',
      'posture-protected-namespaces': 'Fail',
      'posture-protected-objects': 'Fail',
      'posture-scorecard-gate': 'Ignore',
      'posture-scorecard-policy': 'Ignore',
    });

    const svc = await runCliCaptured(['webhooks', 'manifest', '--service', 'sec/adm:8443', '--cert-manager', 'sec/adm-cert'], { POSTURE_NAMESPACE: 'sec' });
    const first = parseAllDocuments(svc.stdout)[0].toJS();
    assert.deepEqual(first.webhooks[0].clientConfig.service, { namespace: 'sec', name: 'adm', path: '/job-guard', port: 8443 });
    assert.equal(first.metadata.annotations['cert-manager.io/inject-ca-from'], 'sec/adm-cert');

    for (const bad of [['--url', 'http://x'], ['--url', 'https://x?q=1'], ['--url', 'https://x', '--service', 'a/b'], ['--bogus']]) {
      const e = await runCliCaptured(['webhooks', 'manifest', ...bad], {});
      assert.notEqual(e.code, 0, bad.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('webhooks docs, list and lint', async () => {
  const docs = await runCliCaptured(['webhooks', 'docs'], {});
  assert.equal(docs.code, 0);
  assert.match(docs.stdout, /^# Admission webhooks/);
  const list = await runCliCaptured(['webhooks', 'list'], {});
  assert.match(list.stdout, /^job-guard\s+deny\s+Fail\s+5s\s+\/job-guard$/m);
  const json = await runCliCaptured(['webhooks', 'list', '-o', 'json'], {});
  assert.deepEqual(
    JSON.parse(json.stdout).find((w: { name: string }) => w.name === 'job-guard'),
    { name: 'job-guard', enforcement: 'deny', failurePolicy: 'Fail', timeoutSeconds: 5, path: '/job-guard' },
  );
  assert.match((await runCliCaptured(['webhooks', 'list'], { POSTURE_WEBHOOK_ENFORCEMENT: 'scorecard-gate=warn' })).stdout, /^scorecard-gate\s+warn\s/m);
  assert.equal((await runCliCaptured(['webhooks', 'lint'], {})).code, 0);
});

test('webhooks manifest: one scorecard-policy entry per policy tier of POSTURE_GATE_POLICY_TIERS', async () => {
  const r = await runCliCaptured(['webhooks', 'manifest'], { POSTURE_GATE_POLICY_TIERS: 'production,sandbox' });
  assert.equal(r.code, 0, r.stderr);
  const policy = parseAllDocuments(r.stdout)
    .map((d) => d.toJS())
    .find((d) => d.metadata.name === 'posture-scorecard-policy');
  assert.deepEqual(
    policy.webhooks.map((w: any) => [w.name, w.clientConfig.service.path, w.namespaceSelector.matchExpressions.slice(1)]),
    [
      ['scorecard-policy.posture.dev', '/scorecard-policy', [{ key: 'posture.dev/policy', operator: 'DoesNotExist' }]],
      [
        'v-production.scorecard-policy.posture.dev',
        '/scorecard-policy/label/production',
        [{ key: 'posture.dev/policy', operator: 'In', values: ['production'] }],
      ],
      ['v-sandbox.scorecard-policy.posture.dev', '/scorecard-policy/label/sandbox', [{ key: 'posture.dev/policy', operator: 'In', values: ['sandbox'] }]],
      [
        'invalid.scorecard-policy.posture.dev',
        '/scorecard-policy/label-invalid',
        [
          { key: 'posture.dev/policy', operator: 'Exists' },
          { key: 'posture.dev/policy', operator: 'NotIn', values: ['production', 'sandbox'] },
        ],
      ],
    ],
  );
});
