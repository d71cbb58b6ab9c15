// Helpers of the deploy tests: raw API calls (server-side apply with dryRun and strict field
// validation, which client-node's object API cannot ask for), discovery, a CRD-schema walk that
// is stricter than the API server, RBAC rule sets, and the render of a kustomization by real
// kustomize (the binary build-tools.sh builds, the same code as `kubectl apply -k`).
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import { parseAllDocuments } from 'yaml';
import { kustomizeBin } from '../cluster/tools.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Kinds without a namespace (those knative/ may contain). */
export const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
]);

export const idOf = (o: KubeObject): string =>
  `${o.apiVersion.split('/').length > 1 ? o.apiVersion.split('/')[0] : 'core'}/${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

/**
 * `kustomize build <dir>`: what `kubectl apply -k <dir>` sends. kustomize's errors (a cycle, an
 * unknown field, a missing file) fail the caller with kustomize's own message.
 */
export function renderKustomization(dir: string): KubeObject[] {
  const out = execFileSync(kustomizeBin(), ['build', dir], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as KubeObject)
    .filter((o) => o !== null);
}

export interface RawResponse {
  status: number;
  body: any;
}

/** One request to the API server as the identity of `kc`. */
export async function kubeRequest(kc: k8s.KubeConfig, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<RawResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster');
  const url = `${cluster.server}${path}`;
  const ctx = new k8s.RequestContext(url, method as k8s.HttpMethod);
  await kc.applySecurityAuthentication(ctx);
  const headers: Record<string, string> = { ...ctx.getHeaders(), accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await undiciFetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

export interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

/** Discovery: the resource (plural) and scope of an apiVersion/kind the server serves. */
export class Discovery {
  readonly #cache = new Map<string, Promise<Map<string, ResourceInfo>>>();
  readonly kc: k8s.KubeConfig;
  constructor(kc: k8s.KubeConfig) {
    this.kc = kc;
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let p = this.#cache.get(apiVersion);
    if (!p) {
      p = (async () => {
        const r = await kubeRequest(this.kc, 'GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
        if (r.status !== 200) throw new Error(`discovery of ${apiVersion}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        const m = new Map<string, ResourceInfo>();
        for (const res of r.body.resources as Array<{ name: string; kind: string; namespaced: boolean }>) {
          if (!res.name.includes('/')) m.set(res.kind, { plural: res.name, namespaced: res.namespaced });
        }
        return m;
      })();
      this.#cache.set(apiVersion, p);
      p.catch(() => this.#cache.delete(apiVersion));
    }
    const info = (await p).get(kind);
    if (!info) throw new Error(`the server does not serve ${kind} in ${apiVersion}`);
    return info;
  }

  async path(o: KubeObject): Promise<string> {
    const info = await this.resource(o.apiVersion, o.kind);
    const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
    if (info.namespaced && !o.metadata.namespace) throw new Error(`${o.kind}/${o.metadata.name} has no namespace`);
    return `${base}${info.namespaced ? `/namespaces/${o.metadata.namespace}` : ''}/${info.plural}/${encodeURIComponent(o.metadata.name)}`;
  }
}

/**
 * Server-side apply (what `kubectl apply --server-side` sends), with strict field validation:
 * an unknown or duplicate field is an error, not a warning. dryRun: validated, admitted and
 * defaulted by the server, and not stored.
 */
export async function serverSideApply(d: Discovery, o: KubeObject, opts: { dryRun: boolean; kc?: k8s.KubeConfig }): Promise<RawResponse> {
  const q = new URLSearchParams({ fieldManager: 'posture-deploy-test', force: 'true', fieldValidation: 'Strict' });
  if (opts.dryRun) q.set('dryRun', 'All');
  return kubeRequest(opts.kc ?? d.kc, 'PATCH', `${await d.path(o)}?${q}`, o, 'application/apply-patch+yaml');
}

/** Server-side dry-run create (for objects built by the test, such as pods from templates). */
export async function dryRunCreate(d: Discovery, o: KubeObject): Promise<RawResponse> {
  const path = await d.path(o);
  const q = new URLSearchParams({ dryRun: 'All', fieldValidation: 'Strict' });
  return kubeRequest(d.kc, 'POST', `${path.slice(0, path.lastIndexOf('/'))}?${q}`, o);
}

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  description?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
};

/**
 * Walks an object against a CRD's structural schema, stricter than the API server: a field not
 * declared where the schema declares properties is reported even under
 * x-kubernetes-preserve-unknown-fields (Knative's CRDs keep unknown fields for their webhooks,
 * which do not run on the test control plane), and so is a field Knative documents as "behind a
 * feature flag" (off by default, so Knative's webhook would refuse it).
 */
export function schemaProblems(value: unknown, schema: Schema, enabledFlags: ReadonlySet<string>, path = ''): string[] {
  const out: string[] = [];
  const flag = schema.description && /behind a feature flag\s*-\s*([\w.-]+)/i.exec(schema.description);
  if (flag && !enabledFlags.has(flag[1])) out.push(`${path}: behind the Knative feature flag ${flag[1]}, off by default`);
  if (Array.isArray(value)) {
    if (schema.items) {
      for (const [i, v] of value.entries()) out.push(...schemaProblems(v, schema.items, enabledFlags, `${path}[${i}]`));
    }
    return out;
  }
  if (typeof value !== 'object' || value === null) return out;
  if (schema.properties) {
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties[k];
      if (sub) out.push(...schemaProblems(v, sub, enabledFlags, `${path}.${k}`));
      else if (typeof schema.additionalProperties === 'object') out.push(...schemaProblems(v, schema.additionalProperties, enabledFlags, `${path}.${k}`));
      else if (path === '' && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
      else out.push(`${path}.${k}: not declared in the CRD schema`);
    }
  } else if (typeof schema.additionalProperties === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...schemaProblems(v, schema.additionalProperties, enabledFlags, `${path}.${k}`));
  }
  return out;
}

/** One namespaced RBAC permission, as a comparable string `group/resource:verb`. */
export function ruleKeys(rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] }>): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? ['']) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) out.add(`${g || 'core'}/${res}:${v}${r.resourceNames?.length ? `[${[...r.resourceNames].sort().join(',')}]` : ''}`);
      }
    }
  }
  return out;
}

/** What SelfSubjectRulesReview says the identity of `kc` may do in `namespace`. */
export async function selfRules(kc: k8s.KubeConfig, namespace: string): Promise<{ resources: Set<string>; nonResource: Set<string>; incomplete: boolean }> {
  const r = await kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectRulesReview({
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
  });
  const nonResource = new Set<string>();
  for (const n of r.status?.nonResourceRules ?? []) for (const u of n.nonResourceURLs ?? []) for (const v of n.verbs) nonResource.add(`${u}:${v}`);
  return { resources: ruleKeys(r.status?.resourceRules ?? []), nonResource, incomplete: r.status?.incomplete ?? false };
}

/** Every pod template in an object (Deployment, CronJob, Knative Service...), with its path. */
export function podTemplates(o: KubeObject): Array<{ path: string; spec: k8s.V1PodSpec; metadata?: k8s.V1ObjectMeta }> {
  const spec = o.spec as any;
  if (o.kind === 'CronJob') return [{ path: 'spec.jobTemplate.spec.template', ...spec.jobTemplate.spec.template }];
  if (spec?.template?.spec?.containers) return [{ path: 'spec.template', ...spec.template }];
  return [];
}

/**
 * A test-only copy of rendered objects moved to another namespace (names, references and
 * RoleBinding subjects included), so the RBAC can be applied for real without touching a
 * namespace other test runs may share. Not a kustomize feature.
 */
export function relocate(objects: KubeObject[], from: string, to: string): KubeObject[] {
  return objects.map((o) => {
    const c = structuredClone(o);
    if (c.metadata.namespace === from) c.metadata.namespace = to;
    if (c.kind === 'Namespace' && c.metadata.name === from) c.metadata.name = to;
    for (const s of (c.subjects as Array<{ kind: string; namespace?: string }>) ?? []) if (s.namespace === from) s.namespace = to;
    return c;
  });
}
