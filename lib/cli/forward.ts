// While `posture up` holds the embedded database, a command that needs the database runs inside
// it, over its control socket (lib/up/control.ts), instead of failing with "in use". On
// PostgreSQL (DATABASE_URL) every process connects directly and nothing is forwarded.
//
// The command's argv, working folder and stdin go to whoever answers on that socket, and what it
// sends back reaches the caller's terminal; so the socket is used only when the caller's own
// `posture up` must have made it: the data folder, its lock and the socket all belong to the
// caller, and nobody else can write in the folder (else anyone who can write the working folder
// could plant a lock naming a live pid, pid 1 say, and a socket of their own beside it).
import { existsSync, lstatSync, type Stats, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { lockOwner } from '../db/lock.ts';
import { ControlUnreachableError, controlSocketPath, sendControlRequest, UP_HOLDER } from '../up/control.ts';
import type { CliIO } from './types.ts';

/** Runs argv in the running `posture up` and returns its exit code, or undefined when there is none to go through. */
export async function forwardToRunningUp(argv: string[], io: CliIO): Promise<number | undefined> {
  const config = loadConfig(io.env);
  if (config.databaseUrl) return undefined;
  const cwd = io.cwd ?? process.cwd();
  const dataDir = resolve(cwd, config.dataDir);
  const owner = lockOwner(dataDir);
  if (!owner || owner.holder !== UP_HOLDER) return undefined;
  const socket = controlSocketPath(config.dataDir, cwd);
  // posture up takes the lock first and opens the socket once its database is ready.
  const deadline = Date.now() + STARTUP_WAIT_MS;
  let told = false;
  while (!existsSync(socket) && Date.now() < deadline && lockOwner(dataDir)?.holder === UP_HOLDER) {
    if (!told) io.stderr.write(`waiting for posture up (pid ${owner.pid}) to finish starting…\n`);
    told = true;
    await new Promise((r) => setTimeout(r, 200));
  }
  const distrust = untrustedControl(dataDir, socket);
  if (distrust) throw new ControlUnreachableError(`not forwarding to the control socket in ${dataDir}: ${distrust}; the command was not run`);
  return sendControlRequest(socket, { argv, cwd }, { stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, forwardStdin: argv.includes('-') });
}

/**
 * Why the data folder's lock and control socket may not be the caller's own `posture up`'s, or
 * undefined when they are: the folder, the lock and the socket owned by this user (links not
 * followed), the folder writable by nobody else (so nobody else can swap the socket after this
 * check), the socket a socket.
 */
export function untrustedControl(dataDir: string, socket: string, uid: number | undefined = process.getuid?.()): string | undefined {
  if (uid === undefined) return 'this platform cannot say who owns a file';
  const mine = (what: string, st: Stats) => (st.uid === uid ? undefined : `${what} belongs to uid ${st.uid}, not to you (uid ${uid})`);
  try {
    const dir = statSync(dataDir);
    if (!dir.isDirectory()) return `${dataDir} is not a folder`;
    const folder = mine(dataDir, dir);
    if (folder) return folder;
    if ((dir.mode & 0o022) !== 0) return `${dataDir} is writable by others (mode ${(dir.mode & 0o777).toString(8)}; chmod go-w it)`;
    const lock = lstatSync(join(dataDir, 'db.lock'));
    if (!lock.isFile()) return 'its lock is not a regular file';
    const lockOwned = mine('its lock', lock);
    if (lockOwned) return lockOwned;
    const sock = lstatSync(socket);
    if (!sock.isSocket()) return `${socket} is not a socket`;
    return mine(socket, sock);
  } catch (err) {
    return `cannot check it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

/** How long a command waits for a starting `posture up` to open its control socket. */
export const STARTUP_WAIT_MS = 120_000;
