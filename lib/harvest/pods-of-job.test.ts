// The harvester reads only the pods the Job controls (a pure filter over their ownerReferences).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podsOfJob } from './harvest.ts';

test("podsOfJob keeps only pods whose controller ownerReference is the Job's UID", () => {
  const pod = (name: string, refs: any[]) => ({ metadata: { name, ownerReferences: refs } });
  const pods = [
    pod('real', [{ kind: 'Job', uid: 'u1', controller: true, name: 'j', apiVersion: 'batch/v1' }]),
    pod('not-controller', [{ kind: 'Job', uid: 'u1', controller: false, name: 'j', apiVersion: 'batch/v1' }]),
    pod('other-job', [{ kind: 'Job', uid: 'u2', controller: true, name: 'j', apiVersion: 'batch/v1' }]),
    pod('bare', []),
  ];
  assert.deepEqual(
    podsOfJob(pods as any, 'u1').map((p) => p.metadata!.name),
    ['real'],
  );
  assert.deepEqual(podsOfJob(pods as any, ''), []);
});
