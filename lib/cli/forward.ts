// While `posture up` holds the embedded database, a command that needs the database runs inside
// it, over its control socket (lib/up/control.ts), instead of failing with "in use". On
// PostgreSQL (DATABASE_URL) every process connects directly and nothing is forwarded.
import { resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { lockOwner } from '../db/lock.ts';
import { controlSocketPath, sendControlRequest } from '../up/control.ts';
import type { CliIO } from './types.ts';

/** The holder name `posture up` writes into the data folder's lock. */
export const UP_HOLDER = 'posture up';

/** Runs argv in the running `posture up` and returns its exit code, or undefined when there is none to go through. */
export async function forwardToRunningUp(argv: string[], io: CliIO): Promise<number | undefined> {
  const config = loadConfig(io.env);
  if (config.databaseUrl) return undefined;
  const cwd = io.cwd ?? process.cwd();
  const owner = lockOwner(resolve(cwd, config.dataDir));
  if (!owner || owner.holder !== UP_HOLDER) return undefined;
  return sendControlRequest(controlSocketPath(config.dataDir, cwd), { argv, cwd }, { stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, forwardStdin: argv.includes('-') });
}
