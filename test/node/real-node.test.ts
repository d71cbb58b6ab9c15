// The real-node tier: a real kubelet, containerd and runc joined to a private local control plane
// (test/cluster/node.ts), so posture's Scorecard Jobs really run. One node for the whole file (it
// takes 10-20 s to start); the last test stops it and checks the machine is as it was.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { defaultConfig } from '../../lib/config/index.ts';
import { K8S_VERSION, REPO_ROOT, sleep } from '../cluster/config.ts';
import { type ControlPlane, jobPods, KWOK_NODE_NAME, startControlPlane, waitForJobFinished } from '../cluster/harness.ts';
import { httpGetImage, pauseImage, rootUserImage, scorecardImage } from '../cluster/images.ts';
import { type MachineSnapshot, machineSnapshot, nodeProcesses, type RealNode, snapshotDiff, startPodHttpsServer, startRealNode } from '../cluster/node.ts';
import { SCORECARD_VERSIONS } from '../cluster/tools.ts';

const READY_WITHIN_MS = 60000;
const STOP_WITHIN_MS = 60000;
const DEFAULT_IMAGE = defaultConfig().scorecardImage;

let machineBefore: MachineSnapshot;
let cp: ControlPlane;
let node: RealNode;
let core: k8s.CoreV1Api;

before(async () => {
  machineBefore = machineSnapshot();
  cp = await startControlPlane();
  core = cp.kc.makeApiClient(k8s.CoreV1Api);
  node = await startRealNode(cp, { images: [...SCORECARD_VERSIONS.map(scorecardImage), rootUserImage(), httpGetImage()] });
});

after(async () => {
  await node?.stop().catch(() => undefined); // the last test already stopped it, or says why not
  await cp?.stop();
});

/** A namespace where Pod Security `restricted` is enforced, as posture's own namespace would be. */
async function restrictedNamespace(prefix: string): Promise<string> {
  const ns = await cp.createNamespace(prefix);
  const labels = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };
  await core.patchNamespace({ name: ns, body: { metadata: { labels } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  return ns;
}

/** What restricted asks of a container, for the tests' own pods. */
const restricted = {
  pod: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
};

async function waitForPod(ns: string, name: string, ok: (p: k8s.V1Pod) => boolean, ms = 60000): Promise<k8s.V1Pod> {
  const deadline = Date.now() + ms;
  for (;;) {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    if (ok(p)) return p;
    if (Date.now() > deadline) throw new Error(`pod ${ns}/${name} not as expected after ${ms} ms: ${JSON.stringify(p.status)}\n${node.diagnostics()}`);
    await sleep(250);
  }
}

test(`the real node registers and is Ready within ${READY_WITHIN_MS / 1000} s, untainted, as kubelet ${K8S_VERSION} on containerd`, async () => {
  assert.ok(node.startMs < READY_WITHIN_MS, `Ready after ${node.startMs} ms`);
  const n = await core.readNode({ name: node.name });
  assert.ok(n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  assert.deepEqual(n.spec?.taints ?? [], []);
  assert.equal(n.status?.nodeInfo?.kubeletVersion, K8S_VERSION);
  assert.equal(node.kubeletVersion, K8S_VERSION);
  // the runtime reports its upstream version (1.6.20); `containerd --version` Debian's (1.6.20~ds1)
  const runtime = n.status?.nodeInfo?.containerRuntimeVersion ?? '';
  assert.match(runtime, /^containerd:\/\/\d+\.\d+\.\d+/);
  assert.ok(node.containerdVersion.startsWith(runtime.slice('containerd://'.length)), `${runtime} vs containerd --version ${node.containerdVersion}`);
  assert.deepEqual(
    n.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address),
    [node.bridgeIp],
  );
  assert.equal((await core.readNode({ name: KWOK_NODE_NAME })).spec?.unschedulable, true, 'the kwok node is cordoned, so pods land on the real one');
  const line = `real node Ready: kubelet ${node.kubeletVersion}, containerd ${node.containerdVersion}`;
  // .ci/run prints this line (from the running node) after the tier
  if (process.env.POSTURE_NODE_REPORT) writeFileSync(process.env.POSTURE_NODE_REPORT, `${line}\n`);
  process.stderr.write(`${line} (in ${node.startMs} ms)\n`);
});

/** What each Scorecard version does for `--repo` with no route to GitHub (test/e2e/scorecard-cli.test.ts). */
function expected(version: string): { condition: 'Complete' | 'Failed'; exitCode: number; log: RegExp } {
  return version === 'v5.3.0'
    ? { condition: 'Failed', exitCode: 1, log: /^Error: scorecard\.Run: repo unreachable: .*api\.github\.com/m }
    : { condition: 'Complete', exitCode: 0, log: /^Skipping github\.com\/ossf\/scorecard: run: repo unreachable: .*api\.github\.com/m };
}

for (const version of SCORECARD_VERSIONS) {
  const image = `ghcr.io/ossf/scorecard:${version}`;
  const how = image === DEFAULT_IMAGE ? "posture's default image" : `POSTURE_SCORECARD_IMAGE=${image}`;
  const want = expected(version);
  test(`the exact Job \`posture jobs render\` prints (${how}) runs for real under Pod Security restricted: Scorecard ${version} prints "repo unreachable" into pods/log and exits ${want.exitCode}`, async () => {
    const ns = await restrictedNamespace('real-job');
    // the namespace really enforces restricted: a privileged pod is refused
    await assert.rejects(
      core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name: 'privileged' }, spec: { containers: [{ name: 'c', image, securityContext: { privileged: true } }] } },
      }),
      (e: { code?: number; body?: string }) => e.code === 403 && /violates PodSecurity "restricted/.test(JSON.parse(String(e.body)).message),
    );
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'posture-github-tokens' }, stringData: { GITHUB_AUTH_TOKEN: 'not-a-real-token' } },
    });
    // An older Scorecard than v5.4.0 has no --repos: one repository per Job (posture refuses the pair otherwise).
    const env = { ...process.env, POSTURE_NAMESPACE: ns, ...(image === DEFAULT_IMAGE ? {} : { POSTURE_SCORECARD_IMAGE: image, POSTURE_SHARD_SIZE: '1' }) };
    const rendered = parse(
      execFileSync(process.execPath, ['bin/posture.ts', 'jobs', 'render', 'github.com/ossf/scorecard'], { cwd: REPO_ROOT, env, encoding: 'utf8' }),
    ) as k8s.V1Job;
    assert.equal(rendered.spec?.template.spec?.containers[0].image, image);
    const job = await cp.kc.makeApiClient(k8s.BatchV1Api).createNamespacedJob({ namespace: ns, body: rendered });
    const name = job.metadata!.name!;
    const plain = (x: unknown) => JSON.parse(JSON.stringify(x)); // the client's classes as plain objects
    assert.deepEqual(plain(job.spec?.template.spec?.securityContext), rendered.spec?.template.spec?.securityContext);
    assert.deepEqual(plain(job.spec?.template.spec?.containers[0].securityContext), rendered.spec?.template.spec?.containers[0].securityContext);

    const { condition } = await waitForJobFinished(cp.kc, ns, name, 90000).catch((e) => {
      throw new Error(`${e.message}\n${node.diagnostics()}`);
    });
    const [pod] = await jobPods(cp.kc, ns, name);
    const log = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: ns });
    assert.equal(pod.spec?.nodeName, node.name);
    assert.match(pod.status?.podIP ?? '', new RegExp(`^${node.podCidr.split('.').slice(0, 3).join('\\.')}\\.`));
    const terminated = pod.status?.containerStatuses?.[0].state?.terminated;
    assert.equal(terminated?.exitCode, want.exitCode, log);
    assert.match(pod.status?.containerStatuses?.[0].imageID ?? '', /^sha256:[0-9a-f]{64}$/, 'the image a real runtime ran');
    assert.equal(condition, want.condition);
    assert.match(log, want.log);
    assert.match(log, /no such host/, 'the pod resolved api.github.com through the host resolver and found nothing');
  });
}

test('an image whose user is root is refused by the kubelet under runAsNonRoot (CreateContainerConfigError), which admission and kwok never show', async () => {
  const ns = await restrictedNamespace('real-root');
  const image = rootUserImage().ref;
  // admitted under restricted: runAsNonRoot is set, and the image's user is only known on the node
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'root-image' },
      spec: {
        restartPolicy: 'Never',
        securityContext: restricted.pod,
        containers: [{ name: 'c', image, imagePullPolicy: 'Never', securityContext: restricted.container }],
      },
    },
  });
  const p = await waitForPod(ns, 'root-image', (p) => !!p.status?.containerStatuses?.[0].state?.waiting?.message);
  const waiting = p.status!.containerStatuses![0].state!.waiting!;
  assert.equal(waiting.reason, 'CreateContainerConfigError');
  assert.match(waiting.message!, /container has runAsNonRoot and image will run as root/);
  assert.equal(p.spec?.nodeName, node.name);
});

test('a pod reaches an HTTPS server bound to the bridge address and trusts its CA from a ConfigMap; without the CA, TLS fails', async () => {
  const ns = await restrictedNamespace('real-https');
  const seen: string[] = [];
  const server = await startPodHttpsServer(
    node,
    (req, res) => {
      seen.push(`${req.socket.remoteAddress} ${req.url}`);
      res.end('hello from the host');
    },
    cp.kc,
  );
  try {
    assert.equal(server.host, node.bridgeIp);
    const caMap = await server.caConfigMap(ns);
    const pod = (name: string, trust: boolean): k8s.V1Pod => ({
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        securityContext: { ...restricted.pod, runAsUser: 65532 },
        containers: [
          {
            name: 'get',
            image: httpGetImage().ref,
            imagePullPolicy: 'Never',
            args: [`${server.url}/${name}`],
            env: trust ? [{ name: 'SSL_CERT_FILE', value: '/etc/posture-ca/ca.crt' }] : [],
            volumeMounts: trust ? [{ name: 'ca', mountPath: '/etc/posture-ca', readOnly: true }] : [],
            securityContext: restricted.container,
          },
        ],
        volumes: trust ? [{ name: 'ca', configMap: { name: caMap } }] : [],
      },
    });
    await core.createNamespacedPod({ namespace: ns, body: pod('trusting', true) });
    await core.createNamespacedPod({ namespace: ns, body: pod('not-trusting', false) });
    const done = (p: k8s.V1Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    const trusting = await waitForPod(ns, 'trusting', done);
    const untrusting = await waitForPod(ns, 'not-trusting', done);
    assert.equal(await core.readNamespacedPodLog({ name: 'trusting', namespace: ns }), '200 hello from the host\n');
    assert.equal(trusting.status?.phase, 'Succeeded');
    assert.match(await core.readNamespacedPodLog({ name: 'not-trusting', namespace: ns }), /certificate signed by unknown authority/);
    assert.equal(untrusting.status?.phase, 'Failed');
    assert.deepEqual(seen, [`${trusting.status?.podIP} /trusting`]);
  } finally {
    await server.close();
  }
});

test('a second real node on the same machine is refused while one runs, naming the lock', async () => {
  await assert.rejects(
    startRealNode(cp, { name: 'posture-second-node', subnet: 251 }),
    /a real node already runs on this machine \(pid \d+.*\/run\/posture-real-node\.lock/s,
  );
  assert.ok(
    (await core.readNode({ name: node.name })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    'the first node still runs',
  );
});

test(`stop() deletes the running pods through the API within ${STOP_WITHIN_MS / 1000} s and leaves the machine as it found it: no process, mount, iptables rule, bridge, sysctl, cgroup or path`, async () => {
  const ns = await restrictedNamespace('real-stop');
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'running' },
      spec: {
        securityContext: restricted.pod,
        containers: [{ name: 'c', image: pauseImage().ref, imagePullPolicy: 'Never', securityContext: restricted.container }],
      },
    },
  });
  await waitForPod(ns, 'running', (p) => p.status?.phase === 'Running');
  assert.ok(snapshotDiff(machineBefore, machineSnapshot()).length > 0, 'a running node changes the machine (else this test proves nothing)');
  assert.ok(nodeProcesses(node.dir).length > 0, 'a running node has processes');

  const { ms } = await node.stop();
  process.stderr.write(`real node stopped in ${ms} ms\n`);
  assert.ok(ms < STOP_WITHIN_MS, `stopped in ${ms} ms`);
  assert.deepEqual(snapshotDiff(machineBefore, machineSnapshot()), []);
  assert.deepEqual(nodeProcesses(node.dir), []);
  await assert.rejects(core.readNamespacedPod({ name: 'running', namespace: ns }), (e: { code?: number }) => e.code === 404);
  await assert.rejects(core.readNode({ name: node.name }), (e: { code?: number }) => e.code === 404);
  assert.notEqual((await core.readNode({ name: KWOK_NODE_NAME })).spec?.unschedulable, true, 'the kwok node is uncordoned');
});
