// Sends an admission table case (a ReviewSpec the unit tests hand to a webhook's dispatcher) to a
// real API server as the request it describes: the stored object is created first (as the admin,
// whom every posture policy exempts), made terminating when the case's old object is, and the
// operation is then made as the case's caller (impersonated) with dryRun=All, so the API server
// runs admission and stores nothing. What the API server answers is the verdict of whatever
// admission is installed: the generated ValidatingAdmissionPolicies, in these tests.
import type * as k8s from '@kubernetes/client-node';
import { admissionReview, type ReviewSpec } from '../../lib/admission/testing.ts';
import { call, DRY, type Reply } from './api-call.ts';

export type Sent =
  | { verdict: 'allowed' | 'denied'; message: string }
  /** The API server cannot be asked this (a review it never sends), or refused it before admission. */
  | { unsendable: string };

/** Namespaces kept by name: their names are what the webhooks judge (protected, excluded, posture's own). */
const SPECIAL = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'default']);

const HOLD = 'posture.dev/e2e-hold';
/**
 * Who writes the stored objects: kube-controller-manager's own identity, which all three webhooks
 * exempt (job-guard exempts no administrator), so the policies never judge the setup.
 */
const SETUP = { 'Impersonate-User': 'system:kube-controller-manager' };

/** The table's finalizer names made valid (the API server wants `domain/name`); the same name maps the same way. */
function qualify(o: Record<string, any> | null): Record<string, any> | null {
  if (!o?.metadata?.finalizers) return o;
  const c = structuredClone(o);
  c.metadata.finalizers = c.metadata.finalizers.map((f: string) => (f.includes('/') || f.startsWith('kubernetes') ? f : `e2e.posture.dev/${f}`));
  return c;
}

interface Request {
  operation: string;
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  userInfo: { username: string; groups: string[] };
  object: Record<string, any> | null;
  oldObject: Record<string, any> | null;
  dryRun: boolean;
}

function base(r: Request['resource']): string {
  return r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
}

function collectionPath(r: Request['resource'], namespace: string | undefined): string {
  return `${base(r)}${namespace ? `/namespaces/${namespace}` : ''}/${r.resource}`;
}

/** Fills what the API server requires of a kind and the table objects leave out (a Job's pod template...). */
function complete(o: Record<string, any>, kind: string): Record<string, any> {
  const c = structuredClone(o);
  const podSpec = { restartPolicy: 'Never', containers: [{ name: 'c', image: 'example/app:1' }] };
  if (kind === 'Pod') c.spec = { containers: [{ name: 'app', image: 'app:1' }], ...(c.spec ?? {}) };
  if (kind === 'Job') c.spec = { ...(c.spec ?? {}), template: { ...(c.spec?.template ?? {}), spec: { ...podSpec, ...(c.spec?.template?.spec ?? {}) } } };
  if (kind === 'CronJob') {
    const jt = c.spec?.jobTemplate ?? {};
    c.spec = {
      schedule: '@daily',
      ...(c.spec ?? {}),
      jobTemplate: {
        ...jt,
        spec: { ...(jt.spec ?? {}), template: { ...(jt.spec?.template ?? {}), spec: { ...podSpec, ...(jt.spec?.template?.spec ?? {}) } } },
      },
    };
  }
  if (kind === 'ClusterRole') c.rules ??= [];
  // Server-maintained fields are the API server's to set.
  for (const f of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields'])
    delete c.metadata?.[f];
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Removes an object whatever holds it (finalizers), and waits until it is gone. */
async function remove(admin: k8s.KubeConfig, path: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const got = await call(admin, 'GET', path);
    if (got.status === 404) return;
    if ((got.body?.metadata?.finalizers ?? []).length > 0) await call(admin, 'PATCH', path, { metadata: { finalizers: null } }, undefined, SETUP);
    if (!got.body?.metadata?.deletionTimestamp) await call(admin, 'DELETE', `${path}?gracePeriodSeconds=0`, undefined, undefined, SETUP);
    await sleep(100);
  }
  throw new Error(`${path} is not gone after 10 s`);
}

async function ensureNamespace(admin: k8s.KubeConfig, name: string): Promise<void> {
  const r = await call(admin, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (r.status !== 201 && r.status !== 409) throw new Error(`create namespace ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}

function ok(r: Reply): boolean {
  return r.status >= 200 && r.status < 300;
}

/** The verdict a reply carries: success, a posture policy's denial, or something else (returned as unsendable). */
export function verdictOf(r: Reply, operation = ''): Sent {
  if (ok(r)) return { verdict: 'allowed', message: '' };
  // Validating admission runs before the store: a create that reaches "already exists" was admitted.
  if (operation === 'CREATE' && r.status === 409 && r.body?.reason === 'AlreadyExists') return { verdict: 'allowed', message: '' };
  const message: string = r.body?.message ?? JSON.stringify(r.body);
  // A policy whose expression failed is an error of the policy, never a verdict.
  if (/ValidatingAdmissionPolicy 'posture-[^']*'/.test(message) && /resulted in error|failed to evaluate|compil/i.test(message))
    throw new Error(`a posture policy failed instead of judging: ${message}`);
  const m = /ValidatingAdmissionPolicy 'posture-[^']*' with binding '[^']*' denied request: (.*)$/s.exec(message);
  if (m) return { verdict: 'denied', message: m[1] };
  return { unsendable: `the API server answered ${r.status} before or besides admission: ${message}` };
}

/**
 * Sends one case. `tag` keeps its objects apart from other cases' (ordinary namespaces are renamed
 * `<tag>-<namespace>`; special ones keep their names and the object is recreated).
 */
export async function sendCase(admin: k8s.KubeConfig, spec: ReviewSpec, tag: string, postureNamespace: string): Promise<Sent> {
  const request = (admissionReview(spec) as { request: Request }).request;
  const op = request.operation;
  if (op === 'CONNECT') return { unsendable: 'CONNECT: no rule of these webhooks matches it, so the API server asks neither engine' };
  if ((op === 'UPDATE' || op === 'DELETE') && request.oldObject === null)
    return { unsendable: `${op} without oldObject: the API server always sends the stored object` };
  const obj = request.object ?? request.oldObject;
  const kind: string = obj?.kind ?? spec.kind?.kind ?? 'ConfigMap';
  const isNamespace = request.resource.resource === 'namespaces';
  const name = isNamespace ? (obj?.metadata?.name ?? request.name) : request.name;
  if (!name) return { unsendable: 'no name: the API server names the object of every request it sends' };
  if (request.name !== undefined && request.name !== '' && obj?.metadata?.name !== undefined && request.name !== obj.metadata.name)
    return { unsendable: 'the request names another object than its body' };
  if (isNamespace && op !== 'DELETE' && request.name === '') return { unsendable: 'a namespace request without a name' };
  // Where the object lives.
  let namespace = request.namespace;
  if (namespace && !SPECIAL.has(namespace) && namespace !== postureNamespace) namespace = `${tag}-${namespace}`.slice(0, 63).replace(/-+$/, '');
  const retarget = (o: Record<string, any> | null) => {
    if (!o) return o;
    const c = structuredClone(o);
    if (namespace && !isNamespace) c.metadata = { ...(c.metadata ?? {}), namespace };
    return c;
  };
  const object = qualify(retarget(request.object));
  const oldObject = qualify(retarget(request.oldObject));
  let held = false;
  if (namespace) await ensureNamespace(admin, namespace);
  const collection = collectionPath(request.resource, isNamespace ? undefined : namespace);
  const path = `${collection}/${encodeURIComponent(name)}`;

  // The stored object.
  if (oldObject) {
    if (isNamespace) {
      const got = await call(admin, 'GET', path);
      if (got.status === 404) {
        const r = await call(admin, 'POST', collection, complete(oldObject, kind), undefined, SETUP);
        if (!ok(r)) return { unsendable: `creating the stored namespace: ${r.body?.message}` };
      } else {
        if (got.body.metadata.deletionTimestamp) return { unsendable: 'the stored namespace is terminating' };
        const body = {
          ...got.body,
          metadata: { ...got.body.metadata, labels: oldObject.metadata?.labels ?? {}, annotations: oldObject.metadata?.annotations ?? {} },
        };
        const r = await call(admin, 'PUT', path, body, undefined, SETUP);
        if (!ok(r)) return { unsendable: `setting the stored namespace's labels: ${r.body?.message}` };
      }
    } else {
      await remove(admin, path);
      const terminating = Boolean(request.oldObject?.metadata?.deletionTimestamp);
      const stored = complete(oldObject, kind);
      if (terminating && !(stored.metadata.finalizers ?? []).length) {
        stored.metadata.finalizers = [HOLD];
        held = true;
      }
      const r = await call(admin, 'POST', collection, stored, undefined, SETUP);
      if (!ok(r)) return { unsendable: `creating the stored object: ${r.status} ${r.body?.message}` };
      if (terminating) {
        const d = await call(admin, 'DELETE', path, undefined, undefined, SETUP);
        if (!ok(d)) return { unsendable: `making the stored object terminating: ${d.body?.message}` };
      }
    }
  } else if (!isNamespace) {
    await remove(admin, path);
  }

  const impersonate: Record<string, string> = { 'Impersonate-User': request.userInfo.username };
  const headers = (extra: string[] = []) => {
    // Node's http takes an array for a repeated header.
    const h: Record<string, any> = { ...impersonate };
    const groups = request.userInfo.groups.filter((g) => g !== 'system:authenticated' || request.userInfo.username === 'system:anonymous');
    if (groups.length + extra.length > 0) h['Impersonate-Group'] = [...groups, ...extra];
    return h;
  };

  let reply: Reply;
  if (op === 'CREATE') {
    reply = await call(admin, 'POST', `${collection}${DRY}`, complete(object!, kind), undefined, headers());
  } else if (op === 'DELETE') {
    reply = await call(admin, 'DELETE', `${path}${DRY}`, undefined, undefined, headers());
  } else {
    // Controllers (kwok's, the Job controller) write these objects too: on a conflict, read again and resend.
    for (let attempt = 0; ; attempt++) {
      const got = await call(admin, 'GET', path);
      if (!ok(got)) return { unsendable: `reading the stored object: ${got.body?.message}` };
      const body = complete(object!, kind);
      if (held) body.metadata.finalizers = [...(body.metadata.finalizers ?? []), HOLD];
      // What the caller cannot change and the API server keeps: as stored.
      const keep = ['resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'];
      for (const f of keep) if (got.body.metadata[f] !== undefined) body.metadata[f] = got.body.metadata[f];
      if (kind === 'Pod')
        body.spec = { ...got.body.spec, ...(request.subResource === 'ephemeralcontainers' ? { ephemeralContainers: object?.spec?.ephemeralContainers } : {}) };
      // A Job's spec is immutable once the API server filled its selector; the cases judge its labels.
      if (kind === 'Job') body.spec = got.body.spec;
      if (isNamespace) body.spec = object?.spec ?? got.body.spec;
      // A status write carries the stored status with the case's fields over it (a Job's startTime is immutable once set).
      if (request.subResource === 'status') body.status = { ...(got.body.status ?? {}), ...(object?.status ?? {}) };
      const sub = request.subResource ? `/${request.subResource}` : '';
      reply = await call(admin, 'PUT', `${path}${sub}${DRY}`, body, undefined, headers());
      if (reply.status !== 409 || attempt >= 10) break;
    }
  }
  return verdictOf(reply, op);
}
