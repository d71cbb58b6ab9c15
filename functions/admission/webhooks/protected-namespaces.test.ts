// Table tests of protected-namespaces through the full dispatcher path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { anonymous, type Caller, object, type ReviewSpec, serviceAccount, user, WebhookTester } from '../../../lib/admission/testing.ts';
import { type Config, defaultConfig } from '../../../lib/config/index.ts';
import { WEBHOOKS_DIR } from '../webhooks-dir.ts';
import { changedPolicyLabels, policyLabelMessage, protectedMessage, protectedNames } from './protected-namespaces.ts';

const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };
const ns = (name: string, labels: Record<string, string> = {}) => object('Namespace', name, { labels });
const jane = user('jane', 'devs');
const admin = user('root', 'system:masters');

interface Case {
  name: string;
  review: ReviewSpec;
  allowed: boolean;
  message?: string;
  config?: Partial<Config>;
}

const cases: Case[] = [
  // Every operation on protected names, as a non-admin.
  {
    name: 'DELETE kube-system (only oldObject)',
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: jane },
    allowed: false,
    message: protectedMessage('kube-system', 'DELETE'),
  },
  {
    name: 'DELETE default',
    review: { operation: 'DELETE', oldObject: ns('default'), caller: jane },
    allowed: false,
    message: protectedMessage('default', 'DELETE'),
  },
  { name: "DELETE posture's own namespace", review: { operation: 'DELETE', oldObject: ns('posture'), caller: jane }, allowed: false },
  { name: 'DELETE kube-node-lease', review: { operation: 'DELETE', oldObject: ns('kube-node-lease'), caller: jane }, allowed: false },
  {
    name: 'DELETE with the name only in oldObject',
    review: { operation: 'DELETE', oldObject: ns('kube-public'), name: '', caller: jane },
    allowed: false,
    message: protectedMessage('kube-public', 'DELETE'),
  },
  {
    name: 'CREATE kube-anything',
    review: { operation: 'CREATE', object: ns('kube-mine'), caller: jane },
    allowed: false,
    message: protectedMessage('kube-mine', 'CREATE'),
  },
  {
    name: 'UPDATE kube-system labels',
    review: { operation: 'UPDATE', object: ns('kube-system', { team: 'x' }), oldObject: ns('kube-system'), caller: jane },
    allowed: false,
    message: protectedMessage('kube-system', 'UPDATE'),
  },
  { name: 'dryRun DELETE is judged the same', review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: jane, dryRun: true }, allowed: false },
  {
    name: 'subresource of a protected namespace',
    review: { operation: 'UPDATE', object: ns('kube-system'), oldObject: ns('kube-system'), subResource: 'finalize', caller: jane },
    allowed: false,
  },
  { name: 'CONNECT is not judged', review: { operation: 'CONNECT', object: { kind: 'NamespaceOptions' }, name: 'kube-system', caller: jane }, allowed: true },
  // Unprotected namespaces.
  { name: 'DELETE a team namespace', review: { operation: 'DELETE', oldObject: ns('team-a'), caller: jane }, allowed: true },
  { name: 'CREATE a team namespace', review: { operation: 'CREATE', object: ns('team-a'), caller: jane }, allowed: true },
  {
    name: 'UPDATE ordinary labels',
    review: { operation: 'UPDATE', object: ns('team-a', { team: 'a' }), oldObject: ns('team-a'), caller: jane },
    allowed: true,
  },
  { name: 'names that only contain kube-', review: { operation: 'DELETE', oldObject: ns('my-kube-x'), caller: jane }, allowed: true },
  // Subresources: a Namespace's status and finalize strategies keep the request's labels.
  {
    name: 'namespaces/status setting posture.dev/min-score',
    review: { operation: 'UPDATE', object: ns('team-a', { 'posture.dev/min-score': '0' }), oldObject: ns('team-a'), subResource: 'status', caller: jane },
    allowed: false,
    message: policyLabelMessage('posture.dev/min-score'),
  },
  {
    name: 'namespaces/finalize lowering posture.dev/min-score',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '0' }),
      oldObject: ns('team-a', { 'posture.dev/min-score': '9' }),
      subResource: 'finalize',
      caller: jane,
    },
    allowed: false,
    message: policyLabelMessage('posture.dev/min-score'),
  },
  {
    name: 'namespaces/status without label changes',
    review: {
      operation: 'UPDATE',
      object: { ...ns('team-a'), status: { phase: 'Terminating' } },
      oldObject: ns('team-a'),
      subResource: 'status',
      caller: jane,
    },
    allowed: true,
  },
  {
    name: 'namespaces/finalize of a protected namespace',
    review: { operation: 'UPDATE', object: ns('kube-public'), oldObject: ns('kube-public'), subResource: 'finalize', caller: jane },
    allowed: false,
    message: protectedMessage('kube-public', 'UPDATE'),
  },
  // Policy labels on any namespace.
  {
    name: 'CREATE with posture.dev/min-score',
    review: { operation: 'CREATE', object: ns('team-a', { 'posture.dev/min-score': '0' }), caller: jane },
    allowed: false,
    message: policyLabelMessage('posture.dev/min-score'),
  },
  {
    name: 'UPDATE adding posture.dev/min-score',
    review: { operation: 'UPDATE', object: ns('team-a', { 'posture.dev/min-score': '1' }), oldObject: ns('team-a'), caller: jane },
    allowed: false,
  },
  {
    name: 'UPDATE changing posture.dev/min-score',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '1' }),
      oldObject: ns('team-a', { 'posture.dev/min-score': '9' }),
      caller: jane,
    },
    allowed: false,
  },
  {
    name: 'UPDATE removing posture.dev/min-score (label removal)',
    review: { operation: 'UPDATE', object: ns('team-a'), oldObject: ns('team-a', { 'posture.dev/min-score': '9' }), caller: jane },
    allowed: false,
  },
  {
    name: 'UPDATE keeping posture.dev/min-score',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '9', x: 'y' }),
      oldObject: ns('team-a', { 'posture.dev/min-score': '9' }),
      caller: jane,
    },
    allowed: true,
  },
  // Exemptions.
  { name: 'system:masters', review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: admin }, allowed: true },
  { name: 'posture:admins', review: { operation: 'DELETE', oldObject: ns('default'), caller: user('ann', 'posture:admins') }, allowed: true },
  { name: 'admin sets policy labels', review: { operation: 'CREATE', object: ns('team-a', { 'posture.dev/min-score': '0' }), caller: admin }, allowed: true },
  {
    name: 'configured admin user',
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: user('ops') },
    allowed: true,
    config: { adminUsers: ['ops'] },
  },
  {
    name: 'the namespace controller, by name',
    review: {
      operation: 'UPDATE',
      object: ns('kube-public', { a: 'b' }),
      oldObject: ns('kube-public'),
      subResource: 'finalize',
      caller: serviceAccount('kube-system', 'namespace-controller'),
    },
    allowed: true,
  },
  {
    name: "the API server's loopback client (creates the system namespaces at start-up)",
    review: { operation: 'CREATE', object: ns('kube-node-lease'), caller: user('system:apiserver') },
    allowed: true,
  },
  {
    name: 'kube-controller-manager',
    review: { operation: 'UPDATE', object: ns('kube-public', { a: 'b' }), oldObject: ns('kube-public'), caller: user('system:kube-controller-manager') },
    allowed: true,
  },
  {
    name: 'an add-on service account in kube-system is judged',
    review: {
      operation: 'UPDATE',
      object: ns('team-a', { 'posture.dev/min-score': '0' }),
      oldObject: ns('team-a'),
      caller: serviceAccount('kube-system', 'csi-driver'),
    },
    allowed: false,
  },
  {
    name: "another namespace's service account",
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: serviceAccount('team-a', 'deployer') },
    allowed: false,
  },
  {
    name: 'anonymous, even if its group is configured as admin',
    review: { operation: 'DELETE', oldObject: ns('kube-system'), caller: anonymous },
    allowed: false,
    config: { adminGroups: ['system:unauthenticated', 'system:masters'] },
  },
  // Configuration.
  {
    name: 'configured pattern',
    review: { operation: 'DELETE', oldObject: ns('prod-eu'), caller: jane },
    allowed: false,
    config: { protectedNamespaces: ['^prod-'] },
  },
  {
    name: 'own namespace is always protected',
    review: { operation: 'DELETE', oldObject: ns('sec'), caller: jane },
    allowed: false,
    config: { protectedNamespaces: ['^prod-'], namespace: 'sec' },
  },
  {
    name: 'patterns replace the defaults',
    review: { operation: 'DELETE', oldObject: ns('default'), caller: jane },
    allowed: true,
    config: { protectedNamespaces: ['^prod-'] },
  },
];

test('protected-namespaces', async (t) => {
  const testers = new Map<string, WebhookTester<AdmissionServices>>();
  for (const c of cases) {
    await t.test(c.name, async () => {
      const key = JSON.stringify(c.config ?? {});
      if (!testers.has(key)) testers.set(key, await WebhookTester.create({ dir: WEBHOOKS_DIR, services, config: defaultConfig(c.config ?? {}) }));
      const r = testers.get(key)!.send('protected-namespaces', c.review);
      assert.equal(r.http.statusCode, 200);
      assert.equal(r.response!.allowed, c.allowed, JSON.stringify(r.response));
      if (c.message) assert.equal(r.response!.status?.message, c.message);
      if (!c.allowed) assert.equal(r.response!.status?.code, 403);
    });
  }
});

test('protected-namespaces: the generated match condition skips exempt callers', async () => {
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services });
  const w = tester.dispatcher.registry.byName('protected-namespaces')!;
  assert.deepEqual(w.excludedNamespaces, [], 'sees kube-system and its own namespace');
  const skip = w.matchConditions.find((c) => c.name === 'posture-skip-exempt')!;
  for (const g of ['system:masters', 'posture:admins', 'system:serviceaccount:kube-system:namespace-controller', 'system:apiserver'])
    assert.ok(skip.expression.includes(JSON.stringify(g)), g);
  assert.ok(!skip.expression.includes('system:serviceaccounts:kube-system'), 'not every service account of kube-system');
  assert.equal(w.failurePolicy, 'Fail');
  assert.deepEqual(w.declaration.rules[0].resources, ['namespaces', 'namespaces/status', 'namespaces/finalize']);
});

test('protectedNames: the matcher matches exactly the names one of the patterns matches', () => {
  const literal = (p: string) => /^\^[a-z0-9-]+(\$|\.\*)?$/.test(p);
  // kind: how the patterns are matched. literal: a set and prefixes, no expression; joined: one
  // expression; one-by-one: the patterns in turn.
  const table: Array<{ patterns: string[]; match: string[]; miss: string[]; kind: 'literal' | 'joined' | 'one-by-one' }> = [
    {
      patterns: ['^kube-.*', '^default$', '^posture$'],
      match: ['kube-system', 'kube-', 'default', 'posture', 'kube-\n'],
      miss: ['default2', 'my-kube-x', 'postures', '', 'default\n', 'Default', 'kube'],
      kind: 'literal',
    },
    { patterns: ['^prod-', '^a-b$'], match: ['prod-eu', 'prod-', 'a-b'], miss: ['prod', 'xprod-', 'a-bc', 'a'], kind: 'literal' },
    // Literal and other patterns together: the others still match as one expression.
    {
      patterns: ['^default$', 'team-[0-9]+$', '^kube-.*$'],
      match: ['default', 'x-team-12', 'kube-a'],
      miss: ['team-', 'kube-a\nb', 'defaults'],
      kind: 'literal',
    },
    // Not literal: upper case, a dot, no anchor, `.*$`.
    {
      patterns: ['^Default$', '^a.b$', 'kube-', '^x.*$'],
      match: ['Default', 'a.b', 'aXb', 'my-kube-x', 'x', 'xyz'],
      miss: ['default', 'ab', 'x\ny'],
      kind: 'joined',
    },
    // Top-level alternation inside one pattern stays inside its group.
    { patterns: ['^a$|^b$', '^c$'], match: ['a', 'b', 'c'], miss: ['ab', 'bc', 'a|b'], kind: 'literal' },
    // A backreference would be renumbered by joining: matched one by one instead.
    { patterns: ['^(x)\\1$', '^(y)\\1$'], match: ['xx', 'yy'], miss: ['xy', 'x'], kind: 'one-by-one' },
    // The same group name in two patterns: allowed in separate alternatives (ES2025, V8 in Node 24).
    { patterns: ['^(?<n>p)$', '^(?<n>q)$'], match: ['p', 'q'], miss: ['pq'], kind: 'joined' },
    { patterns: [], match: [], miss: ['', 'anything'], kind: 'joined' },
  ];
  for (const c of table) {
    const r = protectedNames(c.patterns);
    const kind = r instanceof RegExp ? 'joined' : c.patterns.every((p) => !literal(p)) ? 'one-by-one' : 'literal';
    assert.equal(kind, c.kind, `${c.patterns}: ${kind}`);
    const reference = (n: string) => c.patterns.some((p) => new RegExp(p).test(n));
    for (const n of c.match) assert.ok(r.test(n) && reference(n), `${c.patterns} should match ${JSON.stringify(n)}`);
    for (const n of c.miss) assert.ok(!r.test(n) && !reference(n), `${c.patterns} should not match ${JSON.stringify(n)}`);
    // Names and prefixes only: no expression runs, for a match or a miss (a review's name is
    // usually a miss, and an expression's code is more to fetch with cold caches).
    if (c.kind === 'literal' && c.patterns.every(literal)) {
      const exec = RegExp.prototype.exec;
      let runs = 0;
      RegExp.prototype.exec = function (this: RegExp, s: string) {
        runs++;
        return exec.call(this, s);
      };
      try {
        for (const n of [...c.match, ...c.miss]) r.test(n);
      } finally {
        RegExp.prototype.exec = exec;
      }
      assert.equal(runs, 0, `${c.patterns}: ${runs} regular expressions ran`);
    }
  }
  assert.throws(() => protectedNames(['a)|(b']), SyntaxError, 'a pattern invalid alone is refused, even if joining would hide it');
});

test('changedPolicyLabels: posture.dev/ keys set, changed or removed, sorted; nothing else', () => {
  const table: Array<{ before: Record<string, string>; after: Record<string, string>; changed: string[] }> = [
    { before: {}, after: {}, changed: [] },
    { before: { team: 'a' }, after: { team: 'b', other: 'x' }, changed: [] },
    { before: {}, after: { 'posture.dev/min-score': '0' }, changed: ['posture.dev/min-score'] },
    { before: { 'posture.dev/min-score': '5' }, after: { 'posture.dev/min-score': '5' }, changed: [] },
    { before: { 'posture.dev/min-score': '5' }, after: { 'posture.dev/min-score': '0' }, changed: ['posture.dev/min-score'] },
    { before: { 'posture.dev/min-score': '5' }, after: {}, changed: ['posture.dev/min-score'] },
    { before: { 'posture.dev/z': '1', 'posture.dev/a': '1' }, after: { 'posture.dev/b': '1' }, changed: ['posture.dev/a', 'posture.dev/b', 'posture.dev/z'] },
    // An empty value is a value: setting one is a change.
    { before: {}, after: { 'posture.dev/x': '' }, changed: ['posture.dev/x'] },
    // JSON can carry a key named like an Object.prototype member; it is an ordinary label.
    { before: JSON.parse('{"__proto__":"a"}'), after: JSON.parse('{"posture.dev/constructor":"b"}'), changed: ['posture.dev/constructor'] },
  ];
  for (const c of table) assert.deepEqual([...changedPolicyLabels(c.before, c.after)], c.changed, JSON.stringify(c));
});

export type { Caller };
