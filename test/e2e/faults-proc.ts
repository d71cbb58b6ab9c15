// One posture function as its own process for the fault-injection run (faults.test.ts): the
// scheduler or the harvester, served over HTTP like Knative would, talking to kube-apiserver
// through the fault proxy. The test SIGKILLs and restarts it at random points.
//   node faults-proc.ts <scheduler|harvester> <port> <databaseUrl> <proxyUrl> <proxyCaBase64> <configJson>
// The scheduler also writes each Job's pod script (log, exit code, run time) just before
// creating it, from its repositories' names in scan order (faults-kit.ts: one repository's
// `--repo` log, or a shard's `--repos` log), so kwok plays the Job's outcome.

import type { V1Job } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { type Config, defaultConfig } from '../../lib/config/index.ts';
import { openDb } from '../../lib/db/index.ts';
import type { Handle } from '../../lib/function/handle.ts';
import { createFunctionServer, listen } from '../../lib/function/server.ts';
import { createHarvesterHandle } from '../../lib/harvest/handler.ts';
import { type HarvestDeps, harvestJob } from '../../lib/harvest/harvest.ts';
import { jobRepositories } from '../../lib/jobs/spec.ts';
import { clusterApi } from '../../lib/kube/cluster.ts';
import { createLogger, silentLogger } from '../../lib/log/index.ts';
import { createSchedulerHandle } from '../../lib/scheduler/handler.ts';
import { attachControlPlane } from '../cluster/harness.ts';
import { shardScriptFor } from './faults-kit.ts';

const [role, port, databaseUrl, proxyUrl, proxyCa, configJson] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'proxy', server: proxyUrl, caData: proxyCa }],
  users: [{ name: 'posture', token: 'through-the-proxy' }],
  contexts: [{ name: 'p', cluster: 'proxy', user: 'posture' }],
  currentContext: 'p',
});
const config: Config = defaultConfig(JSON.parse(configJson) as Partial<Config>);
const log = process.env.POSTURE_TEST_LOG ? createLogger({ level: 'debug', name: role }) : silentLogger;
const db = openDb({ databaseUrl, poolMax: 4 });
const cluster = clusterApi(kc);
const deps: HarvestDeps = { db, cluster, config, log, retryBaseMs: 100 };

let handle: Handle;
if (role === 'scheduler') {
  // A replica whose clock is behind sees a plane started less than that long ago as not healthy
  // (its certificates are not valid yet by that clock): it waits, as a pod would crash-loop.
  let cp = await attachControlPlane();
  for (let i = 0; !cp && i < 90; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    cp = await attachControlPlane();
  }
  if (!cp) throw new Error('no control plane to script pods on');
  const scripted = {
    ...cluster,
    async createJob(namespace: string, job: V1Job) {
      cp.setPodLog({ namespace, jobName: job.metadata!.name!, ...shardScriptFor(jobRepositories(job.metadata!.annotations)) });
      return cluster.createJob(namespace, job);
    },
  };
  const schedulerDeps = { ...deps, cluster: scripted };
  handle = createSchedulerHandle(async () => ({ ...schedulerDeps, harvest: (job: V1Job) => harvestJob(job, schedulerDeps) }));
} else {
  handle = createHarvesterHandle(async () => deps);
}
const server = createFunctionServer({ name: role, handle, log });
await listen(server, Number(port));
process.stdout.write('ready\n');
