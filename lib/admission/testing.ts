// A harness for webhook authors: build CREATE/UPDATE/DELETE/CONNECT reviews the way the API server
// does (oldObject on UPDATE and DELETE, no object on DELETE, userInfo, dryRun, subresources) and
// run them through the full dispatcher path: JSON bytes in, HTTP response out, parsed back.
import { randomUUID } from 'node:crypto';
import { type Config, defaultConfig } from '../config/index.ts';
import { Dispatcher, type HttpResponseLike, type Outcome } from './dispatcher.ts';
import { loadRegistry, type Registry } from './registry.ts';
import type { AdmissionResponse, GroupVersionKind, GroupVersionResource, KubeObject, Operation, ReviewApiVersion } from './types.ts';

export interface Caller {
  username: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

/** A person authenticated by a certificate or an identity provider. */
export function user(username: string, ...groups: string[]): Caller {
  return { username, groups: [...groups, 'system:authenticated'] };
}

/** A ServiceAccount, with the groups the API server gives it. */
export function serviceAccount(namespace: string, name: string): Caller {
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

export const anonymous: Caller = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

// Kinds the shipped webhooks see; other kinds need `resource` (or get a naive plural).
const KNOWN: Record<string, { group: string; version: string; resource: string; namespaced: boolean }> = {
  Namespace: { group: '', version: 'v1', resource: 'namespaces', namespaced: false },
  Pod: { group: '', version: 'v1', resource: 'pods', namespaced: true },
  ConfigMap: { group: '', version: 'v1', resource: 'configmaps', namespaced: true },
  Secret: { group: '', version: 'v1', resource: 'secrets', namespaced: true },
  Service: { group: '', version: 'v1', resource: 'services', namespaced: true },
  ServiceAccount: { group: '', version: 'v1', resource: 'serviceaccounts', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments', namespaced: true },
  StatefulSet: { group: 'apps', version: 'v1', resource: 'statefulsets', namespaced: true },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets', namespaced: true },
  ReplicaSet: { group: 'apps', version: 'v1', resource: 'replicasets', namespaced: true },
  Job: { group: 'batch', version: 'v1', resource: 'jobs', namespaced: true },
  CronJob: { group: 'batch', version: 'v1', resource: 'cronjobs', namespaced: true },
  Lease: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', namespaced: false },
};

export interface ReviewSpec {
  operation: Operation;
  /** The new object (CREATE, UPDATE); left out of DELETE. */
  object?: KubeObject | null;
  /** The stored object (UPDATE, DELETE). */
  oldObject?: KubeObject | null;
  caller?: Caller;
  dryRun?: boolean;
  subResource?: string;
  /** Default: from the object's metadata. */
  namespace?: string;
  name?: string;
  kind?: GroupVersionKind;
  resource?: GroupVersionResource;
  apiVersion?: ReviewApiVersion;
  uid?: string;
  options?: unknown;
}

/** An AdmissionReview request as the API server would send it. */
export function admissionReview(spec: ReviewSpec): Record<string, unknown> {
  const obj = spec.object ?? spec.oldObject ?? undefined;
  const kindName = spec.kind?.kind ?? obj?.kind ?? 'ConfigMap';
  const known = KNOWN[kindName];
  const [g, v] = (obj?.apiVersion ?? '').includes('/') ? obj!.apiVersion!.split('/') : ['', obj?.apiVersion ?? 'v1'];
  const kind = spec.kind ?? { group: known?.group ?? g, version: known?.version ?? v, kind: kindName };
  const resource = spec.resource ?? { group: kind.group, version: kind.version, resource: known?.resource ?? `${kindName.toLowerCase()}s` };
  const namespaced = known?.namespaced ?? true;
  const caller = spec.caller ?? user('jane');
  const request: Record<string, unknown> = {
    uid: spec.uid ?? randomUUID(),
    kind,
    resource,
    requestKind: kind,
    requestResource: resource,
    name: spec.name ?? obj?.metadata?.name,
    operation: spec.operation,
    userInfo: { username: caller.username, uid: caller.uid ?? randomUUID(), groups: caller.groups, ...(caller.extra ? { extra: caller.extra } : {}) },
    object: spec.operation === 'DELETE' ? null : (spec.object ?? null),
    oldObject: spec.operation === 'CREATE' || spec.operation === 'CONNECT' ? null : (spec.oldObject ?? null),
    dryRun: spec.dryRun ?? false,
    options:
      spec.options ??
      (spec.operation === 'CONNECT' ? null : { apiVersion: 'meta.k8s.io/v1', kind: `${spec.operation[0]}${spec.operation.slice(1).toLowerCase()}Options` }),
  };
  const namespace = spec.namespace ?? (namespaced ? obj?.metadata?.namespace : undefined);
  if (namespace) request.namespace = namespace;
  if (spec.subResource) {
    request.subResource = spec.subResource;
    request.requestSubResource = spec.subResource;
  }
  return { apiVersion: spec.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

/** A minimal object of a kind, with labels and annotations. */
export function object(
  kind: string,
  name: string,
  options: { namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; apiVersion?: string; spec?: unknown } = {},
): KubeObject {
  const known = KNOWN[kind];
  const apiVersion = options.apiVersion ?? (known ? (known.group ? `${known.group}/${known.version}` : known.version) : 'v1');
  const metadata: Record<string, unknown> = { name };
  if (options.namespace ?? (known?.namespaced !== false ? 'default' : undefined)) metadata.namespace = options.namespace ?? 'default';
  if (kind === 'Namespace') metadata.labels = { 'kubernetes.io/metadata.name': name, ...(options.labels ?? {}) };
  else if (options.labels) metadata.labels = options.labels;
  if (options.annotations) metadata.annotations = options.annotations;
  const o: KubeObject = { apiVersion, kind, metadata: metadata as KubeObject['metadata'] };
  if (options.spec !== undefined) o.spec = options.spec;
  return o;
}

export interface ReviewResult {
  http: HttpResponseLike;
  /** The parsed response (undefined when the HTTP status is not 200). */
  response?: AdmissionResponse;
  apiVersion?: string;
  outcome?: Outcome;
}

/** The webhooks a tester runs: a folder's (the shipped ones: WEBHOOKS_DIR of the admission function), or a registry. */
export type TesterOptions<S> = {
  services: S;
  config?: Config;
  now?: () => number;
} & ({ dir: string } | { registry: Registry<S> });

/** Runs reviews through the dispatcher of a registry; one per test file is plenty. */
export class WebhookTester<S> {
  readonly dispatcher: Dispatcher<S>;
  #last: Outcome | undefined;

  private constructor(dispatcher: Dispatcher<S>) {
    this.dispatcher = dispatcher;
  }

  static async create<S>(options: TesterOptions<S>): Promise<WebhookTester<S>> {
    const registry = 'registry' in options ? options.registry : await loadRegistry<S>(options.dir, options.config ?? defaultConfig());
    let tester: WebhookTester<S> | undefined;
    const dispatcher = new Dispatcher<S>({
      registry,
      services: options.services,
      now: options.now,
      onDecision: (d) => {
        if (tester) tester.#last = d.outcome;
      },
    });
    tester = new WebhookTester(dispatcher);
    return tester;
  }

  /**
   * Sends a review to a webhook by name. `tier` picks the entry of a webhook with namespace-label
   * tiers: a label value, 'absent' (the default) or 'invalid'.
   */
  send(webhookName: string, review: ReviewSpec | Record<string, unknown>, options: { tier?: string } = {}): ReviewResult {
    const webhook = this.dispatcher.registry.byName(webhookName);
    if (!webhook) throw new Error(`no webhook named ${webhookName}`);
    const tier = options.tier ?? 'absent';
    const entry = webhook.entries.find(
      (e) =>
        (e.tier === undefined && tier === 'absent') ||
        (e.tier?.state === 'absent' && tier === 'absent') ||
        (e.tier?.state === 'invalid' && tier === 'invalid') ||
        (e.tier?.state === 'value' && e.tier.value === tier),
    );
    if (!entry) throw new Error(`webhook ${webhookName} has no tier ${tier}`);
    const body = 'operation' in review && typeof review.operation === 'string' && !('request' in review) ? admissionReview(review as ReviewSpec) : review;
    this.#last = undefined;
    const http = this.dispatcher.dispatch({ method: 'POST', path: entry.path, contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) });
    if (http.statusCode !== 200) return { http };
    const parsed = JSON.parse(http.body) as { apiVersion: string; response: AdmissionResponse };
    return { http, response: parsed.response, apiVersion: parsed.apiVersion, outcome: this.#last };
  }
}
