// The embedded database is one process's: PGlite has a single connection and no locking of
// its own, so a second process opening the same folder could corrupt it. A pid file says who
// holds it; a stale one (its process is gone) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export class DatabaseBusyError extends Error {
  constructor(dir: string, pid: number, holder: string) {
    super(`the embedded database in ${dir} is in use by ${holder} (pid ${pid}); stop it first, or set DATABASE_URL to share a PostgreSQL database`);
    this.name = 'DatabaseBusyError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data folder's lock for this process; returns the release function. */
export function lockDataDir(dataDir: string, holder: string): () => void {
  const dir = resolve(dataDir);
  // Only its owner may write in it: the control socket of `posture up` lives here, and the CLI
  // trusts it only in a folder nobody else can write (lib/cli/forward.ts).
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'db.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify({ pid: process.pid, holder }), { flag: 'wx' });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
        process.off('exit', release);
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner: { pid: number; holder: string } | undefined;
      try {
        owner = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        owner = undefined;
      }
      // This very process counts too: two PGlite instances on one folder are as bad as two processes.
      if (owner && (owner.pid === process.pid || alive(owner.pid))) throw new DatabaseBusyError(dir, owner.pid, owner.holder);
      rmSync(file, { force: true }); // stale
    }
  }
  throw new Error(`cannot lock ${file}`);
}

/** Who holds the data folder's lock, if a live process does. */
export function lockOwner(dataDir: string): { pid: number; holder: string } | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(resolve(dataDir), 'db.lock'), 'utf8')) as { pid: number; holder: string };
    return typeof owner.pid === 'number' && alive(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}
