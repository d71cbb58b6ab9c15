// Opening a file named on the command line: every problem is one line that names the file and
// says what is wrong (no stack, no errno jargon).
import { readFileSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { type CliIO, InputError } from './types.ts';

/** Says what went wrong with a file in plain words. */
export function describeFileError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    default:
      return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(e.message ?? e);
  }
}

const shown = (name: string) => JSON.stringify(name);

/** Opens a file for streaming ('-' is standard input). Throws InputError (exit 1) with one line. */
export async function openInput(name: string, io: CliIO): Promise<Readable> {
  if (name === '-') return io.stdin;
  const path = resolve(io.cwd ?? process.cwd(), name);
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const st = await handle.stat();
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (err) {
    await handle?.close();
    throw new InputError(`cannot read ${shown(name)}: ${describeFileError(err)}`);
  }
  return handle.createReadStream();
}

/** Reads a whole (small) file as UTF-8 text; one line on any problem. */
export function readTextFile(name: string, io: CliIO, maxBytes = 64 * 1024 * 1024): string {
  const path = resolve(io.cwd ?? process.cwd(), name);
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    if (st.size > maxBytes) throw new InputError(`cannot read ${shown(name)}: larger than ${maxBytes} bytes`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${shown(name)}: ${describeFileError(err)}`);
  }
}
