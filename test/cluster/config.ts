// Versions, paths and small process helpers shared by the control-plane harness, its supervisor and
// its CLI. Nothing here starts a cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const K8S_VERSION = process.env.POSTURE_K8S_VERSION ?? 'v1.37.2';
export const ETCD_VERSION = process.env.POSTURE_ETCD_VERSION ?? 'v3.6.16';
export const KWOK_VERSION = process.env.POSTURE_KWOK_VERSION ?? 'v0.8.0';

/** Knative CRDs are read from the Go module cache at run time, never copied into the repo. */
export const KNATIVE_SERVING_MODULE = process.env.POSTURE_KNATIVE_SERVING ?? 'knative.dev/serving@v0.51.0';
/**
 * knative.dev/eventing is not served by the module proxy reachable here (403 for every version);
 * knative.dev/operator ships the released eventing CRDs in cmd/operator/kodata/knative-eventing/<ver>/.
 */
export const KNATIVE_EVENTING_MODULE = process.env.POSTURE_KNATIVE_EVENTING ?? 'knative.dev/operator@v0.42.2';

export const HERE = path.dirname(new URL(import.meta.url).pathname);
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const BUILD_SCRIPT = path.join(HERE, 'build-binaries.sh');
export const SUPERVISOR = path.join(HERE, 'supervisor.ts');

export function cacheDir(): string {
  return process.env.POSTURE_CACHE ?? path.join(os.homedir(), '.cache', 'posture');
}

/** Where build-binaries.sh puts (and finds) the binaries; POSTURE_CP_BIN overrides. */
export function binDir(): string {
  return process.env.POSTURE_CP_BIN ?? path.join(cacheDir(), `cp-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}`, 'bin');
}

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Binary = (typeof BINARIES)[number];

export function missingBinaries(dir = binDir()): string[] {
  return BINARIES.filter((b) => !existsSync(path.join(dir, b)));
}

/**
 * Makes sure the binaries exist; runs build-binaries.sh (15-30 min cold, seconds when cached) if
 * one is missing. POSTURE_CLUSTER_BUILD=0 turns the build into an error instead.
 */
export function ensureBinaries(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): string {
  const dir = binDir();
  const missing = missingBinaries(dir);
  if (missing.length === 0) return dir;
  if (process.env.POSTURE_CLUSTER_BUILD === '0') {
    throw new Error(`control-plane binaries missing in ${dir}: ${missing.join(', ')} (run npm run cluster:build)`);
  }
  log(`control-plane binaries missing (${missing.join(', ')}); building with ${BUILD_SCRIPT} (cold: 15-30 min)`);
  const r = spawnSync('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${BUILD_SCRIPT} failed with exit code ${r.status}`);
  const printed = r.stdout.trim().split('\n').pop() ?? '';
  const out = printed && existsSync(printed) ? printed : dir;
  const still = missingBinaries(out);
  if (still.length) throw new Error(`build finished but ${still.join(', ')} missing in ${out}`);
  return out;
}

const moduleDirs = new Map<string, string>();

/** `go mod download -json <module@version>` -> the module's directory in the Go module cache. */
export function goModuleDir(moduleAtVersion: string): string {
  const hit = moduleDirs.get(moduleAtVersion);
  if (hit) return hit;
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-modcacherw', GO111MODULE: 'on' };
  let out: string;
  try {
    out = execFileSync('go', ['mod', 'download', '-json', moduleAtVersion], {
      env,
      cwd: os.tmpdir(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`go mod download ${moduleAtVersion} failed: ${err.stdout || err.stderr || err.message}`);
  }
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir || info.Error) throw new Error(`go mod download ${moduleAtVersion}: ${info.Error ?? 'no Dir'}`);
  moduleDirs.set(moduleAtVersion, info.Dir);
  return info.Dir;
}

export function kwokModuleDir(): string {
  return goModuleDir(`sigs.k8s.io/kwok@${KWOK_VERSION}`);
}

/** The node binary that runs .ts files (this process's, which is node 24 under npm scripts). */
export function nodeBinary(): string {
  return process.execPath;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that was free a moment ago (for a child process to listen on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
