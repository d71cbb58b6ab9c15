// Runs the CLI in-process with captured output, for tests, with the shipped webhooks as
// bin/posture.ts gives them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { WEBHOOKS_DIR } from '../../test/shipped-webhooks.ts';
import { runCli } from './main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliCaptured(argv: string[], env: Record<string, string | undefined>, stdin = '', interactive = false): Promise<CliRun> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c) => chunks.out.push(c));
  err.on('data', (c) => chunks.err.push(c));
  const code = await runCli(argv, { stdin: Readable.from([stdin]), stdout: out, stderr: err, env, interactive, webhooksDir: WEBHOOKS_DIR });
  return { code, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() };
}

/** Writes a file for a CLI test to read, in `dir`; returns its path. */
export function writeInput(dir: string, name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
