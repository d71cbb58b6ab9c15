// job-guard: only posture's scheduler may create or change Jobs (or CronJobs whose Jobs would)
// carrying posture's managed-by label, so nobody can plant a Job whose log becomes a forged score.
import { Allowed, Denied, defineWebhook, type AdmissionRequest } from '../../../lib/admission/index.ts';
import { celMetaIs, jobTemplateOf, labelsOf, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../labels.ts';
import type { AdmissionServices } from '../services.ts';

interface Settings {
  scheduler: string;
}

export function forgedMessage(kind: string, scheduler: string): string {
  return `${kind}s labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} are created and changed only by posture's scheduler (${scheduler}): their logs become Scorecard scores`;
}

function carriesLabel(request: AdmissionRequest): boolean {
  for (const o of [request.object, request.oldObject]) {
    if (labelsOf(o)[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return true;
    if (labelsOf(jobTemplateOf(o))[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return true;
  }
  return false;
}

// The same test in CEL, so the API server only calls for posture-labelled objects: the Job's own
// labels, or a CronJob's Job template labels (a CronJob would let the controller create the Job).
const labelled = (root: string) =>
  `${celMetaIs(root, [], 'labels', MANAGED_BY_LABEL, MANAGED_BY_VALUE)} || ${celMetaIs(root, ['spec', 'jobTemplate'], 'labels', MANAGED_BY_LABEL, MANAGED_BY_VALUE)}`;

export default defineWebhook<AdmissionServices, Settings>({
  name: 'job-guard',
  path: '/job-guard',
  rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' }],
  matchConditions: [{ name: 'carries-managed-by-label', expression: `(object != null && (${labelled('object')})) || (oldObject != null && (${labelled('oldObject')}))` }],
  failurePolicy: 'Fail',
  timeoutSeconds: 5,
  enforcement: 'deny',
  exempt: [{ serviceAccountFrom: 'schedulerServiceAccount' }, { group: 'system:serviceaccounts:kube-system' }, { user: 'system:kube-controller-manager' }],
  optOut: ['own-namespace'],
  doc: {
    summary: "Only posture's scheduler may create or change Jobs labelled app.kubernetes.io/managed-by=posture.",
    protects:
      'Jobs carrying the label `app.kubernetes.io/managed-by: posture` (on the new or the stored object, so removing it counts), and CronJobs whose Job template carries it ' +
      '(the CronJob controller would create the Job for them): create and update, in every namespace but kube-system and kube-node-lease. ' +
      "A forged Job's log would be harvested as a Scorecard score.",
    exempt:
      "Only the scheduler's service account, `system:serviceaccount:<namespace>:<schedulerServiceAccount>` (default `system:serviceaccount:posture:posture-scheduler`), " +
      'plus the control plane: kube-system\'s service accounts (group `system:serviceaccounts:kube-system`: the Job controller adds its tracking finalizer) and `system:kube-controller-manager`. ' +
      'Administrators are not exempt: nobody else should author a score. A match condition skips the exempt identities at the API server.',
    failurePolicy:
      'Fail: an unguarded moment is enough to plant a forged Job. It costs nothing legitimate: the scheduler is skipped by a match condition, so it never waits on the webhook, ' +
      'and only posture-labelled Jobs and CronJobs are sent at all.',
    timeout: '5 s: the decision is in memory; long enough for a restarting replica, short enough for kubectl.',
    denials: [forgedMessage('Job', 'system:serviceaccount:<namespace>:<schedulerServiceAccount>'), forgedMessage('CronJob', 'system:serviceaccount:<namespace>:<schedulerServiceAccount>')],
    optOuts: { 'own-namespace': "posture's Jobs run in posture's own namespace: that is where forging one matters most. Only labelled Jobs are sent, so the webhook's own pods are never judged." },
    settings: ['schedulerServiceAccount', 'namespace'],
  },
  prepare: (config) => ({ scheduler: `system:serviceaccount:${config.namespace}:${config.schedulerServiceAccount}` }),
  authorize(request, { settings }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return Allowed();
    if (request.subResource) return Allowed('subresources are not judged');
    if (!carriesLabel(request)) return Allowed();
    return Denied(forgedMessage(request.kind.kind || 'Job', settings.scheduler));
  },
});
