import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { defaultConfig } from '../config/index.ts';
import { buildScorecardJob, JOB_NAME_LABEL } from '../jobs/spec.ts';
import { FakeCluster } from '../kube/fake.ts';
import { selectorMatcher } from '../kube/selector.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { BatchedJobDeleter, batchable, batchSelector, type HarvestedJob } from './deletions.ts';

const config = defaultConfig({ githubTokenCount: 0 });
const NS = config.namespace;
const DUE = new Date('2030-01-01T00:00:00Z');
const repo = (s: string) => (parseRepo(s) as { ok: true; repo: RepoId }).repo;

/** n posture Jobs created in the fake cluster, as the scheduler makes them. */
async function jobs(cluster: FakeCluster, n: number, prefix = 'del'): Promise<V1Job[]> {
  const out: V1Job[] = [];
  for (let i = 0; i < n; i++)
    out.push((await cluster.createJob(NS, buildScorecardJob({ repo: repo(`github.com/${prefix}/r-${i}`), dueWindow: DUE }, config))).job);
  return out;
}
const harvested = (j: V1Job): HarvestedJob => ({
  namespace: j.metadata!.namespace!,
  name: j.metadata!.name!,
  uid: j.metadata!.uid!,
  labels: j.metadata!.labels,
});

test('batchSelector selects exactly the named posture Jobs', () => {
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['a named posture Job', { 'app.kubernetes.io/managed-by': 'posture', [JOB_NAME_LABEL]: 'sc-a-1' }, true],
    ['another named one', { 'app.kubernetes.io/managed-by': 'posture', [JOB_NAME_LABEL]: 'sc-b-2' }, true],
    ['a posture Job not in the batch', { 'app.kubernetes.io/managed-by': 'posture', [JOB_NAME_LABEL]: 'sc-c-3' }, false],
    ["a Job with the name label that is not posture's", { [JOB_NAME_LABEL]: 'sc-a-1' }, false],
    ['a posture Job without the name label', { 'app.kubernetes.io/managed-by': 'posture' }, false],
  ];
  const match = selectorMatcher(batchSelector(['sc-a-1', 'sc-b-2']));
  for (const [what, labels, selected] of cases) assert.equal(match(labels), selected, what);
  assert.equal(batchSelector(['x']), 'app.kubernetes.io/managed-by=posture,posture.dev/job in (x)');
  assert.throws(() => batchSelector([]), RangeError, 'an empty batch would select nothing, or everything');
});

test('batchable: only a Job labelled with its own name (Jobs of an older posture have no such label)', () => {
  const cases: Array<[string, HarvestedJob, boolean]> = [
    ['labelled with its name', { namespace: NS, name: 'a', uid: 'u', labels: { [JOB_NAME_LABEL]: 'a' } }, true],
    ['no labels', { namespace: NS, name: 'a', uid: 'u' }, false],
    ['another name in the label', { namespace: NS, name: 'a', uid: 'u', labels: { [JOB_NAME_LABEL]: 'b' } }, false],
  ];
  for (const [what, job, want] of cases) assert.equal(batchable(job), want, what);
});

test('the Job spec labels each Job with its own name', async () => {
  const [j] = await jobs(new FakeCluster(), 1);
  assert.equal(j.metadata!.labels![JOB_NAME_LABEL], j.metadata!.name);
  assert.equal(batchable(harvested(j)), true);
});

test('a full batch goes at once, in one call; the rest after the delay', async (t) => {
  // The delay runs on mocked timers, so a busy machine cannot fire it before the first look.
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const cluster = new FakeCluster();
  const made = await jobs(cluster, 7);
  const other = await jobs(cluster, 2, 'keep');
  const d = new BatchedJobDeleter(cluster, silentLogger, { maxBatch: 3, delayMs: 50, retries: 0 });
  cluster.calls.length = 0;
  for (const j of made) d.delete(harvested(j));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(cluster.calls, ['deleteJobCollection', 'deleteJobCollection'], 'two full batches of 3 went without waiting');
  assert.equal(cluster.jobs.size, 1 + other.length);
  mock.timers.tick(49);
  await new Promise((r) => setImmediate(r));
  assert.equal(cluster.calls.length, 2, 'the last one waits for the whole delay');
  mock.timers.tick(1);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(cluster.calls, ['deleteJobCollection', 'deleteJobCollection', 'deleteJobCollection'], 'the last one after the delay');
  assert.deepEqual(
    [...cluster.jobs.values()].map((j) => j.metadata!.name).sort(),
    other.map((j) => j.metadata!.name).sort(),
    'only the harvested Jobs are gone',
  );
  assert.deepEqual(d.stats, { queued: 7, calls: 3, deleted: 7, failed: 0 });
});

test('drain sends what waits and waits for every call; the same Job twice is deleted once', async () => {
  const cluster = new FakeCluster();
  const made = await jobs(cluster, 4);
  const d = new BatchedJobDeleter(cluster, silentLogger, { maxBatch: 50, delayMs: 60_000, retries: 0 });
  cluster.calls.length = 0;
  for (const j of [...made, made[0]]) d.delete(harvested(j));
  assert.equal(cluster.jobs.size, 4, 'nothing sent before the delay');
  await d.drain();
  assert.equal(cluster.jobs.size, 0);
  assert.deepEqual(cluster.calls, ['deleteJobCollection']);
  await d.drain(); // nothing left: no call
  assert.deepEqual(cluster.calls, ['deleteJobCollection']);
});

test('a Job without the name label is deleted by name with its uid, at once', async () => {
  const cluster = new FakeCluster();
  const [j] = await jobs(cluster, 1);
  delete j.metadata!.labels![JOB_NAME_LABEL];
  const d = new BatchedJobDeleter(cluster, silentLogger, { delayMs: 60_000, retries: 0 });
  cluster.calls.length = 0;
  d.delete(harvested(j));
  await d.drain();
  assert.deepEqual(cluster.calls, ['deleteJob']);
  assert.equal(cluster.jobs.size, 0);
});

test('429 and 5xx are retried; a call that keeps failing is logged and counted, and loses nothing else', async () => {
  const cluster = new FakeCluster();
  const made = await jobs(cluster, 4);
  const warnings: unknown[] = [];
  const log = { ...silentLogger, warn: (o: unknown) => void warnings.push(o) } as Logger;
  const d = new BatchedJobDeleter(cluster, log, { maxBatch: 2, delayMs: 60_000, retries: 2, retryBaseMs: 0 });
  cluster.failures.deleteJobCollection = [429, 503, 403];
  cluster.calls.length = 0;
  // First batch: 429, 503, then 403 (not retried): failed. Second batch: deleted at once.
  for (const j of made.slice(0, 2)) d.delete(harvested(j));
  await d.drain();
  for (const j of made.slice(2)) d.delete(harvested(j));
  await d.drain();
  assert.deepEqual(cluster.calls, ['deleteJobCollection', 'deleteJobCollection', 'deleteJobCollection', 'deleteJobCollection']);
  assert.deepEqual(d.stats, { queued: 4, calls: 2, deleted: 2, failed: 2 });
  assert.equal(cluster.jobs.size, 2, "the failed batch's Jobs stay for the scheduler's sweep");
  assert.equal(warnings.length, 1);
  assert.match(JSON.stringify(warnings[0]), /"status":403/);
});
