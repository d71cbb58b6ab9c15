// `posture generate`: rewrites every generated file (README sections; webhook manifests and
// docs register their own generators here). `--check` fails instead when a file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReadme } from '../docs/readme.ts';
import { EXIT, UsageError, type Command } from './types.ts';

export interface GeneratedFile {
  path: string;
  render(current: string | undefined): string | Promise<string>;
}

const root = join(import.meta.dirname, '..', '..');

export const generatedFiles: GeneratedFile[] = [
  { path: 'README.md', render: (current) => renderReadme(current ?? '') },
];

function read(path: string): string | undefined {
  try {
    return readFileSync(join(root, path), 'utf8');
  } catch {
    return undefined;
  }
}

/** Paths whose content differs from what the generators produce. */
export async function staleFiles(): Promise<string[]> {
  const stale: string[] = [];
  for (const f of generatedFiles) {
    const current = read(f.path);
    if ((await f.render(current)) !== current) stale.push(f.path);
  }
  return stale;
}

export const commands: Command[] = [
  {
    words: ['generate'],
    usage: 'generate [--check]',
    summary: 'regenerate the README configuration table (and other generated files)',
    async run(args, io) {
      const check = args.includes('--check');
      if (args.some((a) => a !== '--check')) throw new UsageError(`unexpected argument ${JSON.stringify(args.find((a) => a !== '--check'))}`);
      if (check) {
        const stale = await staleFiles();
        for (const s of stale) io.stderr.write(`stale: ${s} (run npm run generate)\n`);
        return stale.length ? EXIT.rejected : EXIT.ok;
      }
      for (const f of generatedFiles) {
        const current = read(f.path);
        const next = await f.render(current);
        if (next !== current) {
          writeFileSync(join(root, f.path), next);
          io.stdout.write(`wrote ${f.path}\n`);
        }
      }
      return EXIT.ok;
    },
  },
];
