// The doc lint catches docs that disagree with their webhook's data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lintDoc } from './docs.ts';
import type { WebhookDeclaration } from './types.ts';
import { Allowed } from './verdict.ts';

const base: WebhookDeclaration<unknown, unknown> = {
  name: 'w',
  path: '/w',
  rules: [{ operations: ['DELETE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets/scale'] }],
  objectSelector: { matchLabels: { 'example.com/keep': 'true' } },
  failurePolicy: 'Fail',
  timeoutSeconds: 4,
  enforcement: 'deny',
  exempt: [{ groupsFrom: 'adminGroups' }, { user: 'ops' }],
  doc: {
    summary: 's',
    protects: 'Deployments and StatefulSets (their scale too) labelled example.com/keep: delete',
    exempt: 'adminGroups and ops',
    failurePolicy: 'Fail: because',
    timeout: '4 s: because',
    denials: ['no'],
    settings: ['adminGroups'],
  },
  authorize: () => Allowed(),
};

test('doc lint', () => {
  const cases: Array<[string, Partial<WebhookDeclaration<unknown, unknown>['doc']>, Partial<WebhookDeclaration<unknown, unknown>>, RegExp | undefined]> = [
    ['agrees', {}, {}, undefined],
    ['env name counts for a setting', { exempt: 'POSTURE_ADMIN_GROUPS and ops' }, {}, undefined],
    ['resource missing', { protects: 'Deployments labelled example.com/keep' }, {}, /does not name statefulsets\/scale/],
    [
      'subresource missing',
      { protects: 'Deployments and StatefulSets labelled example.com/keep: delete' },
      {},
      /does not name the subresource scale \(statefulsets\/scale\)/,
    ],
    ['operation missing', { protects: 'Deployments and StatefulSets (scale) labelled example.com/keep' }, {}, /does not say it judges delete \(DELETE\)/],
    [
      'controller named by prefix and backticked name',
      { exempt: 'adminGroups and ops; `system:serviceaccount:kube-system:` followed by `job-controller`' },
      { exempt: [{ groupsFrom: 'adminGroups' }, { user: 'ops' }, { user: 'system:serviceaccount:kube-system:job-controller' }] },
      undefined,
    ],
    [
      'controller not named',
      { exempt: 'adminGroups and ops; `system:serviceaccount:kube-system:` followed by `cronjob-controller`' },
      { exempt: [{ groupsFrom: 'adminGroups' }, { user: 'ops' }, { user: 'system:serviceaccount:kube-system:job-controller' }] },
      /does not name system:serviceaccount:kube-system:job-controller/,
    ],
    ['selector label missing', { protects: 'Deployments and StatefulSets' }, {}, /label example\.com\/keep/],
    ['exempt user missing', { exempt: 'adminGroups' }, {}, /does not name ops/],
    ['exempt setting missing', { exempt: 'ops' }, {}, /does not name adminGroups/],
    ['setting not listed', { settings: [] }, {}, /doc\.settings must list adminGroups/],
    ['unknown setting', { settings: ['adminGroups', 'nope'] }, {}, /nope, which is not a setting/],
    ['policy contradicts data', { failurePolicy: 'Ignore: because' }, {}, /must start with "Fail:"/],
    ['timeout contradicts data', { timeout: '10 s: because' }, {}, /must start with "4 s"/],
    ['nobody exempt must be said', { exempt: 'the usual people' }, { exempt: [] }, /must say nobody/],
    [
      'every resource',
      { protects: 'things labelled example.com/keep' },
      { rules: [{ operations: ['DELETE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }] },
      /every resource/,
    ],
  ];
  for (const [name, doc, over, message] of cases) {
    const problems = lintDoc({ ...base, ...over, doc: { ...base.doc, ...doc } });
    if (message) assert.match(problems.join('; '), message, name);
    else assert.deepEqual(problems, [], name);
  }
});
