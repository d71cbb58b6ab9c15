// Job lifecycle on the local control plane: scheduled onto the kwok node, Running, then Complete
// or Failed with the exit code the test chose; pod logs come back byte for byte.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { sleep } from './config.ts';
import { type ControlPlane, getSharedControlPlane, jobPods, KWOK_NODE_NAME, waitForJobFinished } from './harness.ts';

let cp: ControlPlane;
let ns: string;
let batch: k8s.BatchV1Api;
let core: k8s.CoreV1Api;

before(async () => {
  cp = await getSharedControlPlane();
  batch = cp.kc.makeApiClient(k8s.BatchV1Api);
  core = cp.kc.makeApiClient(k8s.CoreV1Api);
  ns = await cp.createNamespace('jobs');
});

after(async () => {
  await core?.deleteNamespace({ name: ns }).catch(() => {});
  await cp?.stop();
});

function job(name: string, o: { backoffLimit?: number; containers?: string[]; parallelism?: number } = {}): k8s.V1Job {
  return {
    metadata: { name, labels: { 'app.kubernetes.io/name': 'posture-test' } },
    spec: {
      backoffLimit: o.backoffLimit ?? 0,
      parallelism: o.parallelism,
      completions: o.parallelism,
      ttlSecondsAfterFinished: 300,
      template: {
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          containers: (o.containers ?? ['scorecard']).map((c) => ({ name: c, image: 'gcr.io/openssf/scorecard:stable', args: ['--format=json'] })),
        },
      },
    },
  };
}

async function podLog(pod: k8s.V1Pod, container?: string): Promise<string> {
  return core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, container });
}

test('a Job is scheduled to the kwok node, completes, and its pod log is exactly what the test set', async () => {
  const content = '{"repo":{"name":"github.com/ossf/scorecard"},"score":7.5}\nline with  two spaces and a tab\t\n\nünïcødé ✓\nlast line without newline';
  cp.setPodLog({ namespace: ns, jobName: 'ok', content, exitCode: 0 });
  await batch.createNamespacedJob({ namespace: ns, body: job('ok') });
  const { condition, job: done } = await waitForJobFinished(cp.kc, ns, 'ok');
  assert.equal(condition, 'Complete');
  assert.equal(done.status?.succeeded, 1);
  const [pod] = await jobPods(cp.kc, ns, 'ok');
  assert.equal(pod.spec?.nodeName, KWOK_NODE_NAME, 'bound by kube-scheduler to the kwok node');
  assert.equal(pod.status?.phase, 'Succeeded');
  assert.equal(pod.status?.containerStatuses?.[0].state?.terminated?.exitCode, 0);
  assert.equal(await podLog(pod), content);
});

test('content ending in a newline, empty content and interleaved stderr round-trip', async () => {
  cp.setPodLog({ namespace: ns, jobName: 'nl', content: 'a\nb\n' });
  cp.setPodLog({ namespace: ns, jobName: 'empty', content: '' });
  cp.setPodLog({
    namespace: ns,
    jobName: 'mixed',
    content: [
      { stream: 'stderr', text: 'level=warn msg="rate limited"\n' },
      { stream: 'stdout', text: '{"score":' },
      { stream: 'stdout', text: '3}\n' },
      { stream: 'stderr', text: 'done\n' },
    ],
  });
  for (const n of ['nl', 'empty', 'mixed']) await batch.createNamespacedJob({ namespace: ns, body: job(n) });
  const expected: Record<string, string> = { nl: 'a\nb\n', empty: '', mixed: 'level=warn msg="rate limited"\n{"score":3}\ndone\n' };
  for (const n of ['nl', 'empty', 'mixed']) {
    assert.equal((await waitForJobFinished(cp.kc, ns, n)).condition, 'Complete');
    const [pod] = await jobPods(cp.kc, ns, n);
    assert.equal(await podLog(pod), expected[n], `log of ${n}`);
  }
  const [pod] = await jobPods(cp.kc, ns, 'mixed');
  assert.equal(await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: ns, tailLines: 1 }), 'done\n', 'tailLines is honoured');
});

test('a failing Job ends Failed and the exit code is in the pod status', async () => {
  cp.setPodLog({ namespace: ns, jobName: 'bad', content: 'Error: GITHUB_AUTH_TOKEN is not set\n', exitCode: 42 });
  await batch.createNamespacedJob({ namespace: ns, body: job('bad', { backoffLimit: 0 }) });
  const { condition, job: done } = await waitForJobFinished(cp.kc, ns, 'bad');
  assert.equal(condition, 'Failed');
  assert.equal(done.status?.failed, 1);
  const [pod] = await jobPods(cp.kc, ns, 'bad');
  assert.equal(pod.status?.phase, 'Failed');
  const term = pod.status?.containerStatuses?.[0].state?.terminated;
  assert.equal(term?.exitCode, 42);
  assert.equal(term?.reason, 'Error');
  assert.equal(await podLog(pod), 'Error: GITHUB_AUTH_TOKEN is not set\n');
});

test('exit codes per attempt: fail once, then succeed (backoffLimit 1)', async () => {
  cp.setPodLog({ namespace: ns, jobName: 'retry', content: 'ok\n', exitCode: [1, 0] });
  await batch.createNamespacedJob({ namespace: ns, body: job('retry', { backoffLimit: 1 }) });
  const { condition, job: done } = await waitForJobFinished(cp.kc, ns, 'retry', 60000);
  assert.equal(condition, 'Complete');
  assert.equal(done.status?.failed, 1);
  assert.equal(done.status?.succeeded, 1);
  const codes = (await jobPods(cp.kc, ns, 'retry')).map((p) => p.status?.containerStatuses?.[0].state?.terminated?.exitCode);
  assert.deepEqual(codes, [1, 0]);
});

test('per-container logs', async () => {
  cp.setPodLog({ namespace: ns, jobName: 'two', container: 'scorecard', content: 'main\n' });
  cp.setPodLog({ namespace: ns, jobName: 'two', container: 'sidecar', content: 'side\n' });
  await batch.createNamespacedJob({ namespace: ns, body: job('two', { containers: ['scorecard', 'sidecar'] }) });
  assert.equal((await waitForJobFinished(cp.kc, ns, 'two')).condition, 'Complete');
  const [pod] = await jobPods(cp.kc, ns, 'two');
  assert.equal(await podLog(pod, 'scorecard'), 'main\n');
  assert.equal(await podLog(pod, 'sidecar'), 'side\n');
});

test('hold keeps pods Running (for concurrency caps); runForMs delays completion', async () => {
  cp.setPodLog({ namespace: ns, jobName: 'held', hold: true, content: 'still running\n' });
  cp.setPodLog({ namespace: ns, jobName: 'slow', runForMs: 1500 });
  const t0 = Date.now();
  await batch.createNamespacedJob({ namespace: ns, body: job('held', { parallelism: 2 }) });
  await batch.createNamespacedJob({ namespace: ns, body: job('slow') });
  assert.equal((await waitForJobFinished(cp.kc, ns, 'slow')).condition, 'Complete');
  assert.ok(Date.now() - t0 >= 1500, `slow finished after ${Date.now() - t0} ms`);
  const deadline = Date.now() + 15000;
  let pods: k8s.V1Pod[] = [];
  while (Date.now() < deadline) {
    pods = await jobPods(cp.kc, ns, 'held');
    if (pods.length === 2 && pods.every((p) => p.status?.phase === 'Running')) break;
    await sleep(100);
  }
  assert.deepEqual(
    pods.map((p) => p.status?.phase),
    ['Running', 'Running'],
  );
  await sleep(1000);
  const held = await batch.readNamespacedJob({ name: 'held', namespace: ns });
  assert.equal(held.status?.active, 2);
  assert.equal(held.status?.conditions?.length ?? 0, 0, 'no Complete/Failed condition while held');
  assert.equal(await podLog(pods[0]), 'still running\n');
});

test('many Jobs complete "instantly" (default script)', async () => {
  const n = 20;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: n }, (_, i) => batch.createNamespacedJob({ namespace: ns, body: job(`bulk-${i}`) })));
  for (let i = 0; i < n; i++) assert.equal((await waitForJobFinished(cp.kc, ns, `bulk-${i}`, 60000)).condition, 'Complete');
  const ms = Date.now() - t0;
  console.log(`# ${n} Jobs created and Complete in ${ms} ms`);
});
