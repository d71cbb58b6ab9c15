// Loading webhook folders: discovery, refusal of non-webhook files, duplicates named by file,
// declaration checks, default exclusions and match conditions compiled from the configuration.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultConfig } from '../config/index.ts';
import { compileWebhook, defineWebhook, problemsOf } from './define.ts';
import { webhookConfiguration } from './manifest.ts';
import { loadRegistry } from './registry.ts';
import type { WebhookDeclaration } from './types.ts';
import { Allowed } from './verdict.ts';

const lib = pathToFileURL(join(import.meta.dirname, 'index.ts')).href;

function file(name: string, path: string, extra = ''): string {
  return `import { defineWebhook, Allowed } from ${JSON.stringify(lib)};
export default defineWebhook({
  name: ${JSON.stringify(name)}, path: ${JSON.stringify(path)},
  rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
  failurePolicy: 'Ignore', timeoutSeconds: 2, enforcement: 'deny', ${extra}
  doc: { summary: 's', protects: 'configmaps', exempt: 'nobody', failurePolicy: 'f', timeout: 't', denials: ['d'] },
  authorize: () => Allowed(),
});
`;
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'posture-webhooks-'));
  for (const [n, text] of Object.entries(files)) writeFileSync(join(dir, n), text);
  return dir;
}

test('every .ts file is a webhook; tests are skipped; overrides apply', async () => {
  const dir = folder({ 'a.ts': file('a', '/a'), 'b.ts': file('b', '/b'), 'a.test.ts': 'throw new Error("not loaded")' });
  try {
    const r = await loadRegistry(dir, defaultConfig({ webhookEnforcement: ['b=warn'] }));
    assert.deepEqual(
      r.webhooks.map((w) => [w.name, w.source, w.enforcement]),
      [
        ['a', 'a.ts', 'deny'],
        ['b', 'b.ts', 'warn'],
      ],
    );
    assert.equal(r.byPath('/b')?.webhook.name, 'b');
    await assert.rejects(loadRegistry(dir, defaultConfig({ webhookEnforcement: ['zzz=warn'] })), /webhookEnforcement names "zzz", which is not a webhook/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('duplicates and strays are refused, naming the files', async () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['same name', { 'one.ts': file('x', '/one'), 'two.ts': file('x', '/two') }, /name "x" is declared by both one\.ts and two\.ts/],
    ['same path', { 'one.ts': file('one', '/p'), 'two.ts': file('two', '/p') }, /path \/p is declared by both one\.ts and two\.ts/],
    ['nested path', { 'one.ts': file('one', '/p'), 'two.ts': file('two', '/p/label/x') }, /nested in or contains/],
    ['not a webhook', { 'helper.ts': 'export const x = 1;' }, /helper\.ts: every \.ts file in .* is a webhook/],
    [
      'invalid declaration',
      { 'bad.ts': file('bad', '/bad').replace('timeoutSeconds: 2', 'timeoutSeconds: 31') },
      /bad\.ts: webhook "bad": timeoutSeconds 31 must be an integer from 1 to 30/,
    ],
  ];
  for (const [name, files, message] of cases) {
    const dir = folder(files);
    try {
      await assert.rejects(loadRegistry(dir, defaultConfig()), message, name);
    } finally {
      rmSync(dir, { recursive: true });
    }
  }
});

const base: WebhookDeclaration<unknown, unknown> = {
  name: 'w',
  path: '/w',
  rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
  failurePolicy: 'Fail',
  timeoutSeconds: 10,
  enforcement: 'deny',
  doc: { summary: 's', protects: 'pods', exempt: 'nobody', failurePolicy: 'f', timeout: 't', denials: ['d'] },
  authorize: () => Allowed(),
};

test('declaration checks', () => {
  const cases: Array<[string, Partial<WebhookDeclaration<unknown, unknown>>, RegExp | undefined]> = [
    ['valid', {}, undefined],
    ['name', { name: 'Not_DNS' }, /name "Not_DNS" must be a DNS label/],
    ['path', { path: 'no-slash' }, /path "no-slash" must start with \//],
    ['reserved path', { path: '/healthz' }, /reserved/],
    ['timeout 0', { timeoutSeconds: 0 }, /timeoutSeconds 0/],
    ['timeout 30 ok', { timeoutSeconds: 30 }, undefined],
    ['no rules', { rules: [] }, /rules must list/],
    ['bad operation', { rules: [{ operations: ['PATCH' as 'CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] }, /operations/],
    ['failurePolicy', { failurePolicy: 'Maybe' as 'Fail' }, /failurePolicy/],
    ['enforcement', { enforcement: 'audit' as 'deny' }, /enforcement/],
    [
      '61 conditions ok (the framework may add three: leases, exemptions, the split between CEL and the webhook)',
      { matchConditions: Array.from({ length: 61 }, (_, i) => ({ name: `c${i}`, expression: 'true' })) },
      undefined,
    ],
    ['62 conditions', { matchConditions: Array.from({ length: 62 }, (_, i) => ({ name: `c${i}`, expression: 'true' })) }, /at most 61/],
    [
      'duplicate condition',
      {
        matchConditions: [
          { name: 'a', expression: 'true' },
          { name: 'a', expression: 'true' },
        ],
      },
      /duplicate name a/,
    ],
    ['reserved condition prefix', { matchConditions: [{ name: 'posture-x', expression: 'true' }] }, /prefix "posture-"/],
    ['opt-out without reason', { optOut: ['kube-system'] }, /doc\.optOuts\.kube-system must say why/],
    ['selector operator', { objectSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, /In needs values/],
    ['doc missing', { doc: undefined as never }, /doc is required/],
    ['doc denials', { doc: { ...base.doc, denials: [] } }, /doc\.denials/],
    // Tier values that collide once lower-cased and made DNS-safe: the API server would reject the configuration.
    [
      'tier values differing in case',
      { namespaceLabel: { key: 'x.dev/tier', values: ['gold', 'Gold'] } },
      /"gold" and "Gold" both become the webhook entry v-gold\.w\.posture\.dev/,
    ],
    [
      'tier values differing in punctuation',
      { namespaceLabel: { key: 'x.dev/tier', values: ['a.b', 'a_b'] } },
      /"a\.b" and "a_b" both become the webhook entry v-a-b\.w\.posture\.dev/,
    ],
    ['tier values that stay distinct', { namespaceLabel: { key: 'x.dev/tier', values: ['a.b', 'ab', 'a-c'] } }, undefined],
    // A namespace's service accounts are its add-ons too: exempt controllers by name.
    [
      'kube-system service accounts as a group',
      { exempt: [{ group: 'system:serviceaccounts:kube-system' }] },
      /group system:serviceaccounts:kube-system is too broad \(every service account in kube-system/,
    ],
    ['every service account', { exempt: [{ group: 'system:serviceaccounts' }] }, /too broad/],
    ['every node', { exempt: [{ group: 'system:nodes' }] }, /too broad/],
    ['a controller by name', { exempt: [{ user: 'system:serviceaccount:kube-system:job-controller' }] }, undefined],
  ];
  for (const [name, over, message] of cases) {
    const problems = problemsOf({ ...base, ...over });
    if (message) assert.match(problems.join('; '), message, name);
    else assert.deepEqual(problems, [], name);
  }
  assert.throws(() => defineWebhook({ ...base, timeoutSeconds: 99 }), /webhook "w": timeoutSeconds 99/);
});

test('enforcement overrides reach the generated failurePolicy: warn and dry-run never refuse, so they generate Ignore', () => {
  const cases: Array<[string, 'Fail' | 'Ignore', 'deny' | 'warn' | 'dry-run' | undefined, 'Fail' | 'Ignore']> = [
    ['Fail, no override', 'Fail', undefined, 'Fail'],
    ['Fail, override deny', 'Fail', 'deny', 'Fail'],
    ['Fail, override warn', 'Fail', 'warn', 'Ignore'],
    ['Fail, override dry-run', 'Fail', 'dry-run', 'Ignore'],
    ['Ignore, override deny', 'Ignore', 'deny', 'Ignore'],
    ['Ignore, no override', 'Ignore', undefined, 'Ignore'],
  ];
  for (const [name, declared, override, expected] of cases) {
    const w = compileWebhook({ ...base, failurePolicy: declared }, defaultConfig(), override);
    assert.equal(w.failurePolicy, expected, name);
    const vwc = webhookConfiguration(w, { url: 'https://127.0.0.1:1' }) as { webhooks: Array<{ failurePolicy: string }> };
    assert.deepEqual(
      vwc.webhooks.map((x) => x.failurePolicy),
      [expected],
      name,
    );
  }
});

test('compilation: default exclusions, lease and exemption conditions, opt-outs, tiers', () => {
  const config = defaultConfig({ namespace: 'sec', adminGroups: ['admins'], adminUsers: [] });
  const w = compileWebhook({ ...base, exempt: [{ groupsFrom: 'adminGroups' }, { serviceAccountFrom: 'schedulerServiceAccount' }] }, config);
  assert.deepEqual(w.entries[0].namespaceSelector, {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['sec', 'kube-system', 'kube-node-lease'] }],
  });
  assert.deepEqual(
    w.matchConditions.map((c) => c.name),
    ['posture-exclude-leases', 'posture-skip-exempt'],
  );
  assert.match(w.matchConditions[1].expression, /request\.userInfo\.username in \["system:serviceaccount:sec:posture-scheduler"\]/);
  assert.match(w.matchConditions[1].expression, /g in \["admins"\]/);
  assert.match(w.matchConditions[1].expression, /g == "system:unauthenticated"/);
  assert.deepEqual([...w.exemptUsers], ['system:serviceaccount:sec:posture-scheduler']);

  const open = compileWebhook(
    {
      ...base,
      optOut: ['own-namespace', 'kube-system', 'kube-node-lease', 'leases'],
      doc: { ...base.doc, optOuts: { 'own-namespace': 'r', 'kube-system': 'r', 'kube-node-lease': 'r', leases: 'r' } },
    },
    config,
  );
  assert.deepEqual(open.entries[0].namespaceSelector, {});
  assert.deepEqual(open.matchConditions, []);

  const tiers = compileWebhook({ ...base, namespaceLabel: { key: 'x.dev/min', values: ['1', '2'] } }, config);
  assert.deepEqual(
    tiers.entries.map((e) => [e.qualifiedName, e.path]),
    [
      ['w.posture.dev', '/w'],
      ['v-1.w.posture.dev', '/w/label/1'],
      ['v-2.w.posture.dev', '/w/label/2'],
      ['invalid.w.posture.dev', '/w/label-invalid'],
    ],
  );
  assert.deepEqual(tiers.entries[3].namespaceSelector.matchExpressions?.slice(1), [
    { key: 'x.dev/min', operator: 'Exists' },
    { key: 'x.dev/min', operator: 'NotIn', values: ['1', '2'] },
  ]);
});
