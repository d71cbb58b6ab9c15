// A real local Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (one fake node), built from the Go module proxy (build-binaries.sh), no
// Docker. See README.md in this folder.
//
//   const cp = await getSharedControlPlane();        // one plane per test run, shared by files
//   const batch = cp.kc.makeApiClient(k8s.BatchV1Api);
//   const ns = await cp.createNamespace('harvest');
//   cp.setPodLog({ namespace: ns, jobName: 'j1', content: '{"score":7}\n', exitCode: 0 });
//   ... create Job j1 in ns, wait for Complete, readNamespacedPodLog returns '{"score":7}\n'
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { type PodScript, scriptKeyFile } from './binder.ts';
import { ensureBinaries, goModuleDir, isAlive, KNATIVE_EVENTING_MODULE, KNATIVE_SERVING_MODULE, nodeBinary, SUPERVISOR, sleep } from './config.ts';
import { createCA, issueCert, pem } from './pki.ts';
import { acquireLock, type PlaneOptions, type PlaneState, readJson, releaseLock, writeJsonAtomic } from './state.ts';

export { ANN_EXIT_CODE, ANN_HOLD, ANN_RUN_FOR, ANN_SCRIPT_KEY, KWOK_NODE_NAME } from './stages.ts';
export type { PlaneState, PodScript };

export interface StartOptions {
  /** state directory; default: a fresh temp dir (private plane) or the shared dir (shared plane) */
  stateDir?: string;
  /** keep running after the last holder is gone, until stopControlPlane (npm run cluster:up) */
  pinned?: boolean;
  /** how long the plane outlives its last holder process (shared default 15 s, private 0) */
  idleGraceMs?: number;
  /** start-up timeout in ms (default 180 s; not counting a build of the binaries) */
  timeoutMs?: number;
  /** where progress goes (default: stderr) */
  log?: (s: string) => void;
}

export interface LogChunk {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface PodLogOptions {
  namespace: string;
  /** the Job whose pods get this script (they carry the label batch.kubernetes.io/job-name) */
  jobName?: string;
  /** or: the value of the pod annotation posture.test/script-key (for pods that are not a Job's) */
  key?: string;
  /** what readNamespacedPodLog returns, byte for byte (a string is stdout; chunks interleave streams) */
  content?: string | LogChunk[];
  /** only this container gets the content (default: every container without its own entry) */
  container?: string;
  /** container exit code; an array gives one per pod attempt (e.g. [1, 0] with backoffLimit >= 1) */
  exitCode?: number | number[];
  /** the pod stays Running until deleted */
  hold?: boolean;
  /** how long the pod is Running before it terminates (default 0: "instantly") */
  runForMs?: number;
}

export interface IdentityOptions {
  /** RBAC rules to grant (a Role in `namespace`, or a ClusterRole when namespace is unset) */
  rules?: k8s.V1PolicyRule[];
  namespace?: string;
}

export interface ServingCert {
  cert: string;
  key: string;
  /** PEM of the CA that signed cert */
  ca: string;
  /** base64 of `ca`, ready for a webhook's clientConfig.caBundle */
  caBundle: string;
}

export interface HttpsServer {
  url: string;
  port: number;
  caBundle: string;
  close(): Promise<void>;
}

export interface ControlPlane {
  /** admin (CN=posture-admin, O=system:masters) */
  kc: k8s.KubeConfig;
  kubeconfigPath: string;
  server: string;
  stateDir: string;
  state: PlaneState;
  /** true when this handle started the plane */
  started: boolean;
  shared: boolean;
  /** private plane: stop it. shared plane: stop holding it (it stops when no holder is left). */
  stop(): Promise<void>;
  setPodLog(o: PodLogOptions): void;
  asUser(user: string, groups?: string[], o?: IdentityOptions): Promise<k8s.KubeConfig>;
  asServiceAccount(namespace: string, name: string, o?: IdentityOptions & { expirationSeconds?: number; audiences?: string[] }): Promise<k8s.KubeConfig>;
  createNamespace(prefix?: string): Promise<string>;
  installKnativeCrds(o?: { serving?: boolean; eventing?: boolean; timeoutMs?: number }): Promise<string[]>;
  servingCert(hosts?: string[]): ServingCert;
  startHttpsServer(handler: (req: IncomingMessage, res: ServerResponse) => void, hosts?: string[]): Promise<HttpsServer>;
  /** resident memory (kB) of the supervisor and each component, and their sum */
  rss(): { total: number; byComponent: Record<string, number> };
  /** component name -> log file */
  logFiles(): Record<string, string>;
  /** last lines of every component log, for failure messages */
  diagnostics(lines?: number): string;
}

const defaultLog = (s: string) => process.stderr.write(`[cluster] ${s}\n`);

export function sharedStateDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return process.env.POSTURE_CLUSTER_DIR ?? path.join(os.tmpdir(), `posture-cluster-${uid}`);
}

function readState(dir: string): PlaneState | undefined {
  return readJson<PlaneState>(path.join(dir, 'state.json'));
}

function httpsStatus(url: string, tls: { ca: string; cert: string; key: string }): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ...tls, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** A plane is healthy when its supervisor and components live and the apiserver is ready. */
export async function isHealthy(st: PlaneState | undefined): Promise<boolean> {
  if (st?.status !== 'ready' || !st.server || !isAlive(st.supervisorPid)) return false;
  if (!Object.values(st.components).every((c) => isAlive(c.pid))) return false;
  const pki = path.join(st.stateDir, 'pki');
  try {
    const tls = { ca: pem(st.caFile!), cert: pem(path.join(pki, 'admin.crt')), key: pem(path.join(pki, 'admin.key')) };
    return (await httpsStatus(`${st.server}/readyz`, tls)) === 200;
  } catch {
    return false;
  }
}

/** pids whose process group is pgid (read from /proc), i.e. exactly the supervisor's own tree. */
function pidsInGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(d));
    } catch {}
  }
  return out;
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Stops the plane described by st: SIGTERM to its supervisor, then SIGKILL to what is left of its process group. */
export async function killPlane(st: PlaneState, timeoutMs = 20000): Promise<void> {
  if (isAlive(st.supervisorPid)) {
    try {
      process.kill(st.supervisorPid, 'SIGTERM');
    } catch {}
    const deadline = Date.now() + timeoutMs;
    while (isAlive(st.supervisorPid) && Date.now() < deadline) await sleep(100);
  }
  const left = new Set([...pidsInGroup(st.pgid), ...Object.values(st.components).map((c) => c.pid)].filter(isAlive));
  for (const pid of left) {
    // only processes that are still in the plane's own process group
    if (pidsInGroup(st.pgid).includes(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}

function logTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function diagnosticsFor(stateDir: string, lines = 15): string {
  const logs = path.join(stateDir, 'logs');
  const files = existsSync(logs) ? readdirSync(logs).map((f) => path.join(logs, f)) : [];
  return [`control-plane state dir: ${stateDir}`, ...files.map((f) => `--- ${f} (last ${lines} lines)\n${logTail(f, lines)}`)].join('\n');
}

function registerHolder(stateDir: string, includeRunner: boolean): string[] {
  const dir = path.join(stateDir, 'holders');
  mkdirSync(dir, { recursive: true });
  const pids = [process.pid];
  // node --test runs each file in a child process: hold the plane for the whole run via the runner.
  if (includeRunner && process.env.NODE_TEST_CONTEXT?.startsWith('child')) pids.push(process.ppid);
  for (const pid of pids) writeFileSync(path.join(dir, String(pid)), '');
  return pids.map((p) => path.join(dir, String(p)));
}

async function spawnAndWait(stateDir: string, timeoutMs: number, log: (s: string) => void): Promise<PlaneState> {
  const supLog = path.join(stateDir, 'logs', 'supervisor.log');
  const fd = openSync(supLog, 'a');
  const child = spawn(nodeBinary(), [SUPERVISOR, stateDir], {
    detached: true, // own session and process group
    stdio: ['ignore', fd, fd],
    cwd: stateDir,
  });
  closeSync(fd);
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code, sig) => (exited = `supervisor exited (code=${code} signal=${sig})`));
  const t0 = Date.now();
  log(`starting control plane in ${stateDir} (supervisor pid ${child.pid})`);
  for (;;) {
    const st = readState(stateDir);
    if (st?.status === 'ready') {
      log(`control plane ready in ${Date.now() - t0} ms: KUBECONFIG=${st.kubeconfig}`);
      return st;
    }
    if (st?.status === 'failed' || exited) {
      const msg = `control plane failed to start: ${st?.error ?? exited}\n${diagnosticsFor(stateDir)}`;
      if (child.pid && isAlive(child.pid) && st) await killPlane(st);
      throw new Error(msg);
    }
    if (Date.now() - t0 > timeoutMs) {
      if (st) await killPlane(st);
      else if (child.pid) process.kill(child.pid, 'SIGKILL');
      throw new Error(`control plane not ready after ${timeoutMs} ms\n${diagnosticsFor(stateDir)}`);
    }
    await sleep(100);
  }
}

/**
 * Private planes that were killed hard leave etcd's data (~120 MB) behind: remove it from dead
 * planes, and remove dead planes' dirs (logs) after a day.
 */
function sweepPrivateDirs(): void {
  const base = os.tmpdir();
  for (const d of readdirSync(base)) {
    if (!d.startsWith('posture-cp-')) continue;
    const dir = path.join(base, d);
    const st = readState(dir);
    if (st && (isAlive(st.supervisorPid) || pidsInGroup(st.pgid).length)) continue;
    try {
      const age = Date.now() - statSync(dir).mtimeMs;
      rmSync(age > 24 * 3600 * 1000 ? dir : path.join(dir, 'etcd-data'), { recursive: true, force: true });
    } catch {}
  }
}

/** Starts a private plane (its own state dir), stopped by stop() or when this process dies. */
export async function startControlPlane(o: StartOptions = {}): Promise<ControlPlane> {
  const log = o.log ?? defaultLog;
  if (!o.stateDir) sweepPrivateDirs();
  const binDir = ensureBinaries(log);
  const stateDir = o.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'posture-cp-'));
  const opts: PlaneOptions = { binDir, pinned: !!o.pinned, idleGraceMs: o.idleGraceMs ?? 0 };
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  if (!o.pinned) registerHolder(stateDir, false);
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  writeJsonAtomic(path.join(stateDir, 'options.json'), opts);
  const st = await spawnAndWait(stateDir, o.timeoutMs ?? 180000, log);
  return handle(st, { started: true, shared: false });
}

let sharedPromise: Promise<ControlPlane> | undefined;

/**
 * The plane shared by every test file of a run (and by `npm run cluster:up`): reused if one is
 * running and healthy, else started. A lock file serialises concurrent callers. The plane stops
 * idleGraceMs after the last holder process (this test process and the node --test runner) is gone.
 */
export function getSharedControlPlane(o: StartOptions = {}): Promise<ControlPlane> {
  sharedPromise ??= attachShared(o).catch((e) => {
    sharedPromise = undefined;
    throw e;
  });
  return sharedPromise;
}

async function attachShared(o: StartOptions): Promise<ControlPlane> {
  const log = o.log ?? defaultLog;
  const stateDir = o.stateDir ?? sharedStateDir();
  mkdirSync(path.dirname(stateDir), { recursive: true });
  const lock = await acquireLock(`${stateDir}.lock`, 60 * 60 * 1000);
  try {
    let st = readState(stateDir);
    if (await isHealthy(st)) {
      if (o.pinned) {
        const optFile = path.join(stateDir, 'options.json');
        writeJsonAtomic(optFile, { ...readJson<PlaneOptions>(optFile), pinned: true });
      } else registerHolder(stateDir, true);
      return handle(st!, { started: false, shared: true });
    }
    if (st && isAlive(st.supervisorPid)) {
      log(`shared control plane in ${stateDir} is unhealthy (status ${st.status}); restarting it`);
      await killPlane(st);
    }
    const binDir = ensureBinaries(log);
    const opts: PlaneOptions = {
      binDir,
      pinned: !!o.pinned,
      idleGraceMs: o.idleGraceMs ?? Number(process.env.POSTURE_CLUSTER_IDLE_MS ?? 15000),
      lockFile: `${stateDir}.lock`,
    };
    rmSync(stateDir, { recursive: true, force: true });
    if (!o.pinned) registerHolder(stateDir, true);
    mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
    writeJsonAtomic(path.join(stateDir, 'options.json'), opts);
    st = await spawnAndWait(stateDir, o.timeoutMs ?? 180000, log);
    return handle(st, { started: true, shared: true });
  } finally {
    releaseLock(lock);
  }
}

/** Stops the plane in stateDir (default: the shared one). Returns false when none was running. */
export async function stopControlPlane(stateDir = sharedStateDir()): Promise<boolean> {
  const st = readState(stateDir);
  if (!st || (!isAlive(st.supervisorPid) && !pidsInGroup(st.pgid).length)) return false;
  await killPlane(st);
  return true;
}

/** Attaches to a running plane's state dir without holding it (e.g. for scripts). */
export async function attachControlPlane(stateDir = sharedStateDir()): Promise<ControlPlane | undefined> {
  const st = readState(stateDir);
  return (await isHealthy(st)) ? handle(st!, { started: false, shared: true }) : undefined;
}

// ---------------------------------------------------------------------------------------------

/** RFC3339Nano timestamp with microsecond steps so that line order is kept. */
function criTimestamp(base: number, i: number): string {
  const d = new Date(base);
  const iso = d.toISOString(); // 2026-11-23T09:30:00.123Z
  const micros = String(i % 1000000).padStart(6, '0');
  return `${iso.slice(0, 23)}${micros}Z`;
}

/** Content -> CRI log file text. A final line without "\n" becomes a partial (P) line, so it round-trips. */
export function toCriLog(content: string | LogChunk[], base = Date.now()): string {
  const chunks = typeof content === 'string' ? [{ stream: 'stdout' as const, text: content }] : content;
  const out: string[] = [];
  let i = 0;
  for (const { stream, text } of chunks) {
    if (!text) continue;
    const parts = text.split('\n');
    const last = parts.pop()!; // '' when text ends with \n
    for (const line of parts) out.push(`${criTimestamp(base, i++)} ${stream} F ${line}\n`);
    if (last !== '') out.push(`${criTimestamp(base, i++)} ${stream} P ${last}\n`);
  }
  return out.join('');
}

function handle(st: PlaneState, how: { started: boolean; shared: boolean }): ControlPlane {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(st.kubeconfig!);
  const stateDir = st.stateDir;
  const userCerts = new Map<string, k8s.KubeConfig>();
  const cluster = () => kc.getCurrentCluster()!;

  function kcFor(name: string, user: Partial<k8s.User>): k8s.KubeConfig {
    const c = new k8s.KubeConfig();
    c.loadFromOptions({
      clusters: [cluster()],
      users: [{ name, ...user }],
      contexts: [{ name, cluster: cluster().name, user: name }],
      currentContext: name,
    });
    return c;
  }

  async function grant(subject: k8s.RbacV1Subject, o: IdentityOptions | undefined): Promise<void> {
    if (!o?.rules?.length) return;
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const name = `posture-test-${subject.kind.toLowerCase()}-${subject.name}`.replace(/[^a-z0-9.-]/g, '-').slice(0, 200);
    const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: o.namespace ? 'Role' : 'ClusterRole', name };
    const ignore409 = (e: unknown) => {
      if ((e as { code?: number }).code !== 409) throw e;
    };
    if (o.namespace) {
      await rbac.createNamespacedRole({ namespace: o.namespace, body: { metadata: { name }, rules: o.rules } }).catch(ignore409);
      await rbac.createNamespacedRoleBinding({ namespace: o.namespace, body: { metadata: { name }, roleRef, subjects: [subject] } }).catch(ignore409);
    } else {
      await rbac.createClusterRole({ body: { metadata: { name }, rules: o.rules } }).catch(ignore409);
      await rbac.createClusterRoleBinding({ body: { metadata: { name }, roleRef, subjects: [subject] } }).catch(ignore409);
    }
  }

  const cp: ControlPlane = {
    kc,
    kubeconfigPath: st.kubeconfig!,
    server: st.server!,
    stateDir,
    state: st,
    started: how.started,
    shared: how.shared,

    async stop() {
      if (how.shared) {
        try {
          rmSync(path.join(stateDir, 'holders', String(process.pid)), { force: true });
        } catch {}
        if (sharedPromise) sharedPromise = undefined;
        return;
      }
      await killPlane(st);
    },

    setPodLog(o) {
      const key = o.key ? (o.key.includes('/') ? o.key : `${o.namespace}/${o.key}`) : `${o.namespace}/${o.jobName}`;
      if (!o.key && !o.jobName) throw new Error('setPodLog needs jobName or key');
      const file = scriptKeyFile(st.scriptsDir!, key);
      const script: PodScript = readJson<PodScript>(file) ?? {};
      if (o.exitCode !== undefined) script.exitCode = o.exitCode;
      if (o.hold !== undefined) script.hold = o.hold;
      if (o.runForMs !== undefined) script.runForMs = o.runForMs;
      if (o.content !== undefined) {
        const dir = path.join(st.podLogsDir!, encodeURIComponent(key));
        mkdirSync(dir, { recursive: true });
        const container = o.container ?? '*';
        const logFile = path.join(dir, `${container === '*' ? '_all' : container}.log`);
        writeFileSync(logFile, toCriLog(o.content));
        script.logs = { ...script.logs, [container]: logFile };
      }
      writeJsonAtomic(file, script);
    },

    async asUser(user, groups = [], o) {
      const id = JSON.stringify([user, groups]);
      let c = userCerts.get(id);
      if (!c) {
        const dir = path.join(stateDir, 'pki', 'users');
        const name = `u-${Buffer.from(id).toString('hex').slice(0, 40)}-${process.pid}-${userCerts.size}`;
        const files = issueCert({
          ca: { cert: st.caFile!, key: st.caKeyFile! },
          dir,
          name,
          commonName: user,
          organizations: groups,
          usage: 'client',
          days: 2,
        });
        c = kcFor(user, { certData: Buffer.from(pem(files.cert)).toString('base64'), keyData: Buffer.from(pem(files.key)).toString('base64') });
        userCerts.set(id, c);
      }
      await grant({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }, o);
      return c;
    },

    async asServiceAccount(namespace, name, o) {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch((e) => {
        if ((e as { code?: number }).code !== 409) throw e;
      });
      await grant({ kind: 'ServiceAccount', name, namespace }, o);
      const tr = await core.createNamespacedServiceAccountToken({
        name,
        namespace,
        body: { spec: { expirationSeconds: o?.expirationSeconds ?? 3600, audiences: o?.audiences ?? [] } },
      });
      return kcFor(`system:serviceaccount:${namespace}:${name}`, { token: tr.status!.token });
    },

    async createNamespace(prefix = 't') {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const ns = await core.createNamespace({ body: { metadata: { generateName: `${prefix}-` } } });
      const name = ns.metadata!.name!;
      // ServiceAccount admission rejects pods until the controller made the default ServiceAccount.
      const deadline = Date.now() + 30000;
      for (;;) {
        try {
          await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
          return name;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`no default ServiceAccount in ${name} after 30 s: ${e}`);
          await sleep(50);
        }
      }
    },

    async installKnativeCrds(o = {}) {
      const files: string[] = [];
      if (o.serving !== false) {
        const dir = path.join(goModuleDir(KNATIVE_SERVING_MODULE), 'config/core/300-resources');
        files.push(
          ...readdirSync(dir)
            .filter((f) => f.endsWith('.yaml'))
            .sort()
            .map((f) => path.join(dir, f)),
        );
      }
      if (o.eventing !== false) files.push(...knativeEventingCrdFiles());
      const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
      const names: string[] = [];
      for (const f of files) {
        for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
          const obj = doc.toJSON() as k8s.V1CustomResourceDefinition | null;
          if (obj?.kind !== 'CustomResourceDefinition') continue;
          await objects.patch(obj as k8s.KubernetesObject, undefined, undefined, 'posture-test-harness', true, k8s.PatchStrategy.ServerSideApply);
          names.push(obj.metadata!.name!);
        }
      }
      const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
      const deadline = Date.now() + (o.timeoutMs ?? 60000);
      for (const name of names) {
        for (;;) {
          const crd = await ext.readCustomResourceDefinition({ name });
          if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
          if (Date.now() > deadline) throw new Error(`CRD ${name} not Established in time`);
          await sleep(100);
        }
      }
      return names;
    },

    servingCert(hosts = ['127.0.0.1', 'localhost']) {
      const dir = mkdtempSync(path.join(stateDir, 'pki', 'serving-'));
      const ca = createCA(dir, 'ca', 'posture-test-webhook-ca');
      const c = issueCert({ ca, dir, name: 'serving', commonName: hosts[0], hosts, usage: 'server', days: 2 });
      const caPem = pem(ca.cert);
      return { cert: pem(c.cert), key: pem(c.key), ca: caPem, caBundle: Buffer.from(caPem).toString('base64') };
    },

    async startHttpsServer(handler, hosts = ['127.0.0.1', 'localhost']) {
      const sc = cp.servingCert(hosts);
      const srv = https.createServer({ cert: sc.cert, key: sc.key }, handler);
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const port = (srv.address() as { port: number }).port;
      return {
        url: `https://127.0.0.1:${port}`,
        port,
        caBundle: sc.caBundle,
        close: () =>
          new Promise<void>((r) => {
            srv.closeAllConnections();
            srv.close(() => r());
          }),
      };
    },

    rss() {
      const byComponent: Record<string, number> = { supervisor: rssKb(st.supervisorPid) };
      for (const [n, c] of Object.entries(st.components)) byComponent[n] = rssKb(c.pid);
      return { total: Object.values(byComponent).reduce((a, b) => a + b, 0), byComponent };
    },

    logFiles() {
      return { supervisor: path.join(st.logsDir!, 'supervisor.log'), ...Object.fromEntries(Object.entries(st.components).map(([n, c]) => [n, c.log])) };
    },

    diagnostics(lines = 15) {
      return diagnosticsFor(stateDir, lines);
    },
  };
  return cp;
}

/** Polls a Job until it has a Complete or Failed condition (status True). */
export async function waitForJobFinished(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  timeoutMs = 30000,
): Promise<{ condition: 'Complete' | 'Failed'; job: k8s.V1Job }> {
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await batch.readNamespacedJob({ name, namespace });
    const c = job.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
    if (c) return { condition: c.type as 'Complete' | 'Failed', job };
    if (Date.now() > deadline) {
      const pods = (await jobPods(kc, namespace, name).catch(() => [])).map((p) => ({
        name: p.metadata?.name,
        node: p.spec?.nodeName,
        phase: p.status?.phase,
        annotations: Object.fromEntries(Object.entries(p.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('posture.test/'))),
      }));
      throw new Error(
        `Job ${namespace}/${name} not finished after ${timeoutMs} ms: status ${JSON.stringify(job.status)}; pods ${JSON.stringify(pods)}` +
          " (pods without posture.test/* annotations were not seen by the binder: see the plane's logs/supervisor.log)",
      );
    }
    await sleep(100);
  }
}

/** The pods of a Job (label batch.kubernetes.io/job-name), oldest first. */
export async function jobPods(kc: k8s.KubeConfig, namespace: string, jobName: string): Promise<k8s.V1Pod[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${jobName}` });
  return list.items.sort((a, b) => +new Date(a.metadata!.creationTimestamp!) - +new Date(b.metadata!.creationTimestamp!));
}

/** Eventing CRD files: from knative.dev/eventing (config/core/resources) or knative.dev/operator's kodata. */
export function knativeEventingCrdFiles(): string[] {
  const dir = goModuleDir(KNATIVE_EVENTING_MODULE);
  if (KNATIVE_EVENTING_MODULE.startsWith('knative.dev/operator@')) {
    const base = path.join(dir, 'cmd/operator/kodata/knative-eventing');
    const versions = readdirSync(base).sort((a, b) => {
      const pa = a.split('.').map(Number);
      const pb = b.split('.').map(Number);
      for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
      return 0;
    });
    const v = process.env.POSTURE_KNATIVE_EVENTING_RELEASE ?? versions[versions.length - 1];
    return [path.join(base, v, '1-eventing-crds.yaml')];
  }
  const res = path.join(dir, 'config/core/resources');
  return readdirSync(res)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(res, f));
}
