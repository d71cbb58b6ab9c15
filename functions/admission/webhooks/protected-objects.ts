// protected-objects: anything labelled posture.dev/protected=true may be changed or deleted only by
// administrators. Closes the gap RBAC leaves: "these users may edit this kind, except these objects".
import { Allowed, Denied, Errored, defineWebhook, type AdmissionRequest } from '../../../lib/admission/index.ts';
import { labelsOf, PROTECTED_LABEL } from '../labels.ts';
import type { AdmissionServices } from '../services.ts';

function describe(request: AdmissionRequest): string {
  const kind = request.kind.kind || request.resource.resource;
  const name = request.name ?? request.oldObject?.metadata?.name ?? '';
  return request.namespace ? `${kind} "${request.namespace}/${name}"` : `${kind} "${name}"`;
}

export function protectedMessage(what: string, operation: 'UPDATE' | 'DELETE'): string {
  return `${what} is protected by posture (label ${PROTECTED_LABEL}=true): only cluster administrators may ${operation === 'DELETE' ? 'delete' : 'change'} it`;
}

export function unlabelMessage(what: string): string {
  return `${what} is protected by posture (label ${PROTECTED_LABEL}=true): only cluster administrators may remove the label`;
}

export default defineWebhook<AdmissionServices>({
  name: 'protected-objects',
  path: '/protected-objects',
  // "*" is every resource but no subresource: status writes by controllers and scale (whose
  // object carries no labels, so no selector could match it) are not judged.
  rules: [{ operations: ['UPDATE', 'DELETE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], scope: '*' }],
  // The API server matches objectSelector against the old object too: label removal and DELETE are covered.
  objectSelector: { matchLabels: { [PROTECTED_LABEL]: 'true' } },
  failurePolicy: 'Fail',
  timeoutSeconds: 5,
  enforcement: 'deny',
  exempt: [
    { groupsFrom: 'adminGroups' },
    { usersFrom: 'adminUsers' },
    { group: 'system:serviceaccounts:kube-system' },
    { user: 'system:kube-controller-manager' },
  ],
  doc: {
    summary: 'Objects labelled posture.dev/protected=true may be changed or deleted only by administrators.',
    protects:
      'Every resource of every API group (`*`, not subresources) whose stored object carries the label `posture.dev/protected: "true"`: updates, including the one that removes the label, and deletes. ' +
      'Adding the label is allowed to anyone who may update the object. Subresources (status, scale) are not judged: controllers write status, and a Scale object has no labels to select. ' +
      'Deleting the namespace that holds a protected object still deletes it: protect the namespace as well.',
    exempt:
      'Members of the groups in adminGroups (default `system:masters`, `posture:admins`), the users in adminUsers, the service accounts of kube-system (group `system:serviceaccounts:kube-system`: ' +
      'the garbage collector and namespace controller must finish deletes) and `system:kube-controller-manager`. A match condition skips them at the API server. ' +
      'Objects in kube-system, kube-node-lease and posture\'s own namespace are not judged (default exclusions). `system:unauthenticated` is never exempt.',
    failurePolicy:
      'Fail: the label is a promise that the object does not change; failing open would break it exactly when the webhook is unavailable. ' +
      'The blast radius is small: only labelled objects are sent (objectSelector), administrators never wait on the webhook (match condition), and kube-system is excluded, so a down webhook cannot block the control plane.',
    timeout: '5 s: enough for a restarting replica to answer (the decision itself is in memory), well below the 30 s client timeout.',
    denials: [protectedMessage('<Kind> "<namespace>/<name>"', 'UPDATE'), protectedMessage('<Kind> "<namespace>/<name>"', 'DELETE'), unlabelMessage('<Kind> "<namespace>/<name>"')],
    settings: ['adminGroups', 'adminUsers', 'namespace'],
  },
  authorize(request) {
    if (request.subResource) return Allowed('subresources are not judged');
    if (request.operation !== 'UPDATE' && request.operation !== 'DELETE') return Allowed();
    if (request.oldObject === null) {
      // objectSelector matched, so the API server knew the stored object; without it no decision is honest.
      return Errored(`${request.operation} without oldObject: cannot tell whether ${describe(request)} is protected`, 400);
    }
    if (labelsOf(request.oldObject)[PROTECTED_LABEL] !== 'true') return Allowed();
    if (request.operation === 'DELETE') return Denied(protectedMessage(describe(request), 'DELETE'));
    if (labelsOf(request.object)[PROTECTED_LABEL] !== 'true') return Denied(unlabelMessage(describe(request)));
    return Denied(protectedMessage(describe(request), 'UPDATE'));
  },
});
