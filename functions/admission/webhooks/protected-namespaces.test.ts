// Table tests of protected-namespaces through the full dispatcher path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { type Caller, WebhookTester } from '../../../lib/admission/testing.ts';
import { defaultConfig } from '../../../lib/config/index.ts';
import { cases } from '../cases/protected-namespaces.ts';
import { WEBHOOKS_DIR } from '../webhooks-dir.ts';
import { changedPolicyLabels, protectedNames } from './protected-namespaces.ts';

const services: AdmissionServices = { scores: { lookup: () => ({ state: 'unknown' }) } };

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
