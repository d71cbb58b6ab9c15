// The on-disk contract between harness.ts (in test processes and the CLI) and supervisor.ts.
//   <stateDir>/options.json   what to start (written by the launcher)
//   <stateDir>/state.json     what runs: status, pids, ports, kubeconfig (written by the supervisor)
//   <stateDir>/holders/<pid>  processes using the plane; an unpinned plane stops when none is alive
//   <stateDir>/logs/*.log     one log per component + supervisor.log
//   <stateDir>/scripts/...    pod scripts (exit code, hold, run time, log files) for the binder
//   <stateDir>/pod-logs/...   the CRI-format log files kwok serves
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { isAlive, sleep } from './config.ts';

export interface PlaneOptions {
  binDir: string;
  /** pinned planes (npm run cluster:up) ignore holders and run until stopped */
  pinned?: boolean;
  /** how long an unpinned plane outlives its last holder */
  idleGraceMs?: number;
  /** lock file shared with the launchers (shared planes) */
  lockFile?: string;
  /** keep etcd's data dir after stop */
  keepData?: boolean;
}

export interface ComponentState {
  pid: number;
  log: string;
}

export interface PlaneState {
  status: 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';
  error?: string;
  supervisorPid: number;
  pgid: number;
  stateDir: string;
  pinned: boolean;
  versions: Record<string, string>;
  components: Record<string, ComponentState>;
  startedAt: string;
  readyAt?: string;
  stoppedAt?: string;
  startMs?: number;
  server?: string;
  kubeconfig?: string;
  caFile?: string;
  caKeyFile?: string;
  ports?: Record<string, number>;
  logsDir?: string;
  scriptsDir?: string;
  podLogsDir?: string;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export interface Lock {
  file: string;
}

/** A lock file holding the owner's pid; a lock whose owner is dead is taken over. */
export async function acquireLock(file: string, timeoutMs: number): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { file };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, 'utf8').trim());
    } catch {}
    if (owner === process.pid) throw new Error(`lock ${file} already held by this process`);
    if (Number.isFinite(owner) && owner > 0 && !isAlive(owner)) {
      try {
        // re-read right before removing so that a fresh owner's lock is not removed
        if (Number(readFileSync(file, 'utf8').trim()) === owner) unlinkSync(file);
      } catch {}
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${file} (held by pid ${owner})`);
    await sleep(100);
  }
}

export function releaseLock(lock: Lock): void {
  try {
    if (Number(readFileSync(lock.file, 'utf8').trim()) === process.pid) unlinkSync(lock.file);
  } catch {}
}
