// The control plane's supervisor: one detached Node process (its own session and process group)
// per plane. It makes the PKI, starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok as its children, runs the pod-script binder, writes state.json, and
// stops everything it started when:
//   - it gets SIGTERM/SIGINT (cluster:down, ControlPlane.stop()),
//   - no holder process is alive any more (unless the plane is pinned), or
//   - one of its components exits unexpectedly.
// Children are started through `setpriv --pdeathsig SIGKILL`, so they die with the supervisor even
// when it is SIGKILLed; they share its process group, so `kill -- -<pgid>` reaches exactly them.
//
// Usage (normally via harness.ts): node test/cluster/supervisor.ts <stateDir>
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { ETCD_VERSION, freePort, isAlive, K8S_VERSION, KWOK_VERSION, kwokModuleDir, sleep } from './config.ts';
import { createCA, createKey, issueCert, pem } from './pki.ts';
import { KWOK_NODE_NAME, kwokConfigYaml } from './stages.ts';

const NODE_RESOURCES = { cpu: '1k', memory: '1Ti', pods: '1M', 'ephemeral-storage': '100Ti' };

import { startBinder } from './binder.ts';
import { acquireLock, type ComponentState, type PlaneOptions, type PlaneState, readJson as readJsonFile, releaseLock, writeJsonAtomic } from './state.ts';

const stateDir = path.resolve(process.argv[2] ?? '');
if (!process.argv[2] || !existsSync(path.join(stateDir, 'options.json'))) {
  console.error('usage: supervisor.ts <stateDir> (with options.json in it)');
  process.exit(2);
}
const opts = JSON.parse(readFileSync(path.join(stateDir, 'options.json'), 'utf8')) as PlaneOptions;
const logsDir = path.join(stateDir, 'logs');
const pkiDir = path.join(stateDir, 'pki');
const t0 = Date.now();
const log = (msg: string) => console.log(`${new Date().toISOString()} +${Date.now() - t0}ms ${msg}`);

interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: boolean;
}
const children: Child[] = [];
let stopping = false;
const state: PlaneState = {
  status: 'starting',
  supervisorPid: process.pid,
  pgid: process.pid,
  stateDir,
  versions: { kubernetes: K8S_VERSION, etcd: ETCD_VERSION, kwok: KWOK_VERSION },
  components: {},
  startedAt: new Date().toISOString(),
  pinned: !!opts.pinned,
};
const writeState = () => writeJsonAtomic(path.join(stateDir, 'state.json'), state);

const hasSetpriv = (() => {
  try {
    execFileSync('setpriv', ['--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function start(name: string, bin: string, args: string[], env: Record<string, string> = {}): Child {
  const logFile = path.join(logsDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const file = hasSetpriv ? 'setpriv' : bin;
  const argv = hasSetpriv ? ['--pdeathsig', 'SIGKILL', '--', bin, ...args] : args;
  const proc = spawn(file, argv, {
    cwd: stateDir,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  const child: Child = { name, proc, logFile, exited: false };
  children.push(child);
  state.components[name] = { pid: proc.pid ?? 0, log: logFile } satisfies ComponentState;
  log(`started ${name} pid ${proc.pid}: ${bin} ${args.join(' ')}`);
  proc.on('exit', (code, signal) => {
    child.exited = true;
    log(`${name} exited code=${code} signal=${signal}`);
    if (!stopping) void shutdown(`${name} exited unexpectedly (code=${code} signal=${signal}); see ${logFile}`, 1);
  });
  return child;
}

function httpsGet(url: string, tls: { ca?: string; cert?: string; key?: string; insecure?: boolean }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, interval = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (stopping) throw new Error(`stopped while waiting for ${what}`);
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

function kubeconfigYaml(server: string, caFile: string, user: string, certFile: string, keyFile: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: posture-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(pem(caFile)).toString('base64')}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${Buffer.from(pem(certFile)).toString('base64')}`,
    `    client-key-data: ${Buffer.from(pem(keyFile)).toString('base64')}`,
    'contexts:',
    '- name: posture-local',
    '  context:',
    '    cluster: posture-local',
    `    user: ${user}`,
    'current-context: posture-local',
    '',
  ].join('\n');
}

async function applyYamlFile(client: k8s.KubernetesObjectApi, file: string): Promise<void> {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJSON() as k8s.KubernetesObject | null;
    if (!obj?.kind) continue;
    try {
      await client.create(obj);
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
  }
}

let stopBinder: (() => void) | undefined;

async function shutdown(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`shutting down: ${reason}`);
  state.status = code === 0 ? 'stopping' : 'failed';
  state.error = code === 0 ? undefined : reason;
  try {
    writeState();
  } catch {}
  stopBinder?.();
  // clients first (in parallel), then kube-apiserver, then etcd
  const stopOne = async (c: Child) => {
    if (c.exited) return;
    c.proc.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (!c.exited && Date.now() < deadline) await sleep(25);
    if (!c.exited) {
      log(`${c.name} ignored SIGTERM, sending SIGKILL`);
      c.proc.kill('SIGKILL');
      const d2 = Date.now() + 2000;
      while (!c.exited && Date.now() < d2) await sleep(25);
    }
  };
  const order = ['kube-apiserver', 'etcd'];
  await Promise.all(children.filter((c) => !order.includes(c.name)).map(stopOne));
  for (const name of order) for (const c of children.filter((x) => x.name === name)) await stopOne(c);
  if (!opts.keepData) rmSync(path.join(stateDir, 'etcd-data'), { recursive: true, force: true });
  state.status = code === 0 ? 'stopped' : 'failed';
  state.stoppedAt = new Date().toISOString();
  try {
    writeState();
  } catch {}
  log(`stopped (${reason})`);
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
process.on('SIGINT', () => void shutdown('SIGINT', 0));
process.on('SIGHUP', () => void shutdown('SIGHUP', 0));
process.on('uncaughtException', (e) => void shutdown(`uncaught exception: ${e.stack ?? e}`, 1));
process.on('unhandledRejection', (e) => void shutdown(`unhandled rejection: ${(e as Error)?.stack ?? e}`, 1));

/** Holders are files holders/<pid>; with none alive for idleGraceMs, an unpinned plane stops. */
function aliveHolders(): number[] {
  const dir = path.join(stateDir, 'holders');
  const alive: number[] = [];
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    const pid = Number(f);
    if (isAlive(pid)) alive.push(pid);
    else {
      try {
        unlinkSync(path.join(dir, f));
      } catch {}
    }
  }
  return alive;
}

async function watchHolders(): Promise<void> {
  let idleSince: number | undefined;
  for (;;) {
    await sleep(1000);
    if (stopping) return;
    const pinned = readJsonFile<PlaneOptions>(path.join(stateDir, 'options.json'))?.pinned ?? opts.pinned;
    if (pinned !== state.pinned) {
      state.pinned = !!pinned;
      writeState();
    }
    if (pinned) continue;
    if (aliveHolders().length > 0) {
      idleSince = undefined;
      continue;
    }
    idleSince ??= Date.now();
    if (Date.now() - idleSince < (opts.idleGraceMs ?? 15000)) continue;
    // Decide under the lock so that a process which is just attaching (it registers itself as a
    // holder while holding the lock) never gets a plane that is about to go away.
    const lock = opts.lockFile ? await acquireLock(opts.lockFile, 2000).catch(() => undefined) : undefined;
    if (opts.lockFile && !lock) continue;
    try {
      if (aliveHolders().length > 0) {
        idleSince = undefined;
        continue;
      }
      state.status = 'stopping';
      writeState();
    } finally {
      if (lock) releaseLock(lock);
    }
    await shutdown('no holder process alive', 0);
    return;
  }
}

async function main(): Promise<void> {
  mkdirSync(logsDir, { recursive: true });
  writeState();
  const bin = (n: string) => path.join(opts.binDir, n);

  // --- PKI -----------------------------------------------------------------------------------
  const ca = createCA(pkiDir, 'ca', 'posture-local-ca');
  const serving = issueCert({
    ca,
    dir: pkiDir,
    name: 'apiserver',
    commonName: 'kube-apiserver',
    hosts: ['localhost', '127.0.0.1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', '10.0.0.1'],
    usage: 'server',
  });
  const admin = issueCert({ ca, dir: pkiDir, name: 'admin', commonName: 'posture-admin', organizations: ['system:masters'], usage: 'client' });
  const kcmCert = issueCert({ ca, dir: pkiDir, name: 'kube-controller-manager', commonName: 'system:kube-controller-manager', usage: 'client' });
  const schedCert = issueCert({ ca, dir: pkiDir, name: 'kube-scheduler', commonName: 'system:kube-scheduler', usage: 'client' });
  const saKey = createKey(path.join(pkiDir, 'sa.key'));
  log('pki ready');

  const [etcdPort, peerPort, apiPort, kwokPort, kcmPort, schedPort] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = path.join(stateDir, 'admin.kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, ca.cert, 'posture-admin', admin.cert, admin.key), { mode: 0o600 });
  const kcmKubeconfig = path.join(stateDir, 'kube-controller-manager.kubeconfig');
  writeFileSync(kcmKubeconfig, kubeconfigYaml(server, ca.cert, 'system:kube-controller-manager', kcmCert.cert, kcmCert.key), { mode: 0o600 });
  const schedKubeconfig = path.join(stateDir, 'kube-scheduler.kubeconfig');
  writeFileSync(schedKubeconfig, kubeconfigYaml(server, ca.cert, 'system:kube-scheduler', schedCert.cert, schedCert.key), { mode: 0o600 });
  Object.assign(state, {
    server,
    kubeconfig,
    caFile: ca.cert,
    caKeyFile: ca.key,
    ports: { etcd: etcdPort, etcdPeer: peerPort, apiserver: apiPort, kwok: kwokPort, controllerManager: kcmPort, scheduler: schedPort },
    logsDir,
    scriptsDir: path.join(stateDir, 'scripts'),
    podLogsDir: path.join(stateDir, 'pod-logs'),
  });
  mkdirSync(state.scriptsDir!, { recursive: true });
  mkdirSync(state.podLogsDir!, { recursive: true });
  writeState();

  // --- etcd ----------------------------------------------------------------------------------
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  start('etcd', bin('etcd'), [
    '--name=posture',
    `--data-dir=${path.join(stateDir, 'etcd-data')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=posture=http://127.0.0.1:${peerPort}`,
    '--unsafe-no-fsync=true',
    '--auto-compaction-retention=1',
    '--quota-backend-bytes=2147483648',
    '--listen-metrics-urls=',
    '--log-level=warn',
  ]);
  await waitFor('etcd /health', 30000, async () => {
    const r = await fetch(`${etcdUrl}/health`);
    return r.ok && ((await r.json()) as { health?: string }).health === 'true';
  });
  log('etcd healthy');

  // --- kube-apiserver ------------------------------------------------------------------------
  start('kube-apiserver', bin('kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    `--client-ca-file=${ca.cert}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${saKey}`,
    `--service-account-signing-key-file=${saKey}`,
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    '--profiling=false',
    '--v=1',
  ]);
  const adminTls = { ca: pem(ca.cert), cert: pem(admin.cert), key: pem(admin.key) };
  await waitFor('kube-apiserver /readyz', 90000, async () => (await httpsGet(`${server}/readyz`, adminTls)).status === 200, 200);
  log('kube-apiserver ready');

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  await waitFor('namespace default', 30000, async () => !!(await core.readNamespace({ name: 'default' })));

  // --- controller-manager and scheduler -------------------------------------------------------
  start('kube-controller-manager', bin('kube-controller-manager'), [
    `--kubeconfig=${kcmKubeconfig}`,
    `--authentication-kubeconfig=${kcmKubeconfig}`,
    `--authorization-kubeconfig=${kcmKubeconfig}`,
    '--authorization-always-allow-paths=/healthz,/readyz,/livez',
    '--bind-address=127.0.0.1',
    `--secure-port=${kcmPort}`,
    '--leader-elect=false',
    '--controllers=job-controller,garbage-collector-controller,ttl-after-finished-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller',
    '--use-service-account-credentials=true',
    // Throughput for many short Jobs (benchmarks): the defaults (20 qps, 5 job syncs) pace a
    // real cluster's controller, not a test plane's.
    '--kube-api-qps=500',
    '--kube-api-burst=1000',
    '--concurrent-job-syncs=20',
    '--concurrent-gc-syncs=20',
    `--root-ca-file=${ca.cert}`,
    `--service-account-private-key-file=${saKey}`,
    '--profiling=false',
    '--v=1',
  ]);
  start('kube-scheduler', bin('kube-scheduler'), [
    `--kubeconfig=${schedKubeconfig}`,
    `--authentication-kubeconfig=${schedKubeconfig}`,
    `--authorization-kubeconfig=${schedKubeconfig}`,
    '--authorization-always-allow-paths=/healthz,/readyz,/livez',
    '--bind-address=127.0.0.1',
    `--secure-port=${schedPort}`,
    '--leader-elect=false',
    '--kube-api-qps=500',
    '--kube-api-burst=1000',
    '--profiling=false',
    '--v=1',
  ]);

  // --- kwok ----------------------------------------------------------------------------------
  const kwokDir = kwokModuleDir();
  await applyYamlFile(objects, path.join(kwokDir, 'kustomize/crd/bases/kwok.x-k8s.io_logs.yaml'));
  const kwokConfig = path.join(stateDir, 'kwok.yaml');
  writeFileSync(kwokConfig, kwokConfigYaml({ nodePort: kwokPort, enableCRDs: ['Logs'] }));
  const kwokHome = path.join(stateDir, 'kwok-home');
  mkdirSync(kwokHome, { recursive: true });
  await waitFor('kwok Logs CRD established', 30000, async () => {
    const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: 'logs.kwok.x-k8s.io' });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
  start(
    'kwok',
    bin('kwok'),
    [
      `--kubeconfig=${kubeconfig}`,
      `--config=${path.join(kwokDir, 'kustomize/stage/node/fast/node-initialize.yaml')}`,
      `--config=${path.join(kwokDir, 'kustomize/stage/pod/fast/pod-ready.yaml')}`,
      `--config=${path.join(kwokDir, 'kustomize/stage/pod/fast/pod-delete.yaml')}`,
      `--config=${kwokConfig}`,
    ],
    { KWOK_WORKDIR: kwokHome, HOME: kwokHome },
  );

  try {
    await core.createNode({
      body: {
        metadata: {
          name: KWOK_NODE_NAME,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': KWOK_NODE_NAME, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
        },
        // kwok keeps a node's own resources; its defaults lack ephemeral-storage, which Scorecard
        // Jobs request (their /tmp emptyDir), so they would never schedule.
        status: { capacity: NODE_RESOURCES, allocatable: NODE_RESOURCES },
      },
    });
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
  // TaintNodesByCondition admission adds node.kubernetes.io/not-ready:NoSchedule on create; only
  // the node-lifecycle controller (not run: it would need kwok heartbeats) would remove it.
  await core
    .patchNode(
      { name: KWOK_NODE_NAME, body: [{ op: 'replace', path: '/spec/taints', value: [] }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    )
    .catch(async () => {
      await core.patchNode({ name: KWOK_NODE_NAME, body: { spec: { taints: null } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    });
  await waitFor('kwok node Ready', 60000, async () => {
    const n = await core.readNode({ name: KWOK_NODE_NAME });
    return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !n.spec?.taints?.length;
  });
  log('kwok node ready');

  // --- binder, readiness ---------------------------------------------------------------------
  stopBinder = await startBinder(kc, {
    scriptsDir: state.scriptsDir!,
    podLogsDir: state.podLogsDir!,
    log,
    onError: (e) => log(`binder error: ${e}`),
  });
  await waitFor(
    'default ServiceAccount (serviceaccount controller)',
    60000,
    async () => !!(await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })),
    200,
  );
  const healthy = (port: number) => async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, { insecure: true })).status === 200;
  await waitFor('kube-controller-manager /healthz', 30000, healthy(kcmPort), 200);
  await waitFor('kube-scheduler /healthz', 30000, healthy(schedPort), 200);

  state.status = 'ready';
  state.readyAt = new Date().toISOString();
  state.startMs = Date.now() - t0;
  writeState();
  log(`ready in ${state.startMs} ms; KUBECONFIG=${kubeconfig}`);
  void watchHolders();
}

main().catch((e) => void shutdown(`start-up failed: ${(e as Error)?.stack ?? e}`, 1));
