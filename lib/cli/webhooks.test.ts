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
    const r = await runCliCaptured(['webhooks', 'manifest', '--engine', 'webhook', '--url', 'https://127.0.0.1:8443', '--ca-bundle', ca], {});
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

    const svc = await runCliCaptured(['webhooks', 'manifest', '--engine', 'webhook', '--service', 'sec/adm:8443', '--cert-manager', 'sec/adm-cert'], {
      POSTURE_NAMESPACE: 'sec',
    });
    const first = parseAllDocuments(svc.stdout)[0].toJS();
    assert.deepEqual(first.webhooks[0].clientConfig.service, { namespace: 'sec', name: 'adm', path: '/job-guard', port: 8443 });
    assert.equal(first.metadata.annotations['cert-manager.io/inject-ca-from'], 'sec/adm-cert');

    for (const bad of [['--url', 'http://x'], ['--url', 'https://x?q=1'], ['--url', 'https://x', '--service', 'a/b'], ['--bogus'], ['--engine', 'cel']]) {
      const e = await runCliCaptured(['webhooks', 'manifest', ...bad], {});
      assert.notEqual(e.code, 0, bad.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true });
  }
});

/** The documents of `webhooks manifest` with these arguments and environment, by kind and name. */
async function manifest(args: string[], env: Record<string, string> = {}) {
  const r = await runCliCaptured(['webhooks', 'manifest', '--url', 'https://127.0.0.1:8443', ...args], env);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  const get = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  return { docs, get, ids: docs.map((d) => `${d.kind}/${d.metadata.name}`).sort() };
}

test('webhooks manifest --engine both (the default): a policy and binding per request-only webhook, its webhook the fallback under Ignore', async () => {
  const m = await manifest([]);
  assert.deepEqual(
    m.ids,
    [
      ...['job-guard', 'protected-namespaces', 'protected-objects'].flatMap((n) => [
        `ValidatingAdmissionPolicy/posture-${n}`,
        `ValidatingAdmissionPolicyBinding/posture-${n}`,
      ]),
      ...['job-guard', 'protected-namespaces', 'protected-objects', 'scorecard-gate', 'scorecard-policy'].map(
        (n) => `ValidatingWebhookConfiguration/posture-${n}`,
      ),
    ].sort(),
  );
  const fallback = (n: string) => m.get('ValidatingWebhookConfiguration', `posture-${n}`).webhooks.map((w: any) => `${w.name} ${w.failurePolicy}`);
  assert.deepEqual(fallback('protected-namespaces'), ['protected-namespaces.posture.dev Ignore']);
  assert.deepEqual(fallback('job-guard'), ['job-guard.posture.dev Ignore']);
  // What CEL cannot judge keeps the webhook at its declared failurePolicy, and only that is sent to it.
  assert.deepEqual(fallback('protected-objects'), ['protected-objects.posture.dev Ignore', 'beyond-cel.protected-objects.posture.dev Fail']);
  const po = m.get('ValidatingWebhookConfiguration', 'posture-protected-objects').webhooks;
  const beyond = po[1].matchConditions.at(-1);
  assert.equal(beyond.name, 'posture-beyond-cel');
  assert.deepEqual(po[0].matchConditions.at(-1), { name: 'posture-within-cel', expression: `!(${beyond.expression})` });
  const policy = m.get('ValidatingAdmissionPolicy', 'posture-protected-objects');
  assert.deepEqual(policy.spec.matchConditions.at(-1), po[0].matchConditions.at(-1), 'the policy skips what the webhook keeps');
  // Carried over: rules, selectors, exemptions (the same match conditions), failurePolicy.
  const vwc = m.get('ValidatingWebhookConfiguration', 'posture-protected-objects').webhooks[0];
  assert.deepEqual(policy.spec.matchConstraints.resourceRules, vwc.rules);
  assert.deepEqual(policy.spec.matchConstraints.objectSelector, vwc.objectSelector);
  assert.deepEqual(policy.spec.matchConstraints.namespaceSelector, vwc.namespaceSelector);
  assert.deepEqual(policy.spec.matchConditions.slice(0, -1), vwc.matchConditions.slice(0, -1));
  assert.equal(policy.spec.failurePolicy, 'Fail');
  assert.deepEqual(m.get('ValidatingAdmissionPolicyBinding', 'posture-protected-objects').spec, {
    policyName: 'posture-protected-objects',
    validationActions: ['Deny'],
  });
  // The gate reads the database: a webhook under every engine, at its own failurePolicy.
  assert.equal(m.get('ValidatingWebhookConfiguration', 'posture-scorecard-gate').webhooks[0].failurePolicy, 'Ignore');
  assert.equal(m.get('ValidatingAdmissionPolicy', 'posture-scorecard-gate'), undefined);
});

test('webhooks manifest --engine policy: policies, and webhooks only for the gate and for what CEL cannot judge', async () => {
  const m = await manifest(['--engine', 'policy']);
  assert.deepEqual(
    m.ids.filter((x) => x.startsWith('ValidatingWebhookConfiguration/')),
    [
      'ValidatingWebhookConfiguration/posture-protected-objects',
      'ValidatingWebhookConfiguration/posture-scorecard-gate',
      'ValidatingWebhookConfiguration/posture-scorecard-policy',
    ],
  );
  assert.deepEqual(
    m.get('ValidatingWebhookConfiguration', 'posture-protected-objects').webhooks.map((w: any) => `${w.name} ${w.failurePolicy}`),
    ['beyond-cel.protected-objects.posture.dev Fail'],
  );
});

test('webhooks manifest: enforcement becomes validationActions (deny Deny, warn Warn, dry-run Audit); settings are inlined; a pattern CEL lacks keeps the webhook', async () => {
  const m = await manifest([], {
    POSTURE_WEBHOOK_ENFORCEMENT: 'protected-namespaces=warn,job-guard=dry-run',
    POSTURE_NAMESPACE: 'sec',
    POSTURE_PROTECTED_NAMESPACES: '^prod-',
  });
  assert.deepEqual(m.get('ValidatingAdmissionPolicyBinding', 'posture-protected-namespaces').spec.validationActions, ['Warn']);
  assert.deepEqual(m.get('ValidatingAdmissionPolicyBinding', 'posture-job-guard').spec.validationActions, ['Audit']);
  const vars = m.get('ValidatingAdmissionPolicy', 'posture-protected-namespaces').spec.variables;
  assert.equal(vars.find((v: any) => v.name === 'protected').expression, 'variables.name.matches("^prod-") || variables.name.matches("^sec$")');
  assert.match(JSON.stringify(m.get('ValidatingAdmissionPolicy', 'posture-job-guard').spec), /request\.namespace == \\"sec\\"/);
  // Lookahead is JavaScript's, not RE2's: no policy for protected-namespaces, its webhook at Fail.
  const js = await manifest([], { POSTURE_PROTECTED_NAMESPACES: '^(?!team-).*-prod$' });
  assert.equal(js.get('ValidatingAdmissionPolicy', 'posture-protected-namespaces'), undefined);
  assert.equal(js.get('ValidatingWebhookConfiguration', 'posture-protected-namespaces').webhooks[0].failurePolicy, 'Fail');
  assert.ok(js.get('ValidatingAdmissionPolicy', 'posture-job-guard'));
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
