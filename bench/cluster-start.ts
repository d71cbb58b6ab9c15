// Benchmark: warm start of the local control plane (binaries already built), its memory, and stop.
//   node bench/cluster-start.ts [runs=3]
// Each run starts a private plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kwok and the supervisor), measures time to ready (node Ready, default ServiceAccount, controller
// and scheduler healthz), RSS right after ready and after one Job ran, and time to stop.
import { rmSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { ensureBinaries, isAlive, sleep } from '../test/cluster/config.ts';
import { startControlPlane, waitForJobFinished } from '../test/cluster/harness.ts';

const runs = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (kb: number) => (kb / 1024).toFixed(0);

ensureBinaries();
const starts: number[] = [];
const stops: number[] = [];
const jobMs: number[] = [];
const rssReady: number[] = [];
const rssAfterJob: number[] = [];
let last: Record<string, number> = {};
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const cp = await startControlPlane({ log: () => {} });
  const start = performance.now() - t0;
  starts.push(start);
  rssReady.push(cp.rss().total);

  const ns = await cp.createNamespace('bench');
  const t1 = performance.now();
  await cp.kc.makeApiClient(k8s.BatchV1Api).createNamespacedJob({
    namespace: ns,
    body: {
      metadata: { name: 'one' },
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'scorecard' }] } } },
    },
  });
  await waitForJobFinished(cp.kc, ns, 'one');
  jobMs.push(performance.now() - t1);
  await sleep(1000);
  const r = cp.rss();
  rssAfterJob.push(r.total);
  last = r.byComponent;

  const t2 = performance.now();
  await cp.stop();
  const pids = [cp.state.supervisorPid, ...Object.values(cp.state.components).map((c) => c.pid)];
  if (pids.some(isAlive)) throw new Error(`processes left after stop: ${pids.filter(isAlive).join(' ')}`);
  stops.push(performance.now() - t2);
  rmSync(cp.stateDir, { recursive: true, force: true });
  console.log(
    `run ${i + 1}/${runs}: start ${start.toFixed(0)} ms, first Job Complete ${jobMs[i].toFixed(0)} ms, RSS ${mib(rssAfterJob[i])} MiB, stop ${stops[i].toFixed(0)} ms`,
  );
}

console.log(`cluster-start: runs=${runs}`);
console.log(`  warm start to ready (median): ${median(starts).toFixed(0)} ms (min ${Math.min(...starts).toFixed(0)}, max ${Math.max(...starts).toFixed(0)})`);
console.log(`  first Job created -> Complete (median): ${median(jobMs).toFixed(0)} ms`);
console.log(`  RSS sum at ready (median): ${mib(median(rssReady))} MiB; after one Job: ${mib(median(rssAfterJob))} MiB`);
console.log(
  `  RSS by component (last run, MiB): ${Object.entries(last)
    .map(([k, v]) => `${k}=${mib(v)}`)
    .join(' ')}`,
);
console.log(`  stop (median): ${median(stops).toFixed(0)} ms`);
