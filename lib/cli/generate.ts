// `posture generate`: rewrites every generated file (the generated sections of docs/, such as the
// configuration table in docs/operate/configuration.md, the webhook configurations in
// knative/base/webhooks/ and their docs). `--check` fails instead when one is stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GENERATED_SECTIONS, renderGeneratedSections } from '../config/docs.ts';
import { type Command, EXIT, UsageError } from './types.ts';
import { renderWebhookOutputs } from './webhooks.ts';

const root = join(import.meta.dirname, '..', '..');

function read(path: string): string | undefined {
  try {
    return readFileSync(join(root, path), 'utf8');
  } catch {
    return undefined;
  }
}

/** Every generated file, path (from the repository root) → the content it must have. */
export async function renderGeneratedFiles(webhooksDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const path of Object.keys(GENERATED_SECTIONS)) out.set(path, renderGeneratedSections(path, read(path) ?? ''));
  for (const [path, text] of await renderWebhookOutputs(webhooksDir)) out.set(path, text);
  return out;
}

/** Paths whose content differs from what the generators produce (the webhooks of `webhooksDir`). */
export async function staleFiles(webhooksDir: string): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, text] of await renderGeneratedFiles(webhooksDir)) if (read(path) !== text) stale.push(path);
  return stale;
}

export const commands: Command[] = [
  {
    words: ['generate'],
    usage: 'generate [--check]',
    summary: 'regenerate the generated files: the configuration table in docs/, the webhook YAML and docs',
    async run(args, io) {
      const check = args.includes('--check');
      if (args.some((a) => a !== '--check')) throw new UsageError(`unexpected argument ${JSON.stringify(args.find((a) => a !== '--check'))}`);
      if (check) {
        const stale = await staleFiles(io.webhooksDir);
        for (const s of stale) io.stderr.write(`stale: ${s} (run npm run generate)\n`);
        return stale.length ? EXIT.rejected : EXIT.ok;
      }
      for (const [path, text] of await renderGeneratedFiles(io.webhooksDir)) {
        if (read(path) === text) continue;
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
        io.stdout.write(`wrote ${path}\n`);
      }
      return EXIT.ok;
    },
  },
];
