// The framework's request path, table-driven: protocol, failure policy, enforcement, exemptions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../config/index.ts';
import { registry as metricsRegistry } from '../metrics/index.ts';
import { compileWebhook, defineWebhook } from './define.ts';
import { Dispatcher } from './dispatcher.ts';
import { capWarnings, peekReview } from './protocol.ts';
import { Registry } from './registry.ts';
import { admissionReview, anonymous, object, user, WebhookTester } from './testing.ts';
import type { Enforcement, Verdict, WebhookDeclaration } from './types.ts';
import { Allowed, Denied, Undecided, Warned } from './verdict.ts';

const config = defaultConfig();

function hook(name: string, over: Partial<WebhookDeclaration<unknown, unknown>> = {}): WebhookDeclaration<unknown, unknown> {
  return defineWebhook<unknown, unknown>({
    name,
    path: `/${name}`,
    rules: [{ operations: ['CREATE', 'UPDATE', 'DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    enforcement: 'deny',
    doc: { summary: 's', protects: 'configmaps', exempt: 'nobody', failurePolicy: 'f', timeout: 't', denials: ['no'] },
    authorize: () => Allowed(),
    ...over,
  });
}

async function tester(decls: WebhookDeclaration<unknown, unknown>[], enforcement: Record<string, Enforcement> = {}) {
  const registry = new Registry<unknown>(decls.map((d) => compileWebhook(d, config, enforcement[d.name], `${d.name}.ts`)));
  return WebhookTester.create<unknown>({ services: {}, registry });
}

const cm = object('ConfigMap', 'c', { namespace: 'team' });

test('verdicts become responses by enforcement and failure policy', async (t) => {
  const cases: Array<{
    name: string;
    verdict: () => Verdict;
    failurePolicy?: 'Fail' | 'Ignore';
    enforcement?: Enforcement;
    allowed: boolean;
    code?: number;
    message?: RegExp;
    warning?: RegExp;
    audit?: boolean;
    outcome: string;
  }> = [
    { name: 'allow', verdict: () => Allowed(), allowed: true, outcome: 'allowed' },
    { name: 'deny keeps code and message', verdict: () => Denied('nope', 422, 'Invalid'), allowed: false, code: 422, message: /^nope$/, outcome: 'denied' },
    { name: 'deny default code 403', verdict: () => Denied('nope'), allowed: false, code: 403, message: /^nope$/, outcome: 'denied' },
    { name: 'deny code below 400 becomes 403', verdict: () => ({ allowed: false, code: 200, message: 'x' }), allowed: false, code: 403, outcome: 'denied' },
    {
      name: 'warn enforcement admits with the message',
      verdict: () => Denied('nope'),
      enforcement: 'warn',
      allowed: true,
      warning: /^nope$/,
      outcome: 'warned',
    },
    { name: 'dry-run admits, audit-annotates', verdict: () => Denied('nope'), enforcement: 'dry-run', allowed: true, audit: true, outcome: 'dry-run' },
    { name: 'allowed with warnings', verdict: () => Warned('careful'), allowed: true, warning: /^careful$/, outcome: 'allowed' },
    {
      name: 'exception under Fail denies 500',
      verdict: () => {
        throw new Error('boom');
      },
      allowed: false,
      code: 500,
      message: /could not decide.*Fail: webhook h failed: boom/,
      outcome: 'error-denied',
    },
    {
      name: 'exception under Ignore admits with a warning',
      verdict: () => {
        throw new Error('boom');
      },
      failurePolicy: 'Ignore',
      allowed: true,
      warning: /could not decide.*boom/,
      outcome: 'error-allowed',
    },
    {
      name: 'Undecided under Fail keeps its code',
      verdict: () => Undecided('db down', 503),
      allowed: false,
      code: 503,
      message: /db down/,
      outcome: 'error-denied',
    },
    {
      name: 'Undecided under Ignore admits',
      verdict: () => Undecided('db down', 503),
      failurePolicy: 'Ignore',
      allowed: true,
      warning: /db down/,
      outcome: 'error-allowed',
    },
    {
      name: 'errors never deny under warn',
      verdict: () => {
        throw new Error('boom');
      },
      enforcement: 'warn',
      allowed: true,
      warning: /boom/,
      outcome: 'error-allowed',
    },
    {
      name: 'not a verdict is an error',
      verdict: () => 42 as unknown as Verdict,
      allowed: false,
      code: 500,
      message: /not a verdict/,
      outcome: 'error-denied',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const tt = await tester([hook('h', { failurePolicy: c.failurePolicy ?? 'Fail', authorize: c.verdict })], { h: c.enforcement ?? 'deny' });
      const r = tt.send('h', { operation: 'CREATE', object: cm, uid: 'u-1' });
      assert.equal(r.http.statusCode, 200);
      assert.equal(r.response!.uid, 'u-1');
      assert.equal(r.response!.allowed, c.allowed);
      assert.equal(r.outcome, c.outcome);
      if (c.code) assert.equal(r.response!.status?.code, c.code);
      if (c.message) assert.match(r.response!.status?.message ?? '', c.message);
      if (c.warning) assert.match(r.response!.warnings?.[0] ?? '', c.warning);
      else assert.equal(r.response!.warnings, undefined);
      if (c.audit) assert.equal(r.response!.auditAnnotations?.['dry-run-denied'], 'nope');
    });
  }
});

test('protocol: answers in the version asked, 200 with the uid, HTTP errors only for non-reviews', async (t) => {
  const tt = await tester([hook('h')]);
  const d = tt.dispatcher;
  const good = (v: string) => JSON.stringify(admissionReview({ operation: 'CREATE', object: cm, uid: 'abc', apiVersion: v as 'admission.k8s.io/v1' }));
  for (const v of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    await t.test(v, () => {
      const r = d.dispatch({ method: 'POST', path: '/h', contentType: 'application/json; charset=utf-8', body: good(v) });
      assert.equal(r.statusCode, 200);
      const body = JSON.parse(r.body);
      assert.deepEqual(body, { apiVersion: v, kind: 'AdmissionReview', response: { uid: 'abc', allowed: true } });
    });
  }
  const bad: Array<[string, Parameters<typeof d.dispatch>[0], number, RegExp]> = [
    ['unknown path', { method: 'POST', path: '/nope', contentType: 'application/json', body: good('admission.k8s.io/v1') }, 404, /no webhook/],
    ['GET', { method: 'GET', path: '/h', contentType: 'application/json', body: '' }, 405, /POST/],
    ['content type', { method: 'POST', path: '/h', contentType: 'text/plain', body: good('admission.k8s.io/v1') }, 415, /application\/json/],
    ['no content type', { method: 'POST', path: '/h', contentType: undefined, body: good('admission.k8s.io/v1') }, 415, /application\/json/],
    // The parser's own message, as JSON.parse words it (its error comes from another context: json-realm.ts).
    [
      'bad JSON',
      { method: 'POST', path: '/h', contentType: 'application/json', body: '{"kind":' },
      400,
      /^the body is not JSON: Unexpected end of JSON input\n$/,
    ],
    [
      'bad JSON, bytes',
      { method: 'POST', path: '/h', contentType: 'application/json', body: Buffer.from('{"kind" 1}') },
      400,
      /^the body is not JSON: Expected ':' after property name/,
    ],
    [
      'content type with parameters, other case',
      { method: 'POST', path: '/h', contentType: 'Application/JSON; charset=utf-8', body: '[]' },
      400,
      /not a JSON object/,
    ],
    ['empty body', { method: 'POST', path: '/h', contentType: 'application/json', body: undefined }, 400, /empty/],
    ['array', { method: 'POST', path: '/h', contentType: 'application/json', body: '[]' }, 400, /not a JSON object/],
    [
      'wrong kind',
      { method: 'POST', path: '/h', contentType: 'application/json', body: '{"kind":"Pod","apiVersion":"admission.k8s.io/v1","request":{"uid":"x"}}' },
      400,
      /kind/,
    ],
    [
      'wrong version',
      {
        method: 'POST',
        path: '/h',
        contentType: 'application/json',
        body: '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v2","request":{"uid":"x"}}',
      },
      400,
      /apiVersion/,
    ],
    [
      'no request',
      { method: 'POST', path: '/h', contentType: 'application/json', body: '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}' },
      400,
      /no request/,
    ],
    [
      'no uid',
      { method: 'POST', path: '/h', contentType: 'application/json', body: '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{}}' },
      400,
      /uid/,
    ],
  ];
  for (const [name, req, code, msg] of bad) {
    await t.test(name, () => {
      const r = d.dispatch(req);
      assert.equal(r.statusCode, code);
      assert.match(r.body, msg);
    });
  }
  await t.test('query string ignored, parsed body accepted (faas runtimes parse JSON)', () => {
    const r = d.dispatch({ method: 'POST', path: '/h?timeout=5s', contentType: 'application/json', body: JSON.parse(good('admission.k8s.io/v1')) });
    assert.equal(r.statusCode, 200);
  });
});

test('a review with a uid but broken fields gets 200 and the failure policy', async () => {
  for (const [failurePolicy, allowed] of [
    ['Fail', false],
    ['Ignore', true],
  ] as const) {
    const tt = await tester([hook('h', { failurePolicy })]);
    const review = admissionReview({ operation: 'UPDATE', object: cm, oldObject: null, uid: 'm-1' });
    const r = tt.send('h', review);
    assert.equal(r.http.statusCode, 200);
    assert.equal(r.response!.uid, 'm-1');
    assert.equal(r.response!.allowed, allowed);
    assert.match(JSON.stringify(r.response), /oldObject is required for UPDATE/);
  }
});

test('exemptions: users and groups skip authorize; system:unauthenticated never does', async () => {
  let calls = 0;
  const tt = await tester([
    hook('h', {
      exempt: [{ user: 'root' }, { groupsFrom: 'adminGroups' }, { group: 'system:unauthenticated' }],
      authorize: () => {
        calls++;
        return Denied('no');
      },
    }),
  ]);
  const cases: Array<[string, ReturnType<typeof user>, boolean]> = [
    ['exempt user', user('root'), true],
    ['exempt group from config', user('ann', 'system:masters'), true],
    ['plain user', user('bob', 'devs'), false],
    ['anonymous, even with a configured group', anonymous, false],
    ['exempt user who is also unauthenticated', { username: 'root', groups: ['system:unauthenticated'] }, false],
  ];
  for (const [name, caller, allowed] of cases) {
    const before = calls;
    const r = tt.send('h', { operation: 'DELETE', oldObject: cm, caller });
    assert.equal(r.response!.allowed, allowed, name);
    assert.equal(calls - before, allowed ? 0 : 1, name);
  }
});

test('warnings are capped at 256 characters each and 4096 in all', () => {
  const long = 'x'.repeat(1000);
  const capped = capWarnings([long, 'a\nb', '', ...Array(40).fill('y'.repeat(200))]);
  assert.equal(capped[0].length, 256);
  assert.ok(capped[0].endsWith('…'));
  assert.equal(capped[1], 'a b');
  assert.ok(capped.reduce((n, w) => n + w.length, 0) <= 4096);
  assert.ok(capped.length < 42);
  assert.equal(capWarnings(['😀'.repeat(200)])[0].length <= 256, true);
});

test('a too-large review still gets 200 with its uid when its head names one', async () => {
  const tt = await tester([hook('h', { failurePolicy: 'Fail' })]);
  const head = JSON.stringify(admissionReview({ operation: 'CREATE', object: cm, uid: 'big-1' })).slice(0, 300);
  assert.deepEqual(peekReview(head), { apiVersion: 'admission.k8s.io/v1', uid: 'big-1' });
  const r = tt.dispatcher.tooLarge('/h', head, 10);
  assert.equal(r.statusCode, 200);
  const body = JSON.parse(r.body);
  assert.equal(body.response.uid, 'big-1');
  assert.equal(body.response.allowed, false);
  assert.equal(body.response.status.code, 413);
  assert.equal(tt.dispatcher.tooLarge('/h', 'garbage', 10).statusCode, 413);
});

test('decisions and errors are counted per webhook', async () => {
  const tt = await tester([
    hook('counted', {
      authorize: () => {
        throw new Error('x');
      },
    }),
  ]);
  tt.send('counted', { operation: 'CREATE', object: cm });
  const text = await metricsRegistry.metrics();
  assert.match(text, /posture_admission_decisions_total\{webhook="counted",outcome="error-denied"\} 1/);
  assert.match(text, /posture_admission_webhook_errors_total\{webhook="counted",kind="exception"\} 1/);
  assert.match(text, /posture_admission_review_duration_seconds_count\{webhook="counted"\} 1/);
});

test('the dispatcher passes settings, services, time and the namespace-label tier', async () => {
  let seen: unknown;
  const d = defineWebhook<{ s: number }, { p: string }>({
    ...(hook('tiers') as WebhookDeclaration<any, any>),
    namespaceLabel: { key: 'example.com/tier', values: ['a', 'b'] },
    prepare: (c) => ({ p: c.namespace }),
    authorize: (_r, ctx) => {
      seen = { settings: ctx.settings, services: ctx.services, label: ctx.namespaceLabel, now: ctx.now };
      return Allowed();
    },
  });
  const registry = new Registry<{ s: number }>([compileWebhook(d, config)]);
  const dispatcher = new Dispatcher({ registry, services: { s: 1 }, now: () => 42 });
  const body = JSON.stringify(admissionReview({ operation: 'CREATE', object: cm }));
  for (const [path, label] of [
    ['/tiers', { state: 'absent' }],
    ['/tiers/label/b', { state: 'value', value: 'b' }],
    ['/tiers/label-invalid', { state: 'invalid' }],
  ] as const) {
    assert.equal(dispatcher.dispatch({ method: 'POST', path, contentType: 'application/json', body }).statusCode, 200);
    assert.deepEqual(seen, { settings: { p: 'posture' }, services: { s: 1 }, label, now: 42 });
  }
});
