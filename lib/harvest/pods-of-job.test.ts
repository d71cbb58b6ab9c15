// The harvester reads only the pods the Job controls (a pure filter over their ownerReferences).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needsEvents, podsOfJob } from './harvest.ts';

test("podsOfJob keeps only pods whose controller ownerReference and controller-uid label both are the Job's UID", () => {
  const uidLabel = (uid: string) => ({ 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': 'j' });
  const ref = (o: Record<string, unknown> = {}) => ({ kind: 'Job', uid: 'u1', controller: true, name: 'j', apiVersion: 'batch/v1', ...o });
  const pod = (name: string, refs: any[], labels: Record<string, string> = uidLabel('u1')) => ({ metadata: { name, ownerReferences: refs, labels } });
  const pods = [
    pod('real', [ref()]),
    pod('not-controller', [ref({ controller: false })]),
    pod('other-job', [ref({ uid: 'u2' })], uidLabel('u2')),
    pod('bare', []),
    // Planted: someone who may create Pods copied the Job's controller ownerReference, not its label.
    pod('planted-owner-only', [ref()], { 'batch.kubernetes.io/job-name': 'j' }),
    pod('planted-label-other', [ref()], uidLabel('u2')),
    // The label alone names the Job, but no controller reference does.
    pod('label-only', [], uidLabel('u1')),
    pod('other-api', [ref({ apiVersion: 'example.com/v1' })]),
  ];
  assert.deepEqual(
    podsOfJob(pods as any, 'u1').map((p) => p.metadata!.name),
    ['real'],
  );
  assert.deepEqual(podsOfJob(pods as any, ''), []);
});

test('the Events are read only when nothing else can say why: no pod, or a container that never ran', () => {
  const pod = (cs: Record<string, unknown> | undefined) => ({ status: { containerStatuses: cs ? [{ name: 'scorecard', ...cs }] : [] } }) as any;
  const cases: Array<[string, any, boolean]> = [
    ['no pod (deleted by the job controller at the deadline)', undefined, true],
    ['a pod with no container status (never scheduled)', pod(undefined), true],
    ['waiting, and the pod says on what', pod({ state: { waiting: { reason: 'CreateContainerConfigError' } } }), false],
    ['ended by its own deadline before it ran', pod({ state: { terminated: { exitCode: 137, reason: 'ContainerStatusUnknown' } } }), true],
    ['ran and exited', pod({ state: { terminated: { exitCode: 1, reason: 'Error', startedAt: new Date() } } }), false],
    ['ran and was killed at its deadline', pod({ state: { terminated: { exitCode: 137, reason: 'Error' } } }), false],
  ];
  for (const [name, p, want] of cases) assert.equal(needsEvents(p), want, name);
});
