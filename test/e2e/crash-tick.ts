// Child process for the crash test: runs one tick against a Kubernetes endpoint that accepts
// connections and never answers, so it is killed between claim and create.
import * as k8s from '@kubernetes/client-node';
import { defaultConfig } from '../../lib/config/index.ts';
import { openDb } from '../../lib/db/index.ts';
import { clusterApi } from '../../lib/kube/cluster.ts';
import { silentLogger } from '../../lib/log/index.ts';
import { databaseClock } from '../../lib/scheduler/clock.ts';
import { runTick } from '../../lib/scheduler/tick.ts';

const [databaseUrl, server, namespace, slot] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server, skipTLSVerify: true }],
  users: [{ name: 'u', token: 'x' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});
const cluster = clusterApi(kc);
// The listing is answered (empty) so the tick gets as far as claiming; creates hang forever.
const db = openDb({ databaseUrl });
await runTick(slot, {
  db,
  cluster: { ...cluster, listJobs: async () => [], listJobMetadataPage: async () => ({ jobs: [], restarted: false }), createJob: cluster.createJob },
  config: defaultConfig({ namespace, leaseSeconds: 5, jobDeadlineSeconds: 3, githubTokenCount: 0, kubeRetries: 0 }),
  log: silentLogger,
  now: await databaseClock(db),
});
