// Helpers shared by benchmarks: arguments, medians, process memory and CPU sampling.
import { readdirSync, readFileSync } from 'node:fs';

/** The value after `--name` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Samples a process's resident memory (kB) every `ms` until stopped; returns the samples. */
export function sampleRss(pid: number, ms = 50): { stop(): number[] } {
  const samples: number[] = [];
  const t = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) samples.push(Number(m[1]));
    } catch {
      /* exited */
    }
  }, ms);
  return {
    stop() {
      clearInterval(t);
      return samples;
    },
  };
}

export const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

/** CPU time (ms) a process has used so far in user and in kernel mode, from /proc (10 ms resolution). */
export function processCpu(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at index 2: utime is field 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
}

/** CPU time (user + system, ms) a process has used so far. */
export function processCpuMs(pid: number): number {
  const c = processCpu(pid);
  return c.user + c.system;
}

/** The whole machine's CPU time so far (ms, all cores): busy (not idle or iowait) and total, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0) * 10;
  return { busy: total - (f[3] + f[4]) * 10, total };
}

/** CPU time (ns) a process has used so far, from each thread's schedstat in /proc: its main thread, and all its threads. */
export function threadsCpuNs(pid: number): { main: number; all: number } {
  let all = 0;
  let main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      all += ns;
      if (tid === String(pid)) main = ns;
    } catch {
      /* a thread that ended */
    }
  }
  return { main, all };
}
