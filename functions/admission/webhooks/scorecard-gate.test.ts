// Table tests of scorecard-gate through the full dispatcher path, with a fake score lookup.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ScoreLookup, ScoreLookupResult } from '../../../lib/admission/scores.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { object, type ReviewSpec, serviceAccount, user, WebhookTester } from '../../../lib/admission/testing.ts';
import { type Config, defaultConfig } from '../../../lib/config/index.ts';
import { CONTROLLER_MANAGER, controller, WORKLOAD_CONTROLLERS, WORKLOAD_SOURCES } from '../identities.ts';
import { WEBHOOKS_DIR } from '../webhooks-dir.ts';
import gate, {
  changesWhatRuns,
  INVALID_LABEL_MESSAGE,
  invalidRepoMessage,
  lowScoreMessage,
  MAX_SOURCE_REPO_CHARS,
  PARSED_BUDGET_BYTES,
  ParsedRepos,
  unknownMessage,
} from './scorecard-gate.ts';

const SCORES: Record<string, ScoreLookupResult> = {
  'github.com/low/repo': { state: 'hit', repo: 'github.com/low/repo', score: 3.2, date: '2026-11-01T00:00:00Z' },
  'github.com/mid/repo': { state: 'hit', repo: 'github.com/mid/repo', score: 5, date: '2026-11-01T00:00:00Z' },
  'github.com/high/repo': { state: 'hit', repo: 'github.com/high/repo', score: 7.5, date: '2026-11-01T00:00:00Z' },
};
let unavailable = false;
const scores: ScoreLookup = {
  lookup: (key) => (unavailable ? { state: 'unavailable', reason: 'scores are stale: last loaded 900 s ago' } : (SCORES[key] ?? { state: 'unknown' })),
};
const services: AdmissionServices = { scores };
const A = 'posture.dev/source-repo';
const deploy = (repo: string | undefined, where: 'meta' | 'template' = 'meta') =>
  object('Deployment', 'web', {
    namespace: 'team',
    annotations: repo && where === 'meta' ? { [A]: repo } : undefined,
    spec: { template: { metadata: { annotations: repo && where === 'template' ? { [A]: repo } : {} }, spec: { containers: [] } } },
  });
const pod = (repo: string) => object('Pod', 'p', { namespace: 'team', annotations: { [A]: repo } });
const cron = (repo: string) =>
  object('CronJob', 'c', { namespace: 'team', spec: { jobTemplate: { spec: { template: { metadata: { annotations: { [A]: repo } } } } } } });
const cronJobMeta = (repo: string) =>
  object('CronJob', 'c', {
    namespace: 'team',
    spec: { jobTemplate: { metadata: { annotations: { [A]: repo } }, spec: { template: { spec: { containers: [] } } } } },
  });
const rc = (repo: string) =>
  object('ReplicationController', 'rc', {
    namespace: 'team',
    spec: { replicas: 2, template: { metadata: { annotations: { [A]: repo } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
  });
const scaled = (repo: string, replicas: number, extra: Record<string, unknown> = {}) => {
  const d = deploy(repo);
  return { ...d, metadata: { ...d.metadata, ...extra }, spec: { ...(d.spec as object), replicas } };
};
const withTemplateImage = (repo: string, image: string) => {
  const d = deploy(repo);
  return { ...d, spec: { template: { metadata: { annotations: {} }, spec: { containers: [{ name: 'app', image }] } } } };
};
const jane = user('jane', 'devs');
const low = lowScoreMessage('github.com/low/repo', 3.2, '2026-11-01T00:00:00Z', 5, false);

interface Case {
  name: string;
  review: ReviewSpec;
  allowed: boolean;
  message?: string;
  warning?: RegExp;
  tier?: string;
  config?: Partial<Config>;
  down?: boolean;
  audit?: boolean;
}

const cases: Case[] = [
  {
    name: 'Deployment from a low-scoring repo',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane },
    allowed: false,
    message: low,
  },
  {
    name: 'annotation on the pod template',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo', 'template'), caller: jane },
    allowed: false,
    message: low,
  },
  {
    name: 'URL form and case are the same repo',
    review: { operation: 'CREATE', object: deploy('https://GitHub.com/Low/Repo.git'), caller: jane },
    allowed: false,
  },
  { name: 'Pod', review: { operation: 'CREATE', object: pod('github.com/low/repo'), caller: jane }, allowed: false },
  { name: 'CronJob job template', review: { operation: 'CREATE', object: cron('github.com/low/repo'), caller: jane }, allowed: false },
  // The cronjob-controller (exempt) copies the Job template's annotations onto each Job it creates.
  {
    name: "CronJob declaring only on its Job template's metadata",
    review: { operation: 'CREATE', object: cronJobMeta('github.com/low/repo'), caller: jane },
    allowed: false,
    message: low,
  },
  {
    name: "UPDATE changing a CronJob's Job template's repository is judged",
    review: { operation: 'UPDATE', object: cronJobMeta('github.com/low/repo'), oldObject: cronJobMeta('github.com/high/repo'), caller: jane },
    allowed: false,
  },
  {
    name: 'ReplicationController from a low-scoring repo',
    review: { operation: 'CREATE', object: rc('github.com/low/repo'), caller: jane },
    allowed: false,
    message: low,
  },
  { name: 'ReplicationController from a good repo', review: { operation: 'CREATE', object: rc('github.com/high/repo'), caller: jane }, allowed: true },
  {
    name: 'UPDATE changing the declared repository is judged',
    review: { operation: 'UPDATE', object: deploy('github.com/low/repo'), oldObject: deploy('github.com/high/repo'), caller: jane },
    allowed: false,
  },
  {
    name: 'UPDATE declaring a repository for the first time is judged',
    review: { operation: 'UPDATE', object: deploy('github.com/low/repo'), oldObject: deploy(undefined), caller: jane },
    allowed: false,
  },
  {
    name: 'UPDATE changing the pod template is judged',
    review: {
      operation: 'UPDATE',
      object: withTemplateImage('github.com/low/repo', 'app:2'),
      oldObject: withTemplateImage('github.com/low/repo', 'app:1'),
      caller: jane,
    },
    allowed: false,
    message: low,
  },
  {
    name: 'UPDATE scaling a low-score Deployment to 0 is not judged',
    review: { operation: 'UPDATE', object: scaled('github.com/low/repo', 0), oldObject: scaled('github.com/low/repo', 3), caller: jane },
    allowed: true,
  },
  {
    name: 'UPDATE removing a finalizer while deleted is not judged',
    review: {
      operation: 'UPDATE',
      object: scaled('github.com/low/repo', 3, { deletionTimestamp: '2026-11-26T09:00:00Z' }),
      oldObject: scaled('github.com/low/repo', 3, { deletionTimestamp: '2026-11-26T09:00:00Z', finalizers: ['gitops/x'] }),
      caller: jane,
    },
    allowed: true,
  },
  {
    name: 'UPDATE of labels only is not judged',
    review: {
      operation: 'UPDATE',
      object: scaled('github.com/low/repo', 3, { labels: { team: 'b' } }),
      oldObject: scaled('github.com/low/repo', 3),
      caller: jane,
    },
    allowed: true,
  },
  { name: 'dryRun is judged the same', review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane, dryRun: true }, allowed: false },
  { name: 'score at the threshold', review: { operation: 'CREATE', object: deploy('github.com/mid/repo'), caller: jane }, allowed: true },
  { name: 'score above', review: { operation: 'CREATE', object: deploy('github.com/high/repo'), caller: jane }, allowed: true },
  { name: 'no annotation', review: { operation: 'CREATE', object: deploy(undefined), caller: jane }, allowed: true },
  { name: 'DELETE is not judged (only oldObject)', review: { operation: 'DELETE', oldObject: deploy('github.com/low/repo'), caller: jane }, allowed: true },
  {
    name: 'scale subresource is not judged',
    review: { operation: 'UPDATE', object: deploy('github.com/low/repo'), oldObject: deploy('github.com/low/repo'), subResource: 'scale', caller: jane },
    allowed: true,
  },
  {
    name: 'oversize annotation refused before parsing',
    review: { operation: 'CREATE', object: deploy(`github.com/a/${'b'.repeat(250 * 1024)}`), caller: jane },
    allowed: false,
    message: invalidRepoMessage(`github.com/a/${'b'.repeat(250 * 1024)}`, `longer than ${MAX_SOURCE_REPO_CHARS} characters`),
  },
  {
    name: 'invalid annotation',
    review: { operation: 'CREATE', object: deploy('not a repo'), caller: jane },
    allowed: false,
    message: invalidRepoMessage('not a repo', 'contains whitespace or control characters'),
  },
  { name: 'host not allowed', review: { operation: 'CREATE', object: deploy('gitlab.com/a/b'), caller: jane }, allowed: false },
  {
    name: 'threshold from config',
    review: { operation: 'CREATE', object: deploy('github.com/high/repo'), caller: jane },
    allowed: false,
    config: { gateThreshold: 8 },
  },
  // Namespace label tiers (the API server routes by namespaceSelector).
  {
    name: 'namespace min-score 8 refuses 7.5',
    review: { operation: 'CREATE', object: deploy('github.com/high/repo'), caller: jane },
    tier: '8',
    allowed: false,
    message: lowScoreMessage('github.com/high/repo', 7.5, '2026-11-01', 8, true),
  },
  { name: 'namespace min-score 3 admits 3.2', review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane }, tier: '3', allowed: true },
  { name: 'namespace min-score 0 admits all', review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane }, tier: '0', allowed: true },
  {
    name: 'invalid namespace label',
    review: { operation: 'CREATE', object: deploy('github.com/high/repo'), caller: jane },
    tier: 'invalid',
    allowed: false,
    message: INVALID_LABEL_MESSAGE,
  },
  // Unknown repositories.
  {
    name: 'unknown repo, gateUnknown=warn (default)',
    review: { operation: 'CREATE', object: deploy('github.com/new/repo'), caller: jane },
    allowed: true,
    warning: new RegExp(unknownMessage('github.com/new/repo')),
  },
  {
    name: 'unknown repo, gateUnknown=allow',
    review: { operation: 'CREATE', object: deploy('github.com/new/repo'), caller: jane },
    allowed: true,
    config: { gateUnknown: 'allow' },
  },
  {
    name: 'unknown repo, gateUnknown=deny',
    review: { operation: 'CREATE', object: deploy('github.com/new/repo'), caller: jane },
    allowed: false,
    message: unknownMessage('github.com/new/repo'),
    config: { gateUnknown: 'deny' },
  },
  // Enforcement and failure.
  {
    name: 'warn enforcement admits with the message as a warning',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane },
    allowed: true,
    warning: new RegExp(low.replace(/[.()]/g, '\\$&')),
    config: { webhookEnforcement: ['scorecard-gate=warn'] },
  },
  {
    name: 'dry-run enforcement admits silently, audit-annotated',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane },
    allowed: true,
    audit: true,
    config: { webhookEnforcement: ['scorecard-gate=dry-run'] },
  },
  {
    name: 'stale scores follow failurePolicy Ignore: admitted with a warning',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: jane },
    allowed: true,
    down: true,
    warning: /scores are stale/,
  },
  // Exemptions.
  {
    name: 'ReplicaSet controller stamping pods',
    review: { operation: 'CREATE', object: pod('github.com/low/repo'), caller: serviceAccount('kube-system', 'replicaset-controller') },
    allowed: true,
  },
  {
    name: 'Deployment controller creating a ReplicaSet',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: serviceAccount('kube-system', 'deployment-controller') },
    allowed: true,
  },
  {
    name: 'an add-on service account in kube-system is judged',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: serviceAccount('kube-system', 'helm-controller') },
    allowed: false,
  },
  {
    name: 'cluster admin is judged like anyone',
    review: { operation: 'CREATE', object: deploy('github.com/low/repo'), caller: user('root', 'system:masters') },
    allowed: false,
  },
];

test('scorecard-gate', async (t) => {
  const testers = new Map<string, WebhookTester<AdmissionServices>>();
  for (const c of cases) {
    await t.test(c.name, async () => {
      const key = JSON.stringify(c.config ?? {});
      if (!testers.has(key)) testers.set(key, await WebhookTester.create({ dir: WEBHOOKS_DIR, services, config: defaultConfig(c.config ?? {}) }));
      unavailable = c.down ?? false;
      try {
        const r = testers.get(key)!.send('scorecard-gate', c.review, { tier: c.tier });
        assert.equal(r.http.statusCode, 200);
        assert.equal(r.response!.allowed, c.allowed, JSON.stringify(r.response));
        if (c.message) assert.equal(r.response!.status?.message, c.message);
        if (c.warning) assert.match(r.response!.warnings?.join('\n') ?? '', c.warning);
        if (c.audit) assert.equal(r.response!.auditAnnotations?.['dry-run-denied'], low);
      } finally {
        unavailable = false;
      }
    });
  }
});

test('scorecard-gate: one entry per namespace-label value, plus absent and invalid', async () => {
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services });
  const w = tester.dispatcher.registry.byName('scorecard-gate')!;
  assert.equal(w.entries.length, 13);
  assert.deepEqual(w.entries[0].namespaceSelector.matchExpressions?.at(-1), { key: 'posture.dev/min-score', operator: 'DoesNotExist' });
});

test('scorecard-gate: remembered parses are bounded by bytes and never hold an invalid value', () => {
  const p = new ParsedRepos();
  // 20,000 distinct invalid values: none is kept.
  for (let i = 0; i < 20_000; i++) assert.equal(p.parse(`not a repo ${i}`, ['github.com']).ok, false);
  assert.equal(p.size, 0);
  assert.equal(p.bytes, 0);
  // 50,000 distinct valid values of the longest kind: the budget holds.
  for (let i = 0; i < 50_000; i++) assert.equal(p.parse(`https://github.com/${'o'.repeat(30)}${i % 10}/${'r'.repeat(90)}${i}`, ['github.com']).ok, true);
  assert.ok(p.bytes <= PARSED_BUDGET_BYTES, `${p.bytes} bytes`);
  assert.ok(p.size > 500 && p.size < 50_000, `${p.size} entries`);
  // A remembered answer is the same as a fresh one.
  const a = p.parse('github.com/Low/Repo', ['github.com']);
  const b = p.parse('github.com/Low/Repo', ['github.com']);
  assert.deepEqual(a, b);
});

test('scorecard-gate: a flood of unique oversize annotations leaves the heap where it was', async () => {
  // The old parse cache kept every raw value (10,000 entries of any size): 1,500 reviews of 250 KiB added 367 MiB.
  const tester = await WebhookTester.create({ dir: WEBHOOKS_DIR, services });
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const review = (i: number) => ({
    operation: 'CREATE' as const,
    object: deploy(`github.com/a/${String(i).padStart(8, '0')}${'b'.repeat(250 * 1024)}`),
    caller: jane,
  });
  for (let i = 0; i < 20; i++) tester.send('scorecard-gate', review(i));
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 20; i < 420; i++) assert.equal(tester.send('scorecard-gate', review(i)).response!.allowed, false);
  gc();
  const grew = process.memoryUsage().heapUsed - before;
  // 400 x 250 KiB is 100 MiB of values; the parse cache may hold at most PARSED_BUDGET_BYTES.
  assert.ok(grew < 8 * 2 ** 20, `heap grew ${(grew / 2 ** 20).toFixed(1)} MiB`);
});

test('changesWhatRuns: the same generation means the same spec (the API server raises it on every spec change, before admission)', () => {
  const at = (o: ReturnType<typeof deploy>, generation: unknown) => ({ ...o, metadata: { ...o.metadata, generation } }) as ReturnType<typeof deploy>;
  const update = (object: ReturnType<typeof deploy>, oldObject: ReturnType<typeof deploy>) =>
    ({ operation: 'UPDATE', object, oldObject }) as unknown as Parameters<typeof changesWhatRuns>[0];
  const a = withTemplateImage('github.com/low/repo', 'app:1');
  const b = withTemplateImage('github.com/low/repo', 'app:2');
  const cases: Array<[string, ReturnType<typeof deploy>, ReturnType<typeof deploy>, boolean]> = [
    ['same generation, metadata-only update: not judged, templates unread', at(a, 4), at(a, 4), false],
    ['same generation: trusted over the templates (only the API server sets it)', at(b, 4), at(a, 4), false],
    ['generation raised, template changed: judged', at(b, 5), at(a, 4), true],
    ['generation raised, template the same (replicas changed): not judged', at(a, 5), at(a, 4), false],
    ['no generation: the templates decide (changed)', b, a, true],
    ['no generation: the templates decide (same)', a, a, false],
    ['a generation that is not a whole number is not trusted', at(b, '4'), at(a, '4'), true],
    ['the declared repository changed: judged whatever the generation', at(deploy('github.com/high/repo'), 4), at(deploy('github.com/low/repo'), 4), true],
  ];
  for (const [what, object, oldObject, judged] of cases) assert.equal(changesWhatRuns(update(object, oldObject)), judged, what);
});

// The gate exempts the controllers that stamp out pods, ReplicaSets and Jobs because it judged
// what they copy: a kind whose controller is exempt but which the rules do not send (the
// ReplicationController was one) ran whatever it declared.
test('scorecard-gate: the rules send CREATE and UPDATE of every kind whose controller the gate exempts', () => {
  const rules = gate.rules;
  const exempt = new Set((gate.exempt ?? []).map((e) => ('user' in e ? e.user : '')));
  for (const name of WORKLOAD_CONTROLLERS) {
    assert.ok(exempt.has(controller(name)), `${name} is exempt`);
    const { group, resource } = WORKLOAD_SOURCES[name];
    for (const op of ['CREATE', 'UPDATE'] as const) {
      const covered = rules.some(
        (r) =>
          (r.operations as readonly string[]).some((o) => o === op || o === '*') &&
          (r.apiGroups.includes(group) || r.apiGroups.includes('*')) &&
          (r.resources.includes(resource) || r.resources.includes('*')),
      );
      assert.ok(covered, `${op} ${group || 'core'}/${resource} (copied by the exempt ${name}) is sent to the gate`);
    }
  }
  // Every controller the gate exempts is one of those (and kube-controller-manager's own identity).
  for (const user of exempt) assert.ok(user === CONTROLLER_MANAGER || WORKLOAD_CONTROLLERS.some((n) => controller(n) === user), `${user} has a source kind`);
  // The match condition looks where declaredRepos looks, a CronJob's Job template included.
  const condition = gate.matchConditions?.map((c) => c.expression).join(' ') ?? '';
  assert.match(condition, /object\.spec\.jobTemplate\.metadata\.annotations\)/);
});
