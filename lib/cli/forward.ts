// While `posture up` holds the embedded database, a command that needs the database runs inside
// it, over its control socket (lib/up/control.ts), instead of failing with "in use". On
// PostgreSQL (DATABASE_URL) every process connects directly and nothing is forwarded.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { lockOwner } from '../db/lock.ts';
import { controlSocketPath, sendControlRequest, UP_HOLDER } from '../up/control.ts';
import type { CliIO } from './types.ts';

/** Runs argv in the running `posture up` and returns its exit code, or undefined when there is none to go through. */
export async function forwardToRunningUp(argv: string[], io: CliIO): Promise<number | undefined> {
  const config = loadConfig(io.env);
  if (config.databaseUrl) return undefined;
  const cwd = io.cwd ?? process.cwd();
  const owner = lockOwner(resolve(cwd, config.dataDir));
  if (!owner || owner.holder !== UP_HOLDER) return undefined;
  const socket = controlSocketPath(config.dataDir, cwd);
  // posture up takes the lock first and opens the socket once its database is ready.
  const deadline = Date.now() + STARTUP_WAIT_MS;
  let told = false;
  while (!existsSync(socket) && Date.now() < deadline && lockOwner(resolve(cwd, config.dataDir))?.holder === UP_HOLDER) {
    if (!told) io.stderr.write(`waiting for posture up (pid ${owner.pid}) to finish starting…\n`);
    told = true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return sendControlRequest(socket, { argv, cwd }, { stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, forwardStdin: argv.includes('-') });
}

/** How long a command waits for a starting `posture up` to open its control socket. */
export const STARTUP_WAIT_MS = 120_000;
