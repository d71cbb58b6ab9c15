// The table cases of job-guard: the unit test sends each through the webhook's dispatcher, and
// test/e2e/admission-vap.test.ts sends each to a real API server with only the generated
// ValidatingAdmissionPolicy installed; both must give the verdict written here.
import { anonymous, object, type ReviewSpec, serviceAccount, user } from '../../../lib/admission/testing.ts';
import type { Config } from '../../../lib/config/index.ts';
import { forgedMessage, forgedPodMessage } from '../webhooks/job-guard.ts';

const L = { 'app.kubernetes.io/managed-by': 'posture' };
const job = (labels: Record<string, string> = L, extra: Record<string, unknown> = {}) => ({
  ...object('Job', 'scorecard-abc', { namespace: 'posture', labels }),
  ...extra,
});
const cron = (templateLabels: Record<string, string>) =>
  object('CronJob', 'nightly', { namespace: 'team', spec: { schedule: '@daily', jobTemplate: { metadata: { labels: templateLabels }, spec: {} } } });
const scheduler = serviceAccount('posture', 'posture-scheduler');
const jane = user('jane', 'devs');
const message = forgedMessage('Job', 'system:serviceaccount:posture:posture-scheduler');
const podMessage = forgedPodMessage('posture');
const JOB_POD = { 'batch.kubernetes.io/job-name': 'scorecard-abc', 'job-name': 'scorecard-abc', 'batch.kubernetes.io/controller-uid': 'u1' };
const pod = (labels: Record<string, string>, namespace = 'posture', extra: Record<string, unknown> = {}) => ({
  ...object('Pod', 'scorecard-abc-x', { namespace, labels, spec: { containers: [{ name: 'scorecard', image: 'evil:1' }] } }),
  ...extra,
});
const jobController = serviceAccount('kube-system', 'job-controller');
const kubelet = user('system:node:kwok-node-0', 'system:nodes');

export const cases: Array<{ name: string; review: ReviewSpec; allowed: boolean; message?: string; config?: Partial<Config> }> = [
  { name: 'user CREATEs a posture Job', review: { operation: 'CREATE', object: job(), caller: jane }, allowed: false, message },
  { name: 'scheduler CREATEs a posture Job', review: { operation: 'CREATE', object: job(), caller: scheduler }, allowed: true },
  { name: 'scheduler UPDATEs a posture Job', review: { operation: 'UPDATE', object: job(), oldObject: job(), caller: scheduler }, allowed: true },
  {
    name: 'user UPDATEs a posture Job',
    review: { operation: 'UPDATE', object: job(L, { spec: { parallelism: 2 } }), oldObject: job(), caller: jane },
    allowed: false,
    message,
  },
  { name: 'user removes the label (old object carries it)', review: { operation: 'UPDATE', object: job({}), oldObject: job(), caller: jane }, allowed: false },
  { name: 'user adds the label to a Job', review: { operation: 'UPDATE', object: job(), oldObject: job({}), caller: jane }, allowed: false },
  { name: 'dryRun CREATE is judged the same', review: { operation: 'CREATE', object: job(), caller: jane, dryRun: true }, allowed: false },
  {
    name: "another service account in posture's namespace",
    review: { operation: 'CREATE', object: job(), caller: serviceAccount('posture', 'posture-harvester') },
    allowed: false,
  },
  { name: 'cluster admin is not exempt', review: { operation: 'CREATE', object: job(), caller: user('root', 'system:masters') }, allowed: false },
  { name: 'anonymous', review: { operation: 'CREATE', object: job(), caller: anonymous }, allowed: false },
  {
    name: 'Job controller adds its finalizer',
    review: { operation: 'UPDATE', object: job(), oldObject: job(), caller: serviceAccount('kube-system', 'job-controller') },
    allowed: true,
  },
  {
    name: 'kube-controller-manager',
    review: { operation: 'UPDATE', object: job(), oldObject: job(), caller: user('system:kube-controller-manager') },
    allowed: true,
  },
  {
    name: 'CronJob whose Jobs would carry the label',
    review: { operation: 'CREATE', object: cron(L), caller: jane },
    allowed: false,
    message: forgedMessage('CronJob', 'system:serviceaccount:posture:posture-scheduler'),
  },
  { name: 'CronJob without the label', review: { operation: 'CREATE', object: cron({ app: 'x' }), caller: jane }, allowed: true },
  { name: 'Job without the label', review: { operation: 'CREATE', object: job({ app: 'x' }), caller: jane }, allowed: true },
  { name: 'another managed-by value', review: { operation: 'CREATE', object: job({ 'app.kubernetes.io/managed-by': 'helm' }), caller: jane }, allowed: true },
  { name: 'DELETE is not judged', review: { operation: 'DELETE', oldObject: job(), caller: jane }, allowed: true },
  // Status subresources keep the request's labels: adding posture's label through one is forging.
  {
    name: 'jobs/status adding the label to a Job',
    review: { operation: 'UPDATE', object: job(), oldObject: job({}), subResource: 'status', caller: jane },
    allowed: false,
    message,
  },
  {
    name: "jobs/status on posture's Job by someone else",
    review: { operation: 'UPDATE', object: job(L, { status: { succeeded: 1 } }), oldObject: job(), subResource: 'status', caller: jane },
    allowed: false,
  },
  {
    name: 'jobs/status of an unlabelled Job',
    review: { operation: 'UPDATE', object: job({}, { status: { succeeded: 1 } }), oldObject: job({}), subResource: 'status', caller: jane },
    allowed: true,
  },
  // Bare pods that look like posture's Job pods (the harvester lists pods by job-name).
  {
    name: "bare Pod with the Job name label in posture's namespace",
    review: { operation: 'CREATE', object: pod({ 'batch.kubernetes.io/job-name': 'scorecard-abc' }), caller: jane },
    allowed: false,
    message: podMessage,
  },
  {
    name: "bare Pod with the legacy job-name label in posture's namespace",
    review: { operation: 'CREATE', object: pod({ 'job-name': 'scorecard-abc' }), caller: jane },
    allowed: false,
    message: podMessage,
  },
  {
    name: "bare Pod with posture's managed-by label, any namespace",
    review: { operation: 'CREATE', object: pod(L, 'team'), caller: jane },
    allowed: false,
    message: podMessage,
  },
  {
    name: 'bare Pod with every label a Job pod has',
    review: { operation: 'CREATE', object: pod({ ...L, ...JOB_POD }), caller: user('root', 'system:masters') },
    allowed: false,
    message: podMessage,
  },
  {
    name: "the Job controller creates the Job's pod",
    review: { operation: 'CREATE', object: pod({ ...L, ...JOB_POD }), caller: jobController },
    allowed: true,
  },
  {
    name: 'a Job pod elsewhere, by its own Job controller',
    review: { operation: 'CREATE', object: pod(JOB_POD, 'team'), caller: jobController },
    allowed: true,
  },
  {
    name: "a bare Pod with a job-name label outside posture's namespace",
    review: { operation: 'CREATE', object: pod({ 'batch.kubernetes.io/job-name': 'x' }, 'team'), caller: jane },
    allowed: true,
  },
  {
    name: 'relabelling a pod into a Job pod',
    review: { operation: 'UPDATE', object: pod({ 'batch.kubernetes.io/job-name': 'scorecard-abc' }), oldObject: pod({}), caller: jane },
    allowed: false,
    message: podMessage,
  },
  {
    name: 'changing the image of a Job pod',
    review: {
      operation: 'UPDATE',
      object: pod({ ...L, ...JOB_POD }),
      oldObject: pod({ ...L, ...JOB_POD }, 'posture', { spec: { containers: [{ name: 'scorecard', image: 'scorecard:5' }] } }),
      caller: jane,
    },
    allowed: false,
    message: podMessage,
  },
  {
    name: 'pods/status adding the Job name label',
    review: { operation: 'UPDATE', object: pod({ 'batch.kubernetes.io/job-name': 'scorecard-abc' }), oldObject: pod({}), subResource: 'status', caller: jane },
    allowed: false,
    message: podMessage,
  },
  {
    name: "the kubelet writes a Job pod's status, labels unchanged",
    review: {
      operation: 'UPDATE',
      object: pod({ ...L, ...JOB_POD }, 'posture', { status: { phase: 'Succeeded' } }),
      oldObject: pod({ ...L, ...JOB_POD }),
      subResource: 'status',
      caller: kubelet,
    },
    allowed: true,
  },
  { name: 'an unrelated pod', review: { operation: 'CREATE', object: pod({ app: 'web' }), caller: jane }, allowed: true },
  {
    name: 'an add-on service account in kube-system is judged',
    review: { operation: 'CREATE', object: job(), caller: serviceAccount('kube-system', 'some-chart') },
    allowed: false,
  },
  {
    name: 'configured scheduler account',
    review: { operation: 'CREATE', object: job(), caller: serviceAccount('sec', 'sched') },
    allowed: true,
    config: { namespace: 'sec', schedulerServiceAccount: 'sched' },
  },
  {
    name: 'default account once another is configured',
    review: { operation: 'CREATE', object: job(), caller: scheduler },
    allowed: false,
    config: { namespace: 'sec', schedulerServiceAccount: 'sched' },
  },
];
