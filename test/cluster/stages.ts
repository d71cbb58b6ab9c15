// The posture-specific kwok pieces: the pod-annotation contract between the supervisor's "pod
// script binder" and our own completion Stage, and the KwokConfiguration. kwok's stock stages
// (node-initialize, pod-ready, pod-delete) are read from the Go module cache at run time; the
// stock pod-complete stage is deliberately NOT loaded: ours replaces it.
import { stringify } from 'yaml';

/** Annotations the binder writes on every Job pod as soon as it is created. */
export const ANN_EXIT_CODE = 'posture.test/exit-code';
/** "true": the pod stays Running until deleted (concurrency-cap tests). */
export const ANN_HOLD = 'posture.test/hold';
/** How long the pod is Running before it terminates, as a Go duration ("0s", "1500ms"). */
export const ANN_RUN_FOR = 'posture.test/run-for';
/** The script key the binder used (namespace/jobName), for diagnosis. */
export const ANN_SCRIPT = 'posture.test/script';
/** A pod (not a Job's) can name its script key itself with this annotation. */
export const ANN_SCRIPT_KEY = 'posture.test/script-key';

export const KWOK_NODE_NAME = 'kwok-node-0';

/** Our completion stage: fires only once the binder has annotated the pod and hold is "false". */
export function completionStage(): Record<string, unknown> {
  const template = [
    '{{ $now := Now }}',
    `{{ $code := index .metadata.annotations "${ANN_EXIT_CODE}" }}`,
    'containerStatuses:',
    '{{ range $i, $c := .spec.containers }}',
    '- name: {{ $c.name | Quote }}',
    '  image: {{ $c.image | Quote }}',
    '  ready: false',
    '  started: false',
    '  restartCount: 0',
    '  state:',
    '    terminated:',
    '      exitCode: {{ $code }}',
    '      reason: {{ if eq $code "0" }}Completed{{ else }}Error{{ end }}',
    '      startedAt: {{ $now | Quote }}',
    '      finishedAt: {{ $now | Quote }}',
    '{{ end }}',
    'phase: {{ if eq $code "0" }}Succeeded{{ else }}Failed{{ end }}',
    '',
  ].join('\n');
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name: 'posture-pod-terminate' },
    spec: {
      resourceRef: { apiGroup: 'v1', kind: 'Pod' },
      selector: {
        matchAnnotations: { [ANN_HOLD]: 'false' },
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Running'] },
          { key: `.metadata.annotations["${ANN_EXIT_CODE}"]`, operator: 'Exists' },
        ],
      },
      delay: {
        durationMilliseconds: 0,
        durationFrom: { expressionFrom: `.metadata.annotations["${ANN_RUN_FOR}"]` },
      },
      next: { statusTemplate: template },
    },
  };
}

export function kwokConfigYaml(o: { nodePort: number; enableCRDs: string[] }): string {
  const docs: Record<string, unknown>[] = [
    {
      apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
      kind: 'KwokConfiguration',
      options: {
        manageNodesWithAnnotationSelector: 'kwok.x-k8s.io/node=fake',
        nodeIP: '127.0.0.1',
        nodePort: o.nodePort,
        serverAddress: `127.0.0.1:${o.nodePort}`,
        cidr: '10.244.0.0/16',
        enableCRDs: o.enableCRDs,
        // kwok leaves these 0 (and refuses to start) when a KwokConfiguration is given via --config
        podPlayStageParallelism: 16,
        nodePlayStageParallelism: 1,
        nodeLeaseParallelism: 1,
        podsOnNodeSyncParallelism: 1,
        enableProfilingHandler: false,
        enableContentionProfiling: false,
        enableDebuggingHandlers: true, // serves /containerLogs (pods/log)
        enablePodsOnNodeSyncListPager: true,
        enablePodsOnNodeSyncStreamWatch: false,
        manageAllNodes: false,
      },
    },
    completionStage(),
  ];
  return docs.map((d) => stringify(d)).join('---\n');
}
