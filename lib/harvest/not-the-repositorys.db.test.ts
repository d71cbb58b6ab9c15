// What a real kubelet and job controller showed, at the harvester and the next tick: a pod that
// never started is gone by harvest time and only its Events say why; a refused token pauses the
// fleet and blames no repository; a spent rate limit holds every Job until it resets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { fleetLive } from '../api/fleet.ts';
import { getRepo, getSchedulerState, runByJobName } from '../db/index.ts';
import { describeEachDatabase, resetScheduling, setEveryRepoDueAt } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { registry } from '../metrics/index.ts';
import { createSchedulerHandle } from '../scheduler/handler.ts';
import type { TickSummary } from '../scheduler/summary.ts';
import { runTick } from '../scheduler/tick.ts';
import { HarvestConfigError, harvestJob } from './harvest.ts';
import { scheduledMany, T0 } from './testing.ts';

const MISSING_SECRET = [
  { type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned posture/x to node-1' },
  { reason: 'Failed', message: 'Error: secret "posture-github-tokens" not found' },
];

describeEachDatabase("the harvester on what real nodes leave: failures not the repository's", (ctx) => {
  test('a missing token Secret with the pod deleted at the deadline: infrastructure, read from the Events; the repository is not blamed', async () => {
    await resetScheduling(ctx.db);
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, ['ev/secret']);
    const job = cluster.deadlineWithoutPod(config.namespace, jobs[0].metadata!.name!, MISSING_SECRET);
    const r = await harvestJob(job, deps);
    assert.equal(r.status, 'stored');
    if (r.status !== 'stored') return;
    assert.equal(r.repos[0].failure, 'infrastructure');
    assert.match(
      r.repos[0].reason ?? '',
      /^the container could not be configured \(a missing Secret or ConfigMap\): Failed: Error: secret "posture-github-tokens" not found \(from the pod's Events\)/,
    );
    const repo = await getRepo(ctx.db, 'github.com/ev/secret');
    assert.equal(repo?.consecutive_failures, 0);
    assert.equal(repo?.other_failures, 1);
  });

  test('an image that cannot be pulled, pod deleted: infrastructure with the pull error', async () => {
    await resetScheduling(ctx.db);
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, ['ev/image']);
    const job = cluster.deadlineWithoutPod(config.namespace, jobs[0].metadata!.name!, [
      { reason: 'Failed', message: 'Failed to pull image "ghcr.io/ossf/scorecard:v5.5.0": failed to resolve reference: no such host' },
      { reason: 'Failed', message: 'Error: ErrImagePull' },
      { reason: 'Failed', message: 'Error: ImagePullBackOff' },
    ]);
    const r = await harvestJob(job, deps);
    assert.equal(r.status === 'stored' && r.repos[0].failure, 'infrastructure');
    assert.match((r.status === 'stored' && r.repos[0].reason) || '', /Failed to pull image "ghcr\.io\/ossf\/scorecard:v5\.5\.0"/);
  });

  test('Events the harvester may not read: nothing stored (never a guess against the repository), the Job is left for a retry', async () => {
    await resetScheduling(ctx.db);
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, ['ev/rbac']);
    const job = cluster.deadlineWithoutPod(config.namespace, jobs[0].metadata!.name!, MISSING_SECRET);
    cluster.failures.listEvents = [403];
    await assert.rejects(harvestJob(job, deps), (err: unknown) => err instanceof HarvestConfigError && /list events/.test(err.message));
    assert.equal((await runByJobName(ctx.db, job.metadata!.name!))?.outcome, 'pending');
  });

  test('401 Bad credentials: nobody blamed, and the next ticks start only a probe until a run shows the token works', async () => {
    await resetScheduling(ctx.db);
    const names = ['tk/a', 'tk/b', 'tk/c', 'tk/d', 'tk/e', 'tk/f'];
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names, { maxConcurrentJobs: 2, breakerProbeRuns: 1 });
    const url = 'https://api.github.com/repos/tk/a';
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, {
      log: `Error: scorecard.Run: repo unreachable: GET ${url}: 401 Bad credentials []\n`,
      exitCode: 1,
      at: T0,
    });
    const r = await harvestJob(done, deps);
    assert.equal(r.status === 'stored' && r.repos[0].failure, 'credentials');
    const blamed = await ctx.db('repos').where('consecutive_failures', '>', 0).orWhere('other_failures', '>', 0).count('* as n').first();
    assert.equal(Number((blamed as { n: string }).n), 0, 'no repository counts a failure');
    for (const j of jobs) await deps.cluster.deleteJob(config.namespace, j.metadata!.name!);
    await ctx.db('runs').where({ outcome: 'pending' }).delete();
    await ctx.db('repos').update({ lease_owner: null, lease_expires_at: null });
    await setEveryRepoDueAt(ctx.db, new Date(T0.getTime() - 1));
    const now = new Date(T0.getTime() + 60_000);
    // Through the scheduler function's handler, as a PingSource event: the reply and the gauge say it.
    const handle = createSchedulerHandle(
      async () => ({ db: ctx.db, cluster, config, log: silentLogger, retryBaseMs: 0 }),
      () => now,
    );
    const ping = new CloudEvent({ type: 'dev.knative.sources.ping', source: '/test', time: now.toISOString(), data: {} });
    const reply = (await handle({ log: silentLogger, method: 'POST', path: '/', headers: {}, query: {}, cloudevent: ping } as never)) as { body: TickSummary };
    const tick = reply.body;
    assert.equal(tick.paused?.reason, 'credentials');
    assert.equal(tick.created, 1, 'one probe run, not the cap of 2');
    const metrics = await registry.metrics();
    assert.match(metrics, /^posture_scheduler_paused\{reason="credentials"\} 1$/m);
    assert.match(metrics, /^posture_scheduler_paused\{reason="rate-limit"\} 0$/m);
    const live = await fleetLive(ctx.db, config, now);
    assert.equal(live.paused?.reason, 'credentials');
  });

  test('a spent rate limit: the run says when it resets, and no Job starts before then', async () => {
    await resetScheduling(ctx.db);
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, ['rl/a', 'rl/b', 'rl/c'], { maxConcurrentJobs: 1 });
    const log = `time="${new Date(T0.getTime() + 5000).toISOString()}" level=info msg="Rate limit exceeded. Waiting 59m0s to retry..."\n`;
    const done = cluster.finish(config.namespace, jobs[0].metadata!.name!, { log, reason: 'DeadlineExceeded', at: new Date(T0.getTime() + 1_800_000) });
    // Harvested as the Job finished (the database's clock, in production).
    const r = await harvestJob(done, { ...deps, now: () => new Date(T0.getTime() + 1_800_000) });
    assert.equal(r.status === 'stored' && r.repos[0].failure, 'rate-limited');
    await deps.cluster.deleteJob(config.namespace, jobs[0].metadata!.name!);
    await setEveryRepoDueAt(ctx.db, new Date(T0.getTime() - 1));
    const before = new Date(T0.getTime() + 3_000_000);
    const held = await runTick('2030-01-01T00:50Z', { db: ctx.db, cluster, config, log: silentLogger, now: () => before, retryBaseMs: 0 });
    assert.equal(held.paused?.reason, 'rate-limit');
    assert.equal(held.created, 0);
    const after = new Date(T0.getTime() + 3_600_000);
    const resumed = await runTick('2030-01-01T01:00Z', { db: ctx.db, cluster, config, log: silentLogger, now: () => after, retryBaseMs: 0 });
    assert.equal(resumed.paused, undefined);
    assert.equal(resumed.created, 1);
    // A line a repository could shape claims a year's wait: the fleet waits at most the hour after the run.
    const crafted = `time="${new Date(T0.getTime() + 3_600_000).toISOString()}" level=warning msg="Warn: data/Rate limit exceeded. Waiting 8760h0m0s to retry..."\n`;
    const next = [...cluster.jobs.values()][0];
    const forged = cluster.finish(config.namespace, next.metadata!.name!, { log: crafted, reason: 'DeadlineExceeded', at: new Date(T0.getTime() + 3_700_000) });
    const f = await harvestJob(forged, { ...deps, now: () => new Date(T0.getTime() + 3_700_000) });
    assert.equal(f.status === 'stored' && f.repos[0].failure, 'rate-limited');
    assert.equal((await getSchedulerState(ctx.db)).githubWaitUntil?.toISOString(), new Date(T0.getTime() + 3_700_000 + 3_600_000).toISOString());
  });
});
