// job-guard: only posture's scheduler may create or change Jobs (or CronJobs whose Jobs would)
// carrying posture's managed-by label, so nobody can plant a Job whose log becomes a forged score;
// and only the Job controller may create the pods the harvester reads (posture's label, or a Job's
// name label in posture's namespace), so nobody can plant a bare Pod that looks like a Job's.
import { type AdmissionRequest, Allowed, celString, Denied, defineWebhook, type KubeObject } from '../../../lib/admission/index.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import { CONTROLLER_MANAGER, controller, controllers, listed } from '../identities.ts';
import { celLabels, celMessage, celMetaIs, hole, jobTemplateOf, labelsOf, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../labels.ts';

interface Settings {
  scheduler: string;
  namespace: string;
}

/** The labels the Job controller puts on a Job's pods (the harvester lists pods by the first). */
export const JOB_NAME_LABELS = ['batch.kubernetes.io/job-name', 'job-name'] as const;
/** Controllers that create and finish posture's Jobs and their pods. */
export const EXEMPT_CONTROLLERS = ['job-controller', 'cronjob-controller', 'generic-garbage-collector'] as const;

export function forgedMessage(kind: string, scheduler: string): string {
  return `${kind}s labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} are created and changed only by posture's scheduler (${scheduler}): their logs become Scorecard scores`;
}

export function forgedPodMessage(namespace: string): string {
  return `Pods labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}, or carrying a Job's name label (${JOB_NAME_LABELS.join(', ')}) in posture's namespace ${namespace}, are created and changed only by the Job controller (${controller('job-controller')}): the harvester reads their logs as Scorecard scores`;
}

function carriesLabel(request: AdmissionRequest): boolean {
  for (const o of [request.object, request.oldObject]) {
    if (labelsOf(o)[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return true;
    if (labelsOf(jobTemplateOf(o))[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return true;
  }
  return false;
}

/** A pod the harvester could take for one of posture's Job pods. */
function looksLikePosturePod(o: KubeObject | null, namespace: string, requestNamespace: string | undefined): boolean {
  const labels = labelsOf(o);
  if (labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return true;
  return requestNamespace === namespace && JOB_NAME_LABELS.some((k) => k in labels);
}

/** The labels job-guard cares about, as one comparable string. */
function guardedLabels(o: KubeObject | null): string {
  const labels = labelsOf(o);
  return JSON.stringify([MANAGED_BY_LABEL, ...JOB_NAME_LABELS].map((k) => labels[k] ?? null));
}

// The same tests in CEL, so the API server only calls for posture-labelled objects: the Job's own
// labels, a CronJob's Job template labels (a CronJob would let the controller create the Job), or
// a pod's Job name label (narrowed to posture's namespace in authorize: the namespace is configuration).
const labelled = (root: string) =>
  `${celMetaIs(root, [], 'labels', MANAGED_BY_LABEL, MANAGED_BY_VALUE)} || ${celMetaIs(root, ['spec', 'jobTemplate'], 'labels', MANAGED_BY_LABEL, MANAGED_BY_VALUE)}` +
  JOB_NAME_LABELS.map((k) => ` || (request.resource.resource == 'pods' && ${celMetaIs(root, [], 'labels', k)})`).join('');

export default defineWebhook<AdmissionServices, Settings>({
  name: 'job-guard',
  path: '/job-guard',
  // The status subresources too: their strategies keep the request's labels, so a status write
  // could put posture's label on a Job (or a pod) someone else made.
  rules: [
    {
      operations: ['CREATE', 'UPDATE'],
      apiGroups: ['batch'],
      apiVersions: ['v1'],
      resources: ['jobs', 'cronjobs', 'jobs/status', 'cronjobs/status'],
      scope: 'Namespaced',
    },
    { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'pods/status'], scope: 'Namespaced' },
  ],
  matchConditions: [
    { name: 'carries-posture-job-labels', expression: `(object != null && (${labelled('object')})) || (oldObject != null && (${labelled('oldObject')}))` },
    // The kubelet writes every Job pod's status: only a status write that changes labels is sent.
    // (has() first: the API server's request has no subResource key at all for the object itself.)
    {
      name: 'pod-status-changes-labels',
      expression:
        "request.resource.resource != 'pods' || !has(request.subResource) || request.subResource != 'status' || object == null || oldObject == null || " +
        'has(object.metadata.labels) != has(oldObject.metadata.labels) || (has(object.metadata.labels) && object.metadata.labels != oldObject.metadata.labels)',
    },
  ],
  failurePolicy: 'Fail',
  timeoutSeconds: 5,
  enforcement: 'deny',
  exempt: [{ serviceAccountFrom: 'schedulerServiceAccount' }, ...controllers(EXEMPT_CONTROLLERS)],
  optOut: ['own-namespace'],
  doc: {
    summary:
      "Only posture's scheduler may create or change Jobs labelled app.kubernetes.io/managed-by=posture, and only the Job controller the pods that look like theirs.",
    protects:
      'Jobs carrying the label `app.kubernetes.io/managed-by: posture` (on the new or the stored object, so removing it counts), and CronJobs whose Job template carries it ' +
      '(the CronJob controller would create the Job for them): create and update, their `status` subresources included (a status write could otherwise add the label), in every namespace but kube-system and kube-node-lease. ' +
      `Pods carrying that label anywhere, or a Job's name label (${JOB_NAME_LABELS.map((k) => `\`${k}\``).join(', ')}) in posture's namespace: the harvester lists a Job's pods by that label, so a bare Pod carrying it could be harvested. ` +
      "Creating or updating such a pod is refused; a pod's `status` may be written (the kubelet does) as long as its labels stay as they are (a match condition sends only status writes that change labels). A forged Job's or pod's log would be harvested as a Scorecard score.",
    exempt:
      "Only the scheduler's service account, `system:serviceaccount:<namespace>:<schedulerServiceAccount>` (default `system:serviceaccount:posture:posture-scheduler`), " +
      `plus the control plane by name: \`system:serviceaccount:kube-system:\` followed by ${listed(EXEMPT_CONTROLLERS)} (the Job controller creates the pods and adds its tracking finalizer), and \`${CONTROLLER_MANAGER}\`. ` +
      'Administrators are not exempt: nobody else should author a score. Other service accounts of kube-system are judged. A match condition skips the exempt identities at the API server.',
    failurePolicy:
      'Fail: an unguarded moment is enough to plant a forged Job. It costs nothing legitimate: the scheduler and the Job controller are skipped by a match condition, so they never wait on the webhook, ' +
      'and only posture-labelled Jobs, CronJobs and pods are sent at all.',
    timeout: '5 s: the decision is in memory; long enough for a restarting replica, short enough for kubectl.',
    denials: [
      forgedMessage('Job', 'system:serviceaccount:<namespace>:<schedulerServiceAccount>'),
      forgedMessage('CronJob', 'system:serviceaccount:<namespace>:<schedulerServiceAccount>'),
      forgedPodMessage('<namespace>'),
    ],
    optOuts: {
      'own-namespace':
        "posture's Jobs run in posture's own namespace: that is where forging one matters most. Only labelled Jobs and pods are sent, so the webhook's own pods are never judged.",
    },
    settings: ['schedulerServiceAccount', 'namespace'],
  },
  prepare: (config) => ({ scheduler: `system:serviceaccount:${config.namespace}:${config.schedulerServiceAccount}`, namespace: config.namespace }),
  // The same decision in CEL, the scheduler's identity and posture's namespace inlined.
  cel: (settings) => {
    const managed = (root: 'object' | 'oldObject') => `(${root} != null && ${celMetaIs(root, [], 'labels', MANAGED_BY_LABEL, MANAGED_BY_VALUE)})`;
    const inTemplate = (root: 'object' | 'oldObject') =>
      `(${root} != null && ${celMetaIs(root, ['spec', 'jobTemplate'], 'labels', MANAGED_BY_LABEL, MANAGED_BY_VALUE)})`;
    const podLike = (root: 'object' | 'oldObject') =>
      `(${managed(root)} || (variables.inPostureNamespace && ${root} != null && (${JOB_NAME_LABELS.map((k) => `${celString(k)} in ${celLabels(root)}`).join(' || ')})))`;
    const guarded = (root: 'object' | 'oldObject') =>
      `[${[MANAGED_BY_LABEL, ...JOB_NAME_LABELS].map((k) => `${celLabels(root)}[?${celString(k)}]`).join(', ')}]`;
    return {
      variables: [
        { name: 'sub', expression: "has(request.subResource) ? request.subResource : ''" },
        { name: 'isPod', expression: "request.resource.group == '' && request.resource.resource == 'pods'" },
        { name: 'inPostureNamespace', expression: `has(request.namespace) && request.namespace == ${celString(settings.namespace)}` },
      ],
      validations: [
        {
          // Pods: posture's, unless a status write that keeps the guarded labels as they were.
          expression:
            `!variables.isPod || (variables.sub != '' && variables.sub != 'status') || !(${podLike('object')} || ${podLike('oldObject')}) || ` +
            `(variables.sub == 'status' && ${guarded('object')} == ${guarded('oldObject')})`,
          messageExpression: celString(forgedPodMessage(settings.namespace)),
        },
        {
          expression: `variables.isPod || (variables.sub != '' && variables.sub != 'status') || !(${managed('object')} || ${managed('oldObject')} || ${inTemplate('object')} || ${inTemplate('oldObject')})`,
          messageExpression: celMessage(forgedMessage(hole('kind'), settings.scheduler), {
            kind: "has(request.kind.kind) && request.kind.kind != '' ? request.kind.kind : 'Job'",
          }),
        },
      ],
    };
  },
  authorize(request, { settings }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return Allowed();
    const isPod = request.resource.group === '' && request.resource.resource === 'pods';
    if (isPod) {
      const posture = [request.object, request.oldObject].some((o) => looksLikePosturePod(o, settings.namespace, request.namespace));
      if (!posture) return Allowed();
      if (request.subResource === 'status' && guardedLabels(request.object) === guardedLabels(request.oldObject)) return Allowed();
      if (request.subResource && request.subResource !== 'status') return Allowed('subresources other than status are not judged');
      return Denied(forgedPodMessage(settings.namespace));
    }
    if (request.subResource && request.subResource !== 'status') return Allowed('subresources other than status are not judged');
    if (!carriesLabel(request)) return Allowed();
    return Denied(forgedMessage(request.kind.kind || 'Job', settings.scheduler));
  },
});
