// A small kustomize renderer for the features knative/ uses, so the tests render exactly what
// `kubectl apply -k` would without a kustomize binary: `resources` (YAML files and directories
// holding a kustomization.yaml), `namespace`, `images` and inline strategic-merge `patches`
// (maps merged, lists replaced, `$patch: delete` removes a resource). Anything else in a
// kustomization is refused rather than silently ignored.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);

/** Kinds without a namespace (those knative/ may contain). */
export const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
]);

export const idOf = (o: KubeObject): string => `${o.apiVersion.split('/').length > 1 ? o.apiVersion.split('/')[0] : 'core'}/${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

function readKustomization(dir: string): Record<string, unknown> {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k)) if (!SUPPORTED.has(key)) throw new Error(`${file}: field ${key} is not supported by this renderer`);
  if (k.kind !== undefined && k.kind !== 'Kustomization') throw new Error(`${file}: kind ${String(k.kind)}`);
  return k;
}

function readObjects(file: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    const o = doc.toJSON() as KubeObject | null;
    if (o === null) continue;
    if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new Error(`${file}: a document without apiVersion, kind or metadata.name`);
    out.push(o);
  }
  return out;
}

type Json = unknown;
const isMap = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Strategic merge without schema: maps merge, lists and scalars replace, null deletes a key. */
function merge(target: Json, patch: Json): Json {
  if (!isMap(target) || !isMap(patch)) return structuredClone(patch);
  const out: Record<string, Json> = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new Error(`patch directive ${k} is not supported here`);
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

function sameTarget(o: KubeObject, p: KubeObject): boolean {
  return o.apiVersion === p.apiVersion && o.kind === p.kind && o.metadata.name === p.metadata.name && (p.metadata.namespace === undefined || p.metadata.namespace === o.metadata.namespace);
}

function setNamespace(o: KubeObject, ns: string): void {
  if (CLUSTER_SCOPED.has(o.kind)) {
    if (o.kind === 'Namespace') o.metadata.name = ns;
    if (o.kind === 'ValidatingWebhookConfiguration' || o.kind === 'MutatingWebhookConfiguration') {
      for (const w of (o.webhooks as Array<{ clientConfig?: { service?: { namespace?: string } } }>) ?? []) {
        if (w.clientConfig?.service) w.clientConfig.service.namespace = ns;
      }
    }
  } else {
    o.metadata.namespace = ns;
  }
  // kustomize's default (setRoleBindingSubjects: defaultOnly): only subjects named "default".
  if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
    for (const s of (o.subjects as Array<{ kind: string; name: string; namespace?: string }>) ?? []) {
      if (s.kind === 'ServiceAccount' && s.name === 'default') s.namespace = ns;
    }
  }
}

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

function rewriteImage(image: string, rules: ImageRule[]): string {
  const at = image.indexOf('@');
  const base = at >= 0 ? image.slice(0, at) : image;
  const colon = base.lastIndexOf(':');
  const name = colon > base.lastIndexOf('/') ? base.slice(0, colon) : base;
  const tag = colon > base.lastIndexOf('/') ? base.slice(colon + 1) : undefined;
  const rule = rules.find((r) => r.name === name);
  if (!rule) return image;
  const n = rule.newName ?? name;
  if (rule.digest) return `${n}@${rule.digest}`;
  if (rule.newTag) return `${n}:${rule.newTag}`;
  return at >= 0 ? `${n}${image.slice(at)}` : tag ? `${n}:${tag}` : n;
}

/** Like kustomize's image transformer: every `containers[].image` and `initContainers[].image`, at any depth. */
function setImages(node: Json, rules: ImageRule[]): void {
  if (Array.isArray(node)) return node.forEach((n) => setImages(n, rules));
  if (!isMap(node)) return;
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) {
      for (const c of v) if (isMap(c) && typeof c.image === 'string') c.image = rewriteImage(c.image, rules);
    }
    setImages(v, rules);
  }
}

/** Renders the kustomization in `dir` to its objects, in the order of `resources`. */
export function renderKustomization(dir: string): KubeObject[] {
  const root = resolve(dir);
  const k = readKustomization(root);
  let objects: KubeObject[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(root, r);
    if (!existsSync(path)) throw new Error(`${root}: resource ${r} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readObjects(path)));
  }
  for (const p of (k.patches as Array<{ patch?: string; path?: string; target?: unknown }> | undefined) ?? []) {
    if (p.target !== undefined) throw new Error(`${root}: patch targets are not supported by this renderer`);
    const text = p.patch ?? (p.path ? readFileSync(resolve(root, p.path), 'utf8') : undefined);
    if (text === undefined) throw new Error(`${root}: a patch needs patch or path`);
    const patch = parse(text) as KubeObject & { $patch?: string };
    const matches = objects.filter((o) => sameTarget(o, patch));
    if (matches.length !== 1) throw new Error(`${root}: patch for ${patch.kind}/${patch.metadata?.name} matches ${matches.length} resources`);
    if (patch.$patch === 'delete') {
      objects = objects.filter((o) => o !== matches[0]);
      continue;
    }
    if (patch.$patch !== undefined) throw new Error(`${root}: $patch: ${patch.$patch} is not supported`);
    objects[objects.indexOf(matches[0])] = merge(matches[0], patch) as KubeObject;
  }
  if (typeof k.namespace === 'string') for (const o of objects) setNamespace(o, k.namespace);
  if (Array.isArray(k.images)) for (const o of objects) setImages(o, k.images as ImageRule[]);
  const seen = new Set<string>();
  for (const o of objects) {
    const id = idOf(o);
    if (seen.has(id)) throw new Error(`${root}: ${id} is defined twice (kustomize refuses that)`);
    seen.add(id);
  }
  return objects;
}
