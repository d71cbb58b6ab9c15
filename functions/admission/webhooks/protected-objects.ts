// protected-objects: anything labelled posture.dev/protected=true may be changed or deleted only by
// administrators. Closes the gap RBAC leaves: "these users may edit this kind, except these objects".
// It never wedges a delete that has begun: the final DELETE of a terminating object (the kubelet's,
// grace period 0) and updates that only remove finalizers from a terminating object pass.
import { type AdmissionRequest, Allowed, celString, Denied, defineWebhook, Undecided } from '../../../lib/admission/index.ts';
import type { AdmissionServices } from '../../../lib/admission/services.ts';
import {
  CONTROLLER_MANAGER,
  controller,
  controllers,
  DELETION_CONTROLLERS,
  listed,
  MAINTENANCE_CONTROLLERS,
  SCHEDULER,
  WORKLOAD_CONTROLLERS,
} from '../identities.ts';
import { celLabels, celMessage, hole, isTerminating, labelsOf, metadataChanged, onlyRemovesFinalizers, PROTECTED_LABEL } from '../labels.ts';

/**
 * ObjectMeta's fields a user can set: metadataChanged compares everything but the volatile ones,
 * and ObjectMeta's schema is fixed, so CEL can list them.
 */
const USER_METADATA = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'creationTimestamp',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
] as const;

/** CEL: what describe() says of the request's object. */
const CEL_WHAT =
  "(request.kind.kind != '' ? request.kind.kind : request.resource.resource) + ' \"' + (request.namespace != '' ? request.namespace + '/' : '') + " +
  "(request.name != '' ? request.name : oldObject != null && has(oldObject.metadata.name) ? oldObject.metadata.name : '') + '\"'";

/**
 * The garbage collector deletes an object once its owners are gone, whoever deleted them: exempt,
 * it let anyone who may delete an unlabelled owner delete the protected objects it owns. Its
 * deletes of protected objects are judged (refused: it retries with backoff, and a foreground
 * delete of the owner waits, as a dependent with blockOwnerDeletion makes it wait); its updates
 * (dropping an owner reference when the owner is deleted with orphan, its own finalizers) are not.
 */
export const GARBAGE_COLLECTOR = 'generic-garbage-collector';

/** Controllers exempt here: they finish deletes, run workloads and maintain volumes and endpoints. */
export const EXEMPT_CONTROLLERS = [
  ...DELETION_CONTROLLERS.filter((c) => c !== GARBAGE_COLLECTOR),
  ...WORKLOAD_CONTROLLERS,
  ...MAINTENANCE_CONTROLLERS,
] as const;

/** Subresources that may write an object's metadata (their strategies keep the request's labels) or change what runs. */
export const JUDGED_SUBRESOURCES = ['*/status', 'pods/ephemeralcontainers', 'namespaces/finalize'] as const;

function describe(request: AdmissionRequest): string {
  const kind = request.kind.kind || request.resource.resource;
  const name = request.name ?? request.oldObject?.metadata?.name ?? '';
  return request.namespace ? `${kind} "${request.namespace}/${name}"` : `${kind} "${name}"`;
}

export function protectedMessage(what: string, operation: 'UPDATE' | 'DELETE'): string {
  return `${what} is protected by posture (label ${PROTECTED_LABEL}=true): only cluster administrators may ${operation === 'DELETE' ? 'delete' : 'change'} it`;
}

export function cascadeMessage(what: string): string {
  return `${what} is protected by posture (label ${PROTECTED_LABEL}=true): the garbage collector may not delete it after its owner was deleted; a cluster administrator may delete it, or remove its owner reference or the label`;
}

export function unlabelMessage(what: string): string {
  return `${what} is protected by posture (label ${PROTECTED_LABEL}=true): only cluster administrators may remove the label`;
}

export function subresourceMessage(what: string, subresource: string): string {
  return `${what} is protected by posture (label ${PROTECTED_LABEL}=true): its ${subresource} may not change its metadata or what it runs, except by cluster administrators`;
}

export default defineWebhook<AdmissionServices>({
  name: 'protected-objects',
  path: '/protected-objects',
  // "*" is every resource but no subresource, so the subresources that can write labels (status:
  // a Pod's or a Namespace's status strategy keeps the request's metadata) or change what runs
  // (ephemeral containers) are listed. scale, eviction, binding and exec/attach/portforward send
  // objects without the object's labels (Scale, Eviction, Binding, *Options), so objectSelector
  // could never select them: see doc.protects for what guards those.
  rules: [{ operations: ['UPDATE', 'DELETE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*', ...JUDGED_SUBRESOURCES], scope: '*' }],
  // The API server matches objectSelector against the old object too: label removal and DELETE are covered.
  objectSelector: { matchLabels: { [PROTECTED_LABEL]: 'true' } },
  failurePolicy: 'Fail',
  timeoutSeconds: 5,
  enforcement: 'deny',
  exempt: [{ groupsFrom: 'adminGroups' }, { usersFrom: 'adminUsers' }, ...controllers(EXEMPT_CONTROLLERS), { user: SCHEDULER }],
  // The garbage collector's updates never wait on this webhook; only its deletes are sent.
  matchConditions: [
    {
      name: 'judge-only-collector-deletes',
      expression: `!(request.userInfo.username == ${celString(controller(GARBAGE_COLLECTOR))} && request.operation == 'UPDATE')`,
    },
  ],
  doc: {
    summary: 'Objects labelled posture.dev/protected=true may be changed or deleted only by administrators.',
    protects:
      'Every resource of every API group (`*`) whose stored object carries the label `posture.dev/protected: "true"`: updates, including the one that removes the label, and deletes. ' +
      "Subresources that can change the object's labels or what it runs are judged too: every `status` subresource (`*/status`: a Pod's and a Namespace's status strategies keep the request's labels) and `namespaces/finalize` may change anything but metadata, and `pods/ephemeralcontainers` is refused. " +
      "A delete that has begun is never wedged: a DELETE of an object already terminating (the kubelet's final delete, grace period 0) and an update that only removes finalizers from a terminating object are allowed to anyone RBAC allows. " +
      'Not judged, because the API server sends no labels with them so no objectSelector can match: `scale` (use RBAC on `*/scale`), `pods/exec`, `pods/attach`, `pods/portforward` (RBAC), `pods/binding` (the scheduler), and `pods/eviction`, deliberately: evictions are how node drains and the descheduler move pods, ' +
      'a webhook refusing them makes `kubectl drain` retry forever, and the eviction API already honours a PodDisruptionBudget, which is the tool to bound how many protected pods may be evicted at once. ' +
      'Adding the label is allowed to anyone who may update the object. ' +
      "Deleting a protected object's owner (an unlabelled object named in its `ownerReferences`) does not delete it: the garbage collector's delete of a protected object is refused like anyone's, so the object stays, its owner reference dangling, and the collector retries with backoff (a foreground delete of the owner waits until the protected dependent is gone, as a dependent with `blockOwnerDeletion` makes it wait). " +
      "A cluster administrator deletes it, or removes its owner reference or the label, to let the cascade finish. The collector's updates (dropping an owner reference for an orphaning delete, its own finalizers) are not sent. " +
      "With kube-controller-manager's shared identity (`--use-service-account-credentials=false`) the collector cannot be told from the namespace controller and stays exempt. " +
      'Deleting the namespace that holds a protected object still deletes it (the namespace controller is exempt): protect the namespace as well.',
    exempt:
      'Members of the groups in adminGroups (default `system:masters`, `posture:admins`), the users in adminUsers, ' +
      `the control plane's controllers that finish deletes, run workloads and maintain volumes and endpoints, by name: \`system:serviceaccount:kube-system:\` followed by ${listed(EXEMPT_CONTROLLERS)}; ` +
      `not \`${controller(GARBAGE_COLLECTOR)}\` for deletes (see above); ` +
      `\`${CONTROLLER_MANAGER}\` and \`${SCHEDULER}\` (preemption deletes pods). Other service accounts of kube-system (CSI drivers, CNI agents, charts installed there) are judged. ` +
      "A match condition skips the exempt identities at the API server. Objects in kube-system, kube-node-lease and posture's own namespace are not judged (default exclusions). `system:unauthenticated` is never exempt.",
    failurePolicy:
      'Fail: the label is a promise that the object does not change; failing open would break it exactly when the webhook is unavailable. ' +
      'The blast radius is small: only labelled objects are sent (objectSelector), administrators and controllers never wait on the webhook (match condition), and kube-system is excluded, so a down webhook cannot block the control plane. ' +
      "While it is down, non-exempt callers cannot finish deleting a protected object (the kubelet's final delete included): the pod stays Terminating until the webhook is back.",
    timeout: '5 s: enough for a restarting replica to answer (the decision itself is in memory), well below the 30 s client timeout.',
    denials: [
      protectedMessage('<Kind> "<namespace>/<name>"', 'UPDATE'),
      protectedMessage('<Kind> "<namespace>/<name>"', 'DELETE'),
      cascadeMessage('<Kind> "<namespace>/<name>"'),
      unlabelMessage('<Kind> "<namespace>/<name>"'),
      subresourceMessage('<Kind> "<namespace>/<name>"', '<subresource>'),
    ],
    settings: ['adminGroups', 'adminUsers', 'namespace'],
  },
  // The same decision in CEL, but for one case: "this update only removes finalizers from a
  // terminating object" needs the rest of an object of any kind compared, which CEL cannot do
  // (it has no "every field but these" of a typed object). Those updates stay with the webhook.
  cel: () => {
    const what = 'variables.what';
    const msg = (text: string) => celMessage(text, { what });
    const terminating = 'has(oldObject.metadata.deletionTimestamp)';
    const sameMetadata = USER_METADATA.map((f) => `object.metadata.?${f} == oldObject.metadata.?${f}`).join(' && ');
    return {
      variables: [
        { name: 'what', expression: CEL_WHAT },
        { name: 'protected', expression: `oldObject != null && ${celLabels('oldObject')}[?${celString(PROTECTED_LABEL)}].orValue('') == 'true'` },
        { name: 'stillLabelled', expression: `${celLabels('object')}[?${celString(PROTECTED_LABEL)}].orValue('') == 'true'` },
        { name: 'sub', expression: "has(request.subResource) ? request.subResource : ''" },
        { name: 'collector', expression: `request.userInfo.username == ${celString(controller(GARBAGE_COLLECTOR))}` },
      ],
      validations: [
        // A review without oldObject: authorize cannot tell either (Undecided: failurePolicy Fail refuses).
        {
          expression: 'oldObject != null',
          messageExpression: "request.operation + ' without oldObject: cannot tell whether ' + variables.what + ' is protected'",
        },
        {
          expression: `!variables.protected || request.operation != 'DELETE' || ${terminating}`,
          messageExpression: `variables.collector ? ${msg(cascadeMessage(hole('what')))} : ${msg(protectedMessage(hole('what'), 'DELETE'))}`,
        },
        {
          expression: `!variables.protected || request.operation != 'UPDATE' || variables.collector || variables.sub != 'ephemeralcontainers'`,
          messageExpression: msg(subresourceMessage(hole('what'), 'ephemeralcontainers')),
        },
        {
          expression: `!variables.protected || request.operation != 'UPDATE' || variables.collector || variables.stillLabelled`,
          messageExpression: msg(unlabelMessage(hole('what'))),
        },
        {
          expression: `!variables.protected || request.operation != 'UPDATE' || variables.collector || variables.sub == '' || (${sameMetadata})`,
          messageExpression: celMessage(subresourceMessage(hole('what'), hole('sub')), { what, sub: 'variables.sub' }),
        },
        {
          expression: `!variables.protected || request.operation != 'UPDATE' || variables.collector || variables.sub != ''`,
          messageExpression: msg(protectedMessage(hole('what'), 'UPDATE')),
        },
      ],
      beyondCel: {
        // An update (not a subresource) of a terminating protected object that drops finalizers.
        expression:
          "request.operation == 'UPDATE' && (!has(request.subResource) || request.subResource == '') && oldObject != null && object != null && " +
          `${terminating} && ${celLabels('oldObject')}[?${celString(PROTECTED_LABEL)}].orValue('') == 'true' && ` +
          'object.metadata.?finalizers.orValue([]).size() < oldObject.metadata.?finalizers.orValue([]).size()',
        why: 'whether an update of a terminating protected object only removes finalizers: CEL cannot compare every field but the finalizers of an object of any kind',
      },
    };
  },
  authorize(request) {
    if (request.operation !== 'UPDATE' && request.operation !== 'DELETE') return Allowed();
    if (request.oldObject === null) {
      // objectSelector matched, so the API server knew the stored object; without it no decision is honest.
      return Undecided(`${request.operation} without oldObject: cannot tell whether ${describe(request)} is protected`, 400);
    }
    if (labelsOf(request.oldObject)[PROTECTED_LABEL] !== 'true') return Allowed();
    const what = describe(request);
    const collector = request.userInfo.username === controller(GARBAGE_COLLECTOR);
    if (request.operation === 'DELETE') {
      if (isTerminating(request.oldObject)) return Allowed('already being deleted: finishing the delete');
      return Denied(collector ? cascadeMessage(what) : protectedMessage(what, 'DELETE'));
    }
    // (The match condition keeps these from being sent; the offline review has no match conditions.)
    if (collector) return Allowed("the garbage collector's updates are not judged");
    if (request.subResource) {
      if (request.subResource === 'ephemeralcontainers') return Denied(subresourceMessage(what, 'ephemeralcontainers'));
      if (labelsOf(request.object)[PROTECTED_LABEL] !== 'true') return Denied(unlabelMessage(what));
      if (metadataChanged(request.oldObject, request.object)) return Denied(subresourceMessage(what, request.subResource));
      return Allowed();
    }
    if (isTerminating(request.oldObject) && onlyRemovesFinalizers(request.oldObject, request.object))
      return Allowed('removing finalizers from an object being deleted');
    if (labelsOf(request.object)[PROTECTED_LABEL] !== 'true') return Denied(unlabelMessage(what));
    return Denied(protectedMessage(what, 'UPDATE'));
  },
});
