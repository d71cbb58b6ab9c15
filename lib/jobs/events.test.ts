import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type KubeEvent, podNamesOfJobEvents, startFailureOf } from './events.ts';

const pod = (reason: string, message: string, at: string, type = 'Warning'): KubeEvent => ({
  type,
  reason,
  message,
  involvedObject: { kind: 'Pod', name: 'j-abcde' },
  lastTimestamp: at,
});

test("the Job's pods are named by its SuccessfulCreate Events, and by nothing else", () => {
  const events: KubeEvent[] = [
    { reason: 'SuccessfulCreate', message: 'Created pod: posture-abc-x7k2p', involvedObject: { kind: 'Job', name: 'posture-abc' } },
    { reason: 'SuccessfulDelete', message: 'Deleted pod: posture-abc-x7k2p', involvedObject: { kind: 'Job', name: 'posture-abc' } },
    { reason: 'SuccessfulCreate', message: 'Created pod: posture-abc-x7k2p', involvedObject: { kind: 'Job', name: 'posture-abc' } },
    { reason: 'SuccessfulCreate', message: 'Created pod: ../../etc', involvedObject: { kind: 'Job', name: 'posture-abc' } },
    { reason: 'SuccessfulCreate', message: 'Created pod: other', involvedObject: { kind: 'ReplicaSet', name: 'x' } },
    { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', involvedObject: { kind: 'Job', name: 'posture-abc' } },
  ];
  assert.deepEqual(podNamesOfJobEvents(events), ['posture-abc-x7k2p']);
});

test("why a pod never started, from the kubelet's and the scheduler's Events (real messages)", () => {
  const cases: Array<[string, KubeEvent[], { kind: string; detail: RegExp } | null]> = [
    [
      'missing token Secret (CreateContainerConfigError)',
      [
        pod('Scheduled', 'Successfully assigned posture/j-abcde to node-1', '2026-12-07T10:00:00Z', 'Normal'),
        pod('Failed', 'Error: secret "posture-github" not found', '2026-12-07T10:00:01Z'),
      ],
      { kind: 'config', detail: /^Failed: Error: secret "posture-github" not found$/ },
    ],
    [
      'image that cannot be pulled: the pull error wins over the back-off',
      [
        pod(
          'Failed',
          'Failed to pull image "ghcr.io/ossf/scorecard:v9": failed to resolve reference: dial tcp: lookup ghcr.io: no such host',
          '2026-12-07T10:00:01Z',
        ),
        pod('Failed', 'Error: ErrImagePull', '2026-12-07T10:00:01Z'),
        pod('BackOff', 'Back-off pulling image "ghcr.io/ossf/scorecard:v9"', '2026-12-07T10:00:30Z', 'Normal'),
        pod('Failed', 'Error: ImagePullBackOff', '2026-12-07T10:00:30Z'),
      ],
      { kind: 'image', detail: /^Failed: Failed to pull image "ghcr\.io\/ossf\/scorecard:v9"/ },
    ],
    [
      'imagePullPolicy Never and no image',
      [
        pod('ErrImageNeverPull', 'Container image "scorecard:local" is not present with pull policy of Never', '2026-12-07T10:00:01Z'),
        pod('Failed', 'Error: ErrImageNeverPull', '2026-12-07T10:00:01Z'),
      ],
      { kind: 'image', detail: /is not present with pull policy of Never/ },
    ],
    [
      'never scheduled',
      [pod('FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.', '2026-12-07T10:00:01Z')],
      { kind: 'schedule', detail: /Insufficient cpu/ },
    ],
    [
      'a Secret volume that is missing',
      [pod('FailedMount', 'MountVolume.SetUp failed for volume "ca" : configmap "github-ca" not found', '2026-12-07T10:00:01Z')],
      { kind: 'config', detail: /configmap "github-ca" not found/ },
    ],
    [
      'a pull that failed once and then worked is no start failure',
      [pod('Failed', 'Error: ErrImagePull', '2026-12-07T10:00:01Z'), pod('Started', 'Started container scorecard', '2026-12-07T10:00:40Z', 'Normal')],
      null,
    ],
    ['no Events (expired, or never written)', [], null],
    ['only Normal Events', [pod('Pulled', 'Container image already present on machine', '2026-12-07T10:00:01Z', 'Normal')], null],
    ['a Warning that says nothing about starting', [pod('Unhealthy', 'Readiness probe failed', '2026-12-07T10:00:01Z')], null],
  ];
  for (const [name, events, want] of cases) {
    const got = startFailureOf(events);
    if (want === null) assert.equal(got, null, name);
    else {
      assert.equal(got?.kind, want.kind, name);
      assert.match(got?.detail ?? '', want.detail, name);
    }
  }
});
