// The webhook registry: every file in a webhooks folder is a webhook (no list to edit). The folder
// is its caller's to name: the admission function hands over its own. Loading refuses a file
// without a webhook, an invalid declaration, and duplicate names or paths, naming both files, so
// the server, the generators and the tests all fail the same way.
import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config/index.ts';
import { type AnyDeclaration, type AnyWebhook, compileWebhook, parseEnforcementOverrides, WebhookDefinitionError, type WebhookEntry } from './define.ts';

export interface LoadedDeclaration {
  declaration: AnyDeclaration;
  /** The file it came from, relative to the folder. */
  source: string;
}

/** Files of a webhooks folder that must each declare one webhook: *.ts, not tests. */
export function webhookFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => e.name)
    .sort();
}

function isDeclaration(x: unknown): x is AnyDeclaration {
  return (
    typeof x === 'object' && x !== null && typeof (x as { authorize?: unknown }).authorize === 'function' && typeof (x as { name?: unknown }).name === 'string'
  );
}

/** Imports every webhook file of a folder; each must `export default defineWebhook({...})`. */
export async function loadDeclarations(dir: string): Promise<LoadedDeclaration[]> {
  const out: LoadedDeclaration[] = [];
  for (const file of webhookFiles(dir)) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(resolve(join(dir, file))).href)) as { default?: unknown };
    } catch (err) {
      throw new WebhookDefinitionError(`${file}: ${(err as Error).message}`);
    }
    if (!isDeclaration(mod.default)) {
      throw new WebhookDefinitionError(
        `${file}: every .ts file in ${basename(dir)}/ is a webhook and must \`export default defineWebhook({...})\` (helpers belong elsewhere, tests end in .test.ts)`,
      );
    }
    out.push({ declaration: mod.default, source: file });
  }
  return out;
}

/** Throws naming both files when two declarations share a name, or two entries share a path. */
export function checkUnique(loaded: readonly LoadedDeclaration[]): void {
  const names = new Map<string, string>();
  const paths = new Map<string, string>();
  const problems: string[] = [];
  for (const { declaration: d, source } of loaded) {
    const prev = names.get(d.name);
    if (prev !== undefined) problems.push(`webhook name ${JSON.stringify(d.name)} is declared by both ${prev} and ${source}`);
    else names.set(d.name, source);
    // Tiered webhooks serve paths below their own, so one path may not be a prefix of another.
    const p = d.path.toLowerCase();
    for (const [other, otherSource] of paths) {
      if (other === p) problems.push(`webhook path ${d.path} is declared by both ${otherSource} and ${source}`);
      else if (other.startsWith(`${p}/`) || p.startsWith(`${other}/`))
        problems.push(`webhook path ${d.path} (${source}) is nested in or contains ${other} (${otherSource})`);
    }
    paths.set(p, source);
  }
  if (problems.length > 0) throw new WebhookDefinitionError(problems.join('; '));
}

/** The compiled webhooks of one configuration, looked up by name and by request path. */
export class Registry<S = unknown> {
  readonly webhooks: readonly AnyWebhook<S>[];
  readonly #byName = new Map<string, AnyWebhook<S>>();
  readonly #byPath = new Map<string, { webhook: AnyWebhook<S>; entry: WebhookEntry }>();

  constructor(webhooks: readonly AnyWebhook<S>[]) {
    this.webhooks = webhooks;
    for (const w of webhooks) {
      if (this.#byName.has(w.name))
        throw new WebhookDefinitionError(`webhook name ${JSON.stringify(w.name)} is declared by both ${this.#byName.get(w.name)!.source} and ${w.source}`);
      this.#byName.set(w.name, w);
      for (const entry of w.entries) {
        const other = this.#byPath.get(entry.path);
        if (other) throw new WebhookDefinitionError(`webhook path ${entry.path} is declared by both ${other.webhook.source} and ${w.source}`);
        this.#byPath.set(entry.path, { webhook: w, entry });
      }
    }
  }

  byName(name: string): AnyWebhook<S> | undefined {
    return this.#byName.get(name);
  }

  byPath(path: string): { webhook: AnyWebhook<S>; entry: WebhookEntry } | undefined {
    return this.#byPath.get(path);
  }
}

/** Compiles loaded declarations against a configuration (enforcement overrides included). */
export function buildRegistry<S>(loaded: readonly LoadedDeclaration[], config: Config): Registry<S> {
  checkUnique(loaded);
  const overrides = parseEnforcementOverrides(config.webhookEnforcement);
  for (const name of overrides.keys()) {
    if (!loaded.some((l) => l.declaration.name === name)) {
      throw new WebhookDefinitionError(
        `webhookEnforcement names ${JSON.stringify(name)}, which is not a webhook (known: ${loaded.map((l) => l.declaration.name).join(', ')})`,
      );
    }
  }
  return new Registry<S>(loaded.map((l) => compileWebhook<S, unknown>(l.declaration, config, overrides.get(l.declaration.name), l.source)));
}

/** Loads a webhooks folder and compiles it: what the server, the CLI and the tests call. */
export async function loadRegistry<S>(dir: string, config: Config): Promise<Registry<S>> {
  return buildRegistry<S>(await loadDeclarations(dir), config);
}
