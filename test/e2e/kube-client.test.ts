// posture's Kubernetes client layer against the real API server: one connection for many calls
// of every kind (the API server speaks HTTP/2), metadata-only pages with continue tokens, the
// repository-label batch read the tick uses, the harvester's batched delete, and a pod log read
// from its tail.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { batchSelector } from '../../lib/harvest/deletions.ts';
import { buildScorecardJob, jobName, MANAGED_BY, MANAGED_BY_LABEL, POSTURE_JOB_SELECTOR, REPO_ID_LABEL, repoIdLabel } from '../../lib/jobs/spec.ts';
import { clusterApi } from '../../lib/kube/cluster.ts';
import { sharedTransport } from '../../lib/kube/transport.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { jobPods, waitForJobFinished } from '../cluster/harness.ts';
import { useControlPlane } from './plane.ts';

const plane = useControlPlane();
const DUE = new Date('2026-01-01T00:00:00Z');
const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;
const jobConfig = (namespace: string) => ({
  namespace,
  scorecardImage: 'ghcr.io/ossf/scorecard:v5.3.0',
  scorecardChecks: [],
  githubTokenSecret: 's',
  githubTokenSecretKey: 'k',
  jobDeadlineSeconds: 600,
  jobTtlSeconds: 600,
  githubHost: '',
  githubCaConfigMap: '',
  jobMemoryLimit: '1Gi',
  jobStorageLimit: '4Gi',
});

test('120 calls of every kind over a handful of connections (one TLS handshake each)', async () => {
  const namespace = await plane.cp.createNamespace('kube-client');
  plane.cleanup(() => plane.cp.kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name: namespace }));
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.cp.kubeconfigPath); // a process's own view of the kubeconfig
  const api = clusterApi(kc);
  const stats = sharedTransport(kc).stats;
  const repos = Array.from({ length: 20 }, (_, i) => repo(`kube-client/r${i}`));
  for (const r of repos) {
    const job = buildScorecardJob({ repo: r, dueWindow: DUE }, jobConfig(namespace));
    job.spec!.suspend = true;
    assert.equal((await api.createJob(namespace, job)).created, true);
    assert.equal((await api.createJob(namespace, job)).created, false, 'a second create answers 409: reported, not thrown');
    assert.ok(await api.getJob(namespace, job.metadata!.name!));
    await api.listPods(namespace, `batch.kubernetes.io/job-name=${job.metadata!.name!}`);
  }
  await Promise.all(repos.map((r) => api.getJob(namespace, jobName(r, DUE))));
  assert.equal((await api.listJobs(namespace, POSTURE_JOB_SELECTOR)).length, 20);
  // The tick's targeted read: Jobs of a few repositories by label.
  const some = repos.slice(0, 5).map(repoIdLabel);
  const selected = await api.listJobs(namespace, `${MANAGED_BY_LABEL}=${MANAGED_BY},${REPO_ID_LABEL} in (${some.join(',')})`);
  assert.deepEqual(selected.map((j) => j.metadata!.labels![REPO_ID_LABEL]).sort(), [...some].sort());
  // Metadata-only pages: names and uids, continue tokens across pages, no spec or status.
  const names: string[] = [];
  let pages = 0;
  for (let cont: string | undefined; ; ) {
    const page = await api.listJobMetadataPage(namespace, POSTURE_JOB_SELECTOR, { limit: 7, continue: cont });
    pages++;
    names.push(...page.jobs.map((j) => j.name));
    assert.ok(page.jobs.every((j) => j.uid.length > 0));
    cont = page.continue;
    if (!cont) break;
  }
  assert.equal(pages, 3);
  assert.deepEqual(names.sort(), repos.map((r) => jobName(r, DUE)).sort());
  // The harvester's batched delete: the named Jobs in one delete collection, the others kept.
  const batch = repos.slice(0, 5).map((r) => jobName(r, DUE));
  assert.equal(await api.deleteJobCollection(namespace, batchSelector(batch)), 5);
  const left = (await api.listJobs(namespace, POSTURE_JOB_SELECTOR)).filter((j) => !j.metadata?.deletionTimestamp).map((j) => j.metadata!.name!);
  assert.deepEqual(
    left.sort(),
    repos
      .slice(5)
      .map((r) => jobName(r, DUE))
      .sort(),
  );
  await assert.rejects(api.deleteJobCollection(namespace, ' '), /needs a label selector/, 'an empty selector would delete every Job: refused before any call');
  for (const r of repos.slice(5)) await api.deleteJob(namespace, jobName(r, DUE));
  assert.ok(stats.requests >= 120, `${stats.requests} requests`);
  assert.ok(stats.connections <= 3, `${stats.connections} connections for ${stats.requests} requests`);
});

test('a pod log from its tail: the last lines only', async () => {
  const namespace = await plane.cp.createNamespace('kube-log');
  plane.cleanup(() => plane.cp.kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name: namespace }));
  const r = repo('kube-client/log');
  const job = buildScorecardJob({ repo: r, dueWindow: DUE }, jobConfig(namespace));
  const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
  plane.cp.setPodLog({ namespace, jobName: job.metadata!.name!, content: `${lines.join('\n')}\n` });
  const api = clusterApi(plane.cp.kc);
  await api.createJob(namespace, job);
  await waitForJobFinished(plane.cp.kc, namespace, job.metadata!.name!, 60000);
  const [pod] = await jobPods(plane.cp.kc, namespace, job.metadata!.name!);
  const read = async (tailLines?: number) => {
    const s = await api.streamPodLog(namespace, pod.metadata!.name!, 'scorecard', 100, tailLines === undefined ? {} : { tailLines });
    let text = '';
    for await (const c of s.chunks) text += c.toString();
    s.abort();
    return text;
  };
  assert.equal(await read(), lines.join('\n').slice(0, 100), 'limitBytes from the head');
  assert.equal(await read(3), `${lines.slice(-3).join('\n')}\n`, 'tailLines from the end');
});
