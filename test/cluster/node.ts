// A real node for the real-node tier (test/node/): containerd, runc and a real kubelet joined to a
// running local control plane (the harness's startControlPlane() private plane), so pods really run.
// See README.md in this folder, and docs/develop/testing.md.
//
//   const cp = await startControlPlane();
//   const node = await startRealNode(cp, { images: [scorecardImage('v5.5.0')] });
//   ... Jobs now run for real on node.name (the plane's kwok nodes are cordoned) ...
//   await node.stop();   // pods deleted through the API, processes stopped, machine restored
//
// containerd and the kubelet still use a few fixed paths (/run/containerd/s for shim sockets,
// /var/log/containers, libcni's cache in /var/lib/cni), the bridge and the iptables chains: one real
// node per machine at a time, guarded by a lock file. Everything else lives in a temp dir.
// Before it changes anything, start records what the machine looked like (record file beside the
// lock); stop() puts it back, and so does the next start when a process died holding the node.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { BUILD_SCRIPT, binDir, isAlive, sleep } from './config.ts';
import type { ControlPlane } from './harness.ts';
import { type ImageArchive, pauseImage } from './images.ts';
import { createCA, issueCert, pem } from './pki.ts';
import { readJson, writeJsonAtomic } from './state.ts';

/** One real node per machine: this lock holds the owner's pid. */
export const NODE_LOCK = '/run/posture-real-node.lock';
/** What the machine looked like before, and what the node started (for a later clean-up). */
export const NODE_RECORD = '/run/posture-real-node.json';
export const BRIDGE = 'posture-br0';
/** Paths containerd or the kubelet create that no setting moves. */
const FIXED_PATHS = ['/run/containerd', '/var/log/containers', '/var/lib/cni', '/run/netns'];
/** Kernel settings the bridge plugin (ip_forward) and the kubelet (the others) change. */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
];
const APT_PACKAGES = 'containerd runc containernetworking-plugins iptables conntrack';
const CNI_BIN = '/usr/lib/cni';

export interface RealNodeOptions {
  /** node name (default posture-real-node) */
  name?: string;
  /** the pod network is 10.244.<subnet>.0/24, the bridge at .1 (default 250) */
  subnet?: number;
  /** images imported before start returns (the sandbox image always is) */
  images?: ImageArchive[];
  /** cordon the plane's kwok nodes so pods land on this node (default true; undone by stop) */
  cordonKwokNodes?: boolean;
  /** time for the node to become Ready (default 120 s) */
  readyTimeoutMs?: number;
  log?: (s: string) => void;
}

export interface RealNode {
  name: string;
  /** node.status.nodeInfo.kubeletVersion, as the node reports it */
  kubeletVersion: string;
  /** from `containerd --version` */
  containerdVersion: string;
  /** the CNI bridge's address: the node IP, the kubelet's address, reachable from pods */
  bridgeIp: string;
  podCidr: string;
  /** the node's temp dir (logs/ stays after stop) */
  dir: string;
  /** ms from start to Ready and untainted, images imported */
  startMs: number;
  logFiles: { containerd: string; kubelet: string };
  /** `ctr -n k8s.io images import` of a docker-archive or OCI tarball */
  importImage(tarPath: string): Promise<void>;
  /** where a server for pods listens (the bridge address) and the IP SANs its certificate needs */
  podReachableAddress(): { host: string; ipSans: string[] };
  diagnostics(lines?: number): string;
  /** deletes the node's pods through the API, stops kubelet and containerd, restores the machine */
  stop(): Promise<{ ms: number }>;
}

// --- what the machine looks like ------------------------------------------------------------

export interface MachineSnapshot {
  links: string[];
  mounts: string[];
  sysctls: Record<string, string>;
  /** `nft list tables` lines: "table ip filter" */
  nftTables: string[];
  /** family -> table -> chains and rules, as iptables-save prints them (no counters) */
  iptables: Record<string, Record<string, { chains: string[]; rules: string[] }>>;
  paths: Record<string, boolean>;
  /** cgroup hierarchy -> its top-level child cgroups */
  cgroups: Record<string, string[]>;
  netns: string[];
}

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Mount points from /proc/self/mountinfo (octal escapes undone). */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8))));
}

function iptablesState(family: 'ip' | 'ip6'): Record<string, { chains: string[]; rules: string[] }> {
  const r = run(family === 'ip' ? 'iptables-save' : 'ip6tables-save', []);
  const out: Record<string, { chains: string[]; rules: string[] }> = {};
  let table: { chains: string[]; rules: string[] } | undefined;
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith('*')) out[line.slice(1)] = table = { chains: [], rules: [] };
    else if (line.startsWith(':') && table) table.chains.push(line.slice(1).split(' ')[0]);
    else if (line.startsWith('-A ') && table) table.rules.push(line);
  }
  return out;
}

export function machineSnapshot(): MachineSnapshot {
  const sysctls: Record<string, string> = {};
  for (const s of SYSCTLS) {
    try {
      sysctls[s] = readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    } catch {}
  }
  const cgroups: Record<string, string[]> = {};
  for (const h of listDir('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h);
    cgroups[h] = listDir(dir).filter((d) => {
      try {
        return statSync(path.join(dir, d)).isDirectory();
      } catch {
        return false;
      }
    });
  }
  return {
    links: listDir('/sys/class/net'),
    mounts: mountPoints(),
    sysctls,
    nftTables: (run('nft', ['list', 'tables']).stdout ?? '').trim().split('\n').filter(Boolean).sort(),
    iptables: { ip: iptablesState('ip'), ip6: iptablesState('ip6') },
    paths: Object.fromEntries(FIXED_PATHS.map((p) => [p, existsSync(p)])),
    cgroups,
    netns: listDir('/run/netns'),
  };
}

/** What differs between two snapshots, one line per difference (empty: the same). */
export function snapshotDiff(before: MachineSnapshot, after: MachineSnapshot): string[] {
  const out: string[] = [];
  const sets = (what: string, a: string[], b: string[]) => {
    for (const x of b) if (!a.includes(x)) out.push(`${what} added: ${x}`);
    for (const x of a) if (!b.includes(x)) out.push(`${what} removed: ${x}`);
  };
  sets('link', before.links, after.links);
  sets('mount', before.mounts, after.mounts);
  sets('nft', before.nftTables, after.nftTables);
  sets('netns', before.netns, after.netns);
  for (const [k, v] of Object.entries(before.sysctls)) if (after.sysctls[k] !== v) out.push(`sysctl ${k}: ${v} -> ${after.sysctls[k]}`);
  for (const [p, v] of Object.entries(before.paths)) if (after.paths[p] !== v) out.push(`path ${p}: ${v ? 'existed, now gone' : 'created'}`);
  for (const fam of ['ip', 'ip6']) {
    const a = before.iptables[fam] ?? {};
    const b = after.iptables[fam] ?? {};
    sets(`${fam} table`, Object.keys(a), Object.keys(b));
    for (const t of Object.keys(b).filter((t) => a[t])) {
      sets(`${fam} ${t} chain`, a[t].chains, b[t].chains);
      sets(`${fam} ${t} rule`, a[t].rules, b[t].rules);
    }
  }
  for (const h of Object.keys(after.cgroups)) sets(`cgroup ${h}`, before.cgroups[h] ?? [], after.cgroups[h]);
  return out;
}

/** Processes a node leaves when stopped badly: anything naming its dir, or in a pod's cgroup. */
export function nodeProcesses(dir?: string): string[] {
  const out: string[] = [];
  for (const p of listDir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const cg = readFileSync(`/proc/${p}/cgroup`, 'utf8');
      if ((dir && cmd.includes(dir)) || /\/kubepods\b/.test(cg)) out.push(`${p} ${cmd}`);
    } catch {}
  }
  return out;
}

// --- iptables-save lines back into arguments ---------------------------------------------------

/** Splits an iptables-save rule into argv (double quotes group, backslash escapes). */
export function ruleArgs(line: string): string[] {
  const args: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (c === '"') {
      quoted = !quoted;
      has = true;
    } else if (c === ' ' && !quoted) {
      if (has) args.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) args.push(cur);
  return args;
}

// --- clean-up, shared by stop() and by recovery after a dead owner -----------------------------

interface NodeRecord {
  pid: number;
  dir: string;
  bridge: string;
  before: MachineSnapshot;
  pids: Record<string, number>;
}

/** Puts the machine back as `before` says, as far as this node changed it. Returns what failed. */
function restoreMachine(rec: NodeRecord, log: (s: string) => void): string[] {
  const problems: string[] = [];
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      problems.push(`${what}: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`);
    }
  };
  const exec = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  // 1. processes: the ones it started (if they still run this node's command line), then any
  //    containerd shim or container process of this node (their command line names its dir)
  for (const [name, pid] of Object.entries(rec.pids)) {
    if (!isAlive(pid)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {}
    if (cmd.includes(rec.dir)) attempt(`kill ${name} ${pid}`, () => process.kill(pid, 'SIGKILL'));
  }
  // the shim keeps runc's state per containerd namespace: <runc root>/k8s.io
  for (const ns of listDir(path.join(rec.dir, 'runc'))) {
    const root = path.join(rec.dir, 'runc', ns);
    for (const c of JSON.parse(run('runc', ['--root', root, 'list', '--format', 'json']).stdout || 'null') ?? []) {
      attempt(`runc delete ${c.id}`, () => exec('runc', ['--root', root, 'delete', '--force', c.id]));
    }
  }
  const killed: number[] = [];
  for (const line of nodeProcesses(rec.dir)) {
    const pid = Number(line.split(' ')[0]);
    log(`killing a process the node left: ${line.slice(0, 200)}`);
    attempt(`kill ${pid}`, () => process.kill(pid, 'SIGKILL'));
    killed.push(pid);
  }
  // gone before their mounts and cgroups are removed (a cgroup with a task cannot be)
  const deadline = Date.now() + 5000;
  while (killed.some(isAlive) && Date.now() < deadline) sleepSync(50);
  // 2. mounts: under the node's dir and what containerd mounted in the fixed places (deepest first)
  const newNetns = listDir('/run/netns').filter((n) => !rec.before.netns.includes(n));
  const places = [rec.dir, ...newNetns.map((n) => `/run/netns/${n}`), ...(rec.before.paths['/run/containerd'] ? [] : ['/run/containerd'])];
  for (let pass = 0; pass < 3; pass++) {
    const mine = mountPoints()
      .filter((m) => !rec.before.mounts.includes(m) && places.some((p) => m === p || m.startsWith(`${p}/`)))
      .sort((a, b) => b.length - a.length);
    if (mine.length === 0) break;
    for (const m of mine) {
      if (spawnSync('umount', [m]).status !== 0 && pass > 0) attempt(`umount ${m}`, () => exec('umount', ['-l', m]));
    }
  }
  for (const n of newNetns) attempt(`rm /run/netns/${n}`, () => unlinkSync(`/run/netns/${n}`));
  // 3. iptables: rules added to chains that were there, then the chains added, then whole tables
  //    (iptables-nft leaves a table it created even when empty)
  for (const fam of ['ip', 'ip6'] as const) {
    const bin = fam === 'ip' ? 'iptables' : 'ip6tables';
    const now = iptablesState(fam);
    for (const [table, st] of Object.entries(now)) {
      const was = rec.before.iptables[fam]?.[table];
      if (!was) continue;
      const newChains = st.chains.filter((c) => !was.chains.includes(c));
      for (const rule of st.rules.filter((r) => !was.rules.includes(r))) {
        const args = ruleArgs(rule);
        if (newChains.includes(args[1])) continue;
        attempt(`${bin} -t ${table} -D ${args.slice(1).join(' ')}`, () => exec(bin, ['-w', '-t', table, '-D', ...args.slice(1)]));
      }
      for (const c of newChains) attempt(`${bin} -t ${table} -F ${c}`, () => exec(bin, ['-w', '-t', table, '-F', c]));
      for (const c of newChains) attempt(`${bin} -t ${table} -X ${c}`, () => exec(bin, ['-w', '-t', table, '-X', c]));
    }
  }
  for (const t of (run('nft', ['list', 'tables']).stdout ?? '').trim().split('\n').filter(Boolean)) {
    const [, family, name] = t.split(' ');
    if (!rec.before.nftTables.includes(t) && (family === 'ip' || family === 'ip6'))
      attempt(`nft delete ${t}`, () => exec('nft', ['delete', 'table', family, name]));
  }
  // 4. kernel settings, cgroups the kubelet made, the bridge, the fixed paths that were not there
  for (const [k, v] of Object.entries(rec.before.sysctls)) {
    attempt(`sysctl ${k}`, () => {
      if (readFileSync(`/proc/sys/${k}`, 'utf8').trim() !== v) writeFileSync(`/proc/sys/${k}`, v);
    });
  }
  const rmCgroup = (dir: string) => {
    for (const d of listDir(dir)) {
      const sub = path.join(dir, d);
      try {
        if (statSync(sub).isDirectory()) rmCgroup(sub);
      } catch {}
    }
    rmdirSync(dir);
  };
  for (const h of listDir('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h);
    const was = rec.before.cgroups[h] ?? [];
    for (const d of listDir(dir)) {
      const sub = path.join(dir, d);
      if (was.includes(d) || !statSync(sub).isDirectory()) continue;
      if (d !== 'kubepods' && !d.startsWith('kubepods')) continue; // only what the kubelet makes
      attempt(`rmdir cgroup ${sub}`, () => rmCgroup(sub));
    }
  }
  if (existsSync(`/sys/class/net/${rec.bridge}`) && !rec.before.links.includes(rec.bridge)) {
    attempt(`ip link del ${rec.bridge}`, () => exec('ip', ['link', 'del', rec.bridge]));
  }
  for (const p of FIXED_PATHS) if (!rec.before.paths[p]) attempt(`rm ${p}`, () => rmSync(p, { recursive: true, force: true }));
  // 5. the node's dir, but its logs
  for (const d of listDir(rec.dir))
    if (d !== 'logs') attempt(`rm ${path.join(rec.dir, d)}`, () => rmSync(path.join(rec.dir, d), { recursive: true, force: true }));
  return problems;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

// --- the lock ---------------------------------------------------------------------------------

/**
 * When the process holding the node died (SIGKILL, a crash), puts the machine back from its record
 * and frees the lock. Returns false when no node was recorded; throws while the owner still runs,
 * or with what it could not undo.
 */
export function recoverDeadNode(log: (s: string) => void = (s) => process.stderr.write(`[real-node] ${s}\n`)): boolean {
  let owner: number;
  try {
    owner = Number(readFileSync(NODE_LOCK, 'utf8').trim());
  } catch {
    return false;
  }
  const rec = readJson<NodeRecord>(NODE_RECORD);
  if (isAlive(owner)) {
    throw new Error(
      `a real node already runs on this machine (pid ${owner}${rec ? `, dir ${rec.dir}` : ''}; lock ${NODE_LOCK}): containerd and the kubelet ` +
        'use fixed paths, so only one real node per machine at a time. Wait for it or stop that process.',
    );
  }
  if (rec) {
    log(`recovering from a real node whose process ${owner} died (dir ${rec.dir})`);
    const problems = restoreMachine(rec, log);
    if (problems.length) throw new Error(`could not clean up after the dead real node of pid ${owner}:\n${problems.join('\n')}`);
  }
  rmSync(NODE_RECORD, { force: true });
  rmSync(NODE_LOCK, { force: true });
  return true;
}

function takeLock(log: (s: string) => void): void {
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(NODE_LOCK, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    recoverDeadNode(log);
  }
  throw new Error(`could not take ${NODE_LOCK}`);
}

// --- start ------------------------------------------------------------------------------------

/** Stopped nodes keep their logs; those of a day ago go (only while holding the lock: none runs). */
function sweepOldDirs(): void {
  for (const d of listDir(os.tmpdir())) {
    if (!/^posture-real-node-[A-Za-z0-9]{6}$/.test(d)) continue; // mkdtemp's names, nothing else
    const dir = path.join(os.tmpdir(), d);
    try {
      if (Date.now() - statSync(dir).mtimeMs > 24 * 3600 * 1000) rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

function which(cmd: string): boolean {
  return run('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function prerequisites(): string {
  if (process.getuid?.() !== 0) throw new Error('a real node needs root (containerd, runc, iptables, mounts)');
  const kubelet = path.join(binDir(), 'kubelet');
  if (!existsSync(kubelet)) throw new Error(`${kubelet} is missing: build it with ${BUILD_SCRIPT} (npm run cluster:build)`);
  const missing = ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'iptables', 'ip6tables', 'nft', 'ip', 'setpriv'].filter((c) => !which(c));
  for (const p of ['bridge', 'host-local', 'loopback']) if (!existsSync(path.join(CNI_BIN, p))) missing.push(path.join(CNI_BIN, p));
  if (missing.length) throw new Error(`missing for a real node: ${missing.join(', ')} (apt-get install ${APT_PACKAGES})`);
  return kubelet;
}

function containerdConfig(dir: string, sandboxImage: string): string {
  const q = JSON.stringify;
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${q(path.join(dir, 'containerd', 'root'))}`,
    `state = ${q(path.join(dir, 'containerd', 'state'))}`,
    // containerd would pick snapshotters this machine lacks; these fail loudly at start
    'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
    '[grpc]',
    `  address = ${q(socketPath(dir))}`,
    '[ttrpc]',
    `  address = ${q(`${socketPath(dir)}.ttrpc`)}`,
    '[metrics]',
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(path.join(dir, 'containerd', 'opt'))}`, // else /opt/containerd
    `[${cri}]`,
    `  sandbox_image = ${q(sandboxImage)}`,
    // The VM refuses a lower oom_score_adj (no CAP_SYS_RESOURCE); without this every sandbox fails
    // with "can't get final child's PID from pipe: EOF".
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    // pod network namespaces under the node's dir rather than /run/netns
    '  netns_mounts_under_state_dir = true',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
    `  Root = ${q(path.join(dir, 'runc'))}`,
    `[${cri}.cni]`,
    `  bin_dir = ${q(CNI_BIN)}`,
    `  conf_dir = ${q(path.join(dir, 'cni', 'net.d'))}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

const socketPath = (dir: string) => path.join(dir, 'containerd', 'containerd.sock');

function cniConfig(dir: string, subnet: string, gateway: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'posture-node',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          // pods reach the host's resolver through the host's address (there is no cluster DNS)
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet, gateway }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(dir, 'cni', 'ipam') },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, bridgeIp: string, healthzPort: number): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // cgroup v1 here: without this the kubelet refuses to start ("configured to not run on a host using cgroup v1")
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${socketPath(dir)}`,
    // The local API server has no kubelet client certificate: anonymous, AlwaysAllow, bridge address only.
    address: bridgeIp,
    port: 10250,
    readOnlyPort: 0,
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false }, x509: {} },
    authorization: { mode: 'AlwaysAllow' },
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    failSwapOn: false,
    resolvConf: '/etc/resolv.conf',
    podLogsDir: path.join(dir, 'pod-logs'),
    volumePluginDir: path.join(dir, 'volume-plugins'),
    // No KUBE-IPTABLES-HINT and canary chains: nothing here reads them.
    makeIPTablesUtilChains: false,
    // Imported images cannot be pulled again: never collect them; and evict only on a nearly full disk.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: '2s',
    syncFrequency: '10s',
    // A pod's emptyDir and logs are measured this often: a pod over its own storage limit is evicted in seconds.
    volumeStatsAggPeriod: '5s',
    shutdownGracePeriod: '0s',
  });
}

function kubeconfig(server: string, caFile: string, user: string, cert: string, key: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': Buffer.from(pem(caFile)).toString('base64') } }],
    users: [{ name: user, user: { 'client-certificate': cert, 'client-key': key } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user } }],
    'current-context': 'local',
  });
}

function logTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Starts a real node joined to cp (a running plane); Ready, untainted and with images imported. */
export async function startRealNode(cp: ControlPlane, o: RealNodeOptions = {}): Promise<RealNode> {
  const t0 = Date.now();
  const log = o.log ?? ((s: string) => process.stderr.write(`[real-node] ${s}\n`));
  const name = o.name ?? 'posture-real-node';
  const subnetN = o.subnet ?? 250;
  const podCidr = `10.244.${subnetN}.0/24`;
  const bridgeIp = `10.244.${subnetN}.1`;
  const kubeletBin = prerequisites();
  const sandbox = pauseImage();
  const images = [sandbox, ...(o.images ?? [])];
  takeLock(log);
  sweepOldDirs();

  const dir = mkdtempSync(path.join(os.tmpdir(), 'posture-real-node-'));
  const logs = path.join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const rec: NodeRecord = { pid: process.pid, dir, bridge: BRIDGE, before: machineSnapshot(), pids: {} };
  writeJsonAtomic(NODE_RECORD, rec);
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  const children: Record<string, ChildProcess> = {};
  const logFiles = { containerd: path.join(logs, 'containerd.log'), kubelet: path.join(logs, 'kubelet.log') };
  let cordoned: string[] = [];
  let stopped: Promise<{ ms: number }> | undefined;
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };

  const startProcess = (what: 'containerd' | 'kubelet', bin: string, args: string[]) => {
    const fd = openSync(logFiles[what], 'a');
    // setpriv --pdeathsig: the process dies with this one, even when this one is SIGKILLed
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...args], { cwd: dir, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    children[what] = child;
    rec.pids[what] = child.pid ?? 0;
    writeJsonAtomic(NODE_RECORD, rec);
    log(`started ${what} pid ${child.pid}`);
    return child;
  };
  const ctr = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const c = spawn('ctr', ['--address', socketPath(dir), '-n', 'k8s.io', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.stdout.resume();
      c.on('error', reject);
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ctr ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
    });
  const importImage = (tarPath: string) => ctr(['images', 'import', '--snapshotter', 'overlayfs', tarPath]);

  const diagnostics = (lines = 30) =>
    [`real node dir: ${dir}`, ...Object.entries(logFiles).map(([n, f]) => `--- ${n} (${f}, last ${lines} lines)\n${logTail(f, lines)}`)].join('\n');

  const stopProcess = async (what: string) => {
    const c = children[what];
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    if (await Promise.race([exited.then(() => true), sleep(10000).then(() => false)])) return;
    log(`${what} ignored SIGTERM for 10 s; SIGKILL`);
    c.kill('SIGKILL');
    await exited;
  };

  async function stop(): Promise<{ ms: number }> {
    const s0 = Date.now();
    const problems: string[] = [];
    if (children.kubelet?.exitCode === null) {
      // Pods go through the API first, so that the kubelet tears each sandbox down through CNI (a
      // pod killed behind CNI's back leaks its MASQUERADE rule and its address).
      try {
        await core.patchNode({ name, body: { spec: { unschedulable: true } } }, mergePatch);
        const deadline = Date.now() + 60000;
        for (;;) {
          const pods = (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` })).items;
          if (pods.length === 0) break;
          if (Date.now() > deadline) {
            problems.push(`pods still on ${name} after 60 s: ${pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).join(', ')}`);
            break;
          }
          for (const p of pods.filter((p) => !p.metadata?.deletionTimestamp)) {
            await core
              .deleteNamespacedPod({ name: p.metadata!.name!, namespace: p.metadata!.namespace!, gracePeriodSeconds: 1 })
              .catch((e) => ((e as { code?: number }).code === 404 ? undefined : problems.push(`delete pod: ${e}`)));
          }
          await sleep(250);
        }
      } catch (e) {
        problems.push(`deleting the node's pods: ${e}`);
      }
    }
    await stopProcess('kubelet');
    await stopProcess('containerd');
    problems.push(...restoreMachine(rec, log));
    await core.deleteNode({ name }).catch(() => undefined);
    for (const n of cordoned) await core.patchNode({ name: n, body: { spec: { unschedulable: null } } }, mergePatch).catch(() => undefined);
    rmSync(NODE_RECORD, { force: true });
    rmSync(NODE_LOCK, { force: true });
    const ms = Date.now() - s0;
    log(`stopped in ${ms} ms`);
    if (problems.length) throw new Error(`real node ${name} stopped, but:\n${problems.join('\n')}\n${diagnostics()}`);
    return { ms };
  }

  try {
    // The bridge exists before the kubelet starts: its address is the node IP (no dummy
    // interfaces here, and a node IP may not be loopback); the bridge plugin adopts it.
    execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', `${bridgeIp}/24`, 'dev', BRIDGE]);
    execFileSync('ip', ['link', 'set', BRIDGE, 'up']);

    mkdirSync(path.join(dir, 'cni', 'net.d'), { recursive: true });
    writeFileSync(path.join(dir, 'cni', 'net.d', '10-posture.conflist'), cniConfig(dir, podCidr, bridgeIp));
    writeFileSync(path.join(dir, 'containerd.toml'), containerdConfig(dir, sandbox.ref));
    const containerd = startProcess('containerd', 'containerd', ['--config', path.join(dir, 'containerd.toml')]);
    const deadline = Date.now() + 30000;
    while (run('ctr', ['--address', socketPath(dir), 'version']).status !== 0) {
      if (containerd.exitCode !== null) throw new Error(`containerd exited (${containerd.exitCode})`);
      if (Date.now() > deadline) throw new Error('containerd did not answer in 30 s');
      await sleep(100);
    }
    for (const img of images) await importImage(img.tar);
    log(`imported ${images.map((i) => i.ref).join(', ')}`);

    // The kubelet's identity: the Node authorizer and NodeRestriction know it by this certificate.
    const pki = path.join(dir, 'pki');
    const cert = issueCert({
      ca: { cert: cp.state.caFile!, key: cp.state.caKeyFile! },
      dir: pki,
      name: 'kubelet',
      commonName: `system:node:${name}`,
      organizations: ['system:nodes'],
      usage: 'client',
      days: 2,
    });
    writeFileSync(path.join(dir, 'kubelet.kubeconfig'), kubeconfig(cp.server, cp.state.caFile!, `system:node:${name}`, cert.cert, cert.key), { mode: 0o600 });
    const healthz = await new Promise<number>((r) => {
      const s = https.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    writeFileSync(path.join(dir, 'kubelet.yaml'), kubeletConfig(dir, bridgeIp, healthz));
    const kubelet = startProcess('kubelet', kubeletBin, [
      `--config=${path.join(dir, 'kubelet.yaml')}`,
      `--kubeconfig=${path.join(dir, 'kubelet.kubeconfig')}`,
      `--root-dir=${path.join(dir, 'kubelet')}`,
      `--hostname-override=${name}`,
      `--node-ip=${bridgeIp}`,
      '--v=2',
    ]);

    // Ready, then the not-ready taint off: TaintNodesByCondition put it there at registration,
    // and the plane runs no node-lifecycle controller to lift it.
    const readyBy = Date.now() + (o.readyTimeoutMs ?? 120000);
    let node: k8s.V1Node | undefined;
    for (;;) {
      if (kubelet.exitCode !== null || kubelet.signalCode !== null) throw new Error(`kubelet exited (${kubelet.exitCode ?? kubelet.signalCode})`);
      if (containerd.exitCode !== null) throw new Error(`containerd exited (${containerd.exitCode})`);
      node = await core.readNode({ name }).catch(() => undefined);
      if (node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
      if (Date.now() > readyBy)
        throw new Error(`node ${name} not Ready after ${o.readyTimeoutMs ?? 120000} ms: ${JSON.stringify(node?.status?.conditions ?? 'not registered')}`);
      await sleep(250);
    }
    const taints = (node.spec?.taints ?? []).filter((t) => t.key !== 'node.kubernetes.io/not-ready');
    await core.patchNode({ name, body: [{ op: 'replace', path: '/spec/taints', value: taints }] }, jsonPatch);
    if (o.cordonKwokNodes !== false) {
      const kwok = (await core.listNode()).items.filter((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake' && !n.spec?.unschedulable);
      for (const n of kwok) await core.patchNode({ name: n.metadata!.name!, body: { spec: { unschedulable: true } } }, mergePatch);
      cordoned = kwok.map((n) => n.metadata!.name!);
    }
    const startMs = Date.now() - t0;
    const containerdVersion = (run('containerd', ['--version']).stdout ?? '').trim().split(/\s+/)[2] ?? 'unknown';
    const kubeletVersion = node.status?.nodeInfo?.kubeletVersion ?? 'unknown';
    log(`node ${name} Ready in ${startMs} ms: kubelet ${kubeletVersion}, containerd ${containerdVersion}, bridge ${bridgeIp}`);
    return {
      name,
      kubeletVersion,
      containerdVersion,
      bridgeIp,
      podCidr,
      dir,
      startMs,
      logFiles,
      importImage,
      podReachableAddress: () => ({ host: bridgeIp, ipSans: [bridgeIp] }),
      diagnostics,
      stop: () => {
        stopped ??= stop();
        return stopped;
      },
    };
  } catch (e) {
    const why = `real node ${name} failed to start: ${(e as Error).message}\n${diagnostics()}`;
    await stop().catch((e2) => log(`clean-up after the failed start: ${(e2 as Error).message}`));
    throw new Error(why);
  }
}

// --- a server pods can reach ------------------------------------------------------------------

export interface PodHttpsServer {
  /** https://<bridge ip>:<port> */
  url: string;
  host: string;
  port: number;
  /** PEM of the CA that signed the server's certificate: what a pod must trust */
  ca: string;
  /** creates a ConfigMap holding the CA as `ca.crt` (mount it, point SSL_CERT_FILE at it) */
  caConfigMap(namespace: string, name?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * An HTTPS server reachable from the node's pods: bound to the bridge address, with a certificate
 * for that IP from a fresh CA. Pods trust it through the CA, e.g. from caConfigMap() mounted at
 * /etc/posture-ca with SSL_CERT_FILE=/etc/posture-ca/ca.crt.
 */
export async function startPodHttpsServer(
  node: RealNode,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  kc?: k8s.KubeConfig,
): Promise<PodHttpsServer> {
  const { host, ipSans } = node.podReachableAddress();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'posture-pod-https-'));
  try {
    const ca = createCA(dir, 'ca', 'posture-test-pod-ca');
    const c = issueCert({ ca, dir, name: 'server', commonName: host, hosts: ipSans, usage: 'server', days: 2 });
    const caPem = pem(ca.cert);
    const srv = https.createServer({ cert: pem(c.cert), key: pem(c.key) }, handler);
    await new Promise<void>((r, j) => {
      srv.once('error', j);
      srv.listen(0, host, () => r());
    });
    const port = (srv.address() as { port: number }).port;
    return {
      url: `https://${host}:${port}`,
      host,
      port,
      ca: caPem,
      async caConfigMap(namespace, name = 'posture-pod-ca') {
        if (!kc) throw new Error('startPodHttpsServer: pass a KubeConfig to create ConfigMaps');
        await kc.makeApiClient(k8s.CoreV1Api).createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { 'ca.crt': caPem } } });
        return name;
      },
      close: () =>
        new Promise<void>((r) => {
          srv.closeAllConnections();
          srv.close(() => r());
        }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
