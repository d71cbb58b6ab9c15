import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { SCORE_UPDATED_TYPE } from '../changes/events.ts';
import { getRepo, latestScore, runByJobName, scoreHistory } from '../db/index.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { createHarvesterHandle } from './handler.ts';
import { type HarvestResult, harvestJob } from './harvest.ts';
import { RecentlyHarvested } from './recent.ts';
import { scheduled, scheduledMany, T0 } from './testing.ts';

const fixture = (n: string) => readFileSync(fixturePath(n), 'utf8');
const FX08 = fixture(FIXTURES.cliShowDetails);
const FX08_DOC = JSON.parse(FX08);

const reset = resetScheduling;

/** What the function server hands the handler for one event, and an ApiServerSource event. */
const context = (cloudevent?: CloudEvent<unknown>) => ({ log: silentLogger, method: 'POST', path: '/', headers: {}, query: {}, cloudevent });
const ev = (type: string, data: unknown) => new CloudEvent({ type, source: '/apis/v1/namespaces/posture/apiserversources/jobs', data });

const stderrNoise = '2030/01/01 00:00:01 using token from GITHUB_AUTH_TOKEN\n{"level":"info","msg":"fetching repo"}\n';

describeEachDatabase('harvest', (ctx) => {
  test("a finished Job with a real result stores exactly the fixture's score and every check, then deletes the Job", async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, FX08_DOC.repo.name);
    const done = cluster.finish(config.namespace, job.metadata!.name!, {
      log: `${stderrNoise + FX08.replace(/\n\s*/g, '')}\n`,
      at: new Date(T0.getTime() + 60000),
    });
    const r = await harvestJob(done, deps);
    assert.equal(r.status, 'stored');
    const key = (parseRepo(FX08_DOC.repo.name) as any).repo.key;
    const s = await latestScore(ctx.db, key);
    assert.equal(s?.score, FX08_DOC.score);
    assert.equal(s?.repoCommit, FX08_DOC.repo.commit);
    assert.equal(s?.scorecardVersion, FX08_DOC.scorecard.version);
    assert.deepEqual(
      s?.checks.map((c) => [c.name, c.score, c.reason, c.details, c.documentation]),
      FX08_DOC.checks.map((c: any) => [c.name, c.score, c.reason, c.details ?? null, c.documentation ?? null]),
    );
    assert.equal(cluster.jobs.size, 0, 'harvested Job deleted');
    const repo = await getRepo(ctx.db, key);
    assert.equal(repo?.next_due_at.toISOString(), new Date(T0.getTime() + 60000 + config.rescoreIntervalSeconds * 1000).toISOString());
    assert.equal(repo?.lease_owner, null);
    // The same event again (the Job is gone from the cluster but the event still carries it): a no-op.
    assert.equal((await harvestJob(done, deps)).status, 'duplicate');
    assert.equal((await scoreHistory(ctx.db, key)).length, 1);
  });

  test('a log over the byte cap: the tail is read, where Scorecard prints its result', async () => {
    await reset(ctx.db);
    const cap = 64 * 1024;
    const { cluster, config, job, deps } = await scheduled(ctx.db, FX08_DOC.repo.name, { logByteCap: cap });
    // 4 caps of stderr before the result (rate-limit waits print a lot), a little after it.
    const noise = Array.from({ length: (4 * cap) / 64 }, (_, i) =>
      `2030/01/01 00:00:01 waiting for rate limit reset ${String(i).padStart(12, '0')}\n`.slice(-64),
    ).join('');
    const log = `${noise + FX08.replace(/\n\s*/g, '')}\n${stderrNoise}`;
    assert.ok(Buffer.byteLength(log) > 4 * cap);
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log, at: new Date(T0.getTime() + 60000) });
    const r = await harvestJob(done, deps);
    assert.equal(r.status, 'stored');
    assert.equal((r as Extract<HarvestResult, { status: 'stored' }>).repos[0].failure, null, JSON.stringify(r));
    assert.equal((r as Extract<HarvestResult, { status: 'stored' }>).repos[0].score, FX08_DOC.score);
    // Head first (cap + 1 bytes), then the tail: two reads, never the whole log.
    assert.deepEqual(
      cluster.calls.filter((c) => c === 'streamPodLog'),
      ['streamPodLog', 'streamPodLog'],
    );
  });

  test('a log over the cap whose tail holds no result is stored as truncated', async () => {
    await reset(ctx.db);
    const cap = 4096;
    const { cluster, config, job, deps } = await scheduled(ctx.db, FX08_DOC.repo.name, { logByteCap: cap });
    const log = `${FX08.replace(/\n\s*/g, '')}\n${'x'.repeat(63)}${'\n'.repeat(1)}${(`${'y'.repeat(63)}\n`).repeat(400)}`;
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log, at: new Date(T0.getTime() + 60000) });
    const r = await harvestJob(done, deps);
    assert.equal((r as Extract<HarvestResult, { status: 'stored' }>).repos[0].failure, 'truncated');
  });

  test('keepJobs keeps the harvested Job', async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, 'k/keep', { keepJobs: true });
    const doc = { ...FX08_DOC, repo: { ...FX08_DOC.repo, name: 'github.com/k/keep' } };
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: JSON.stringify(doc) });
    assert.equal((await harvestJob(done, deps)).status, 'stored');
    assert.equal(cluster.jobs.size, 1);
  });

  test('failure classes are stored with the run and back the repository off', async () => {
    const cases: Array<[string, { log: string; exitCode?: number; reason?: string }, string]> = [
      ['skipped (v5.4+, exit 0, no JSON)', { log: 'Skipping github.com/z/repo: repo unreachable: 404\n' }, 'no-result'],
      ['garbage log', { log: '\u0000\u0001garbage {not json\n' }, 'no-result'],
      ['crash without output', { log: 'panic: runtime error\n', exitCode: 2 }, 'pod-failed'],
      ['deadline', { log: stderrNoise, reason: 'DeadlineExceeded' }, 'deadline-exceeded'],
      ['truncated result', { log: FX08.slice(0, 400) }, 'truncated'],
      ['a valid result for another repository', { log: FX08 }, 'invalid-result'],
    ];
    for (const [name, finish, want] of cases) {
      await reset(ctx.db);
      const { cluster, config, job, deps } = await scheduled(ctx.db, 'z/repo');
      const done = cluster.finish(config.namespace, job.metadata!.name!, finish);
      const r = await harvestJob(done, deps);
      assert.equal(r.status, 'stored', name);
      const run = await runByJobName(ctx.db, job.metadata!.name!);
      assert.equal(run?.outcome, 'failed', name);
      assert.match(run?.failure_class ?? '', new RegExp(`^(${want})$`), `${name}: ${run?.failure_class} ${run?.reason}`);
      assert.ok((run?.reason ?? '').length > 0, name);
      const repo = await getRepo(ctx.db, 'github.com/z/repo');
      assert.equal(repo?.consecutive_failures, 1, name);
      assert.equal(await latestScore(ctx.db, 'github.com/z/repo'), undefined, name);
    }
  });

  test('a check runtime error (exit 1 after valid JSON) is stored and flagged', async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, 'ossf/scorecard-webapp');
    const doc = JSON.parse(fixture(FIXTURES.restApi));
    doc.repo.name = 'github.com/ossf/scorecard-webapp';
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: `${JSON.stringify(doc)}\nError: check runtime error\n`, exitCode: 1 });
    const r = await harvestJob(done, deps);
    assert.equal(r.status, 'stored');
    assert.equal(r.status === 'stored' && r.repos[0].flagged, true);
    assert.equal((await runByJobName(ctx.db, job.metadata!.name!))?.flagged, true);
    assert.equal((await latestScore(ctx.db, 'github.com/ossf/scorecard-webapp'))?.score, doc.score);
  });

  test('unfinished Jobs, other Jobs and Jobs the scheduler never recorded are ignored', async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, 'i/one');
    assert.match(((await harvestJob(job, deps)) as any).why, /not finished/);
    const other = { ...job, metadata: { ...job.metadata, labels: {} } };
    assert.match(((await harvestJob(other, deps)) as any).why, /not a posture Job/);
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: 'x' });
    const forged = structuredClone(done);
    forged.metadata!.name = 'forged-job';
    assert.match(((await harvestJob(forged, deps)) as any).why, /not created by the scheduler/);
    const elsewhere = structuredClone(done);
    elsewhere.metadata!.namespace = 'default';
    assert.equal((await harvestJob(elsewhere, deps)).status, 'ignored');
  });

  test('the API server failing while reading the pod is transient: nothing is stored, the event is retried', async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, 't/one', { kubeRetries: 1 });
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: FX08 });
    cluster.failures.listPods = [500, 503];
    await assert.rejects(harvestJob(done, deps), /TransientHarvestError|reading the Job's pod/);
    assert.equal((await runByJobName(ctx.db, job.metadata!.name!))?.outcome, 'pending');
  });

  test('events after a harvest are duplicates without a database query when this process stored the Job; another Job of the same name is not', async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, FX08_DOC.repo.name);
    const harvested = new RecentlyHarvested();
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: FX08 });
    assert.equal((await harvestJob(done, { ...deps, harvested })).status, 'stored');
    let queries = 0;
    const count = () => queries++;
    ctx.db.on('query', count);
    try {
      // The delete the harvest made: ApiServerSource sends the Job's last (finished) state again.
      assert.equal((await harvestJob(done, { ...deps, harvested })).status, 'duplicate');
      assert.equal(queries, 0, 'no query for a Job this process stored');
      // Without the set (a restarted process, another replica) the database still says so.
      assert.equal((await harvestJob(done, deps)).status, 'duplicate');
      assert.ok(queries > 0);
      // A Job of the same name with another uid is not taken for the stored one.
      queries = 0;
      const other = { ...done, metadata: { ...done.metadata, uid: 'another-uid' } };
      assert.equal((await harvestJob(other, { ...deps, harvested })).status, 'duplicate');
      assert.ok(queries > 0, 'the database was asked about the other uid');
    } finally {
      ctx.db.removeListener('query', count);
    }
  });

  test("the handler answers before the harvested Job is deleted; the Jobs harvested within the batch's delay go in one delete call", async () => {
    await reset(ctx.db);
    const names = Array.from({ length: 5 }, (_, i) => `github.com/posture-batch/r-${i}`);
    const { cluster, config, jobs, deps } = await scheduledMany(ctx.db, names);
    assert.equal(jobs.length, 5);
    const handle = createHarvesterHandle(async () => deps, { deletions: { delayMs: 60_000 } });
    cluster.calls.length = 0;
    for (const job of jobs) {
      const repo = job.metadata!.annotations!['posture.dev/repo'];
      const done = cluster.finish(config.namespace, job.metadata!.name!, { log: FX08.replace(FX08_DOC.repo.name, repo) });
      const out = await handle(context(ev('dev.knative.apiserver.resource.update', done)));
      assert.ok(out instanceof CloudEvent, JSON.stringify(out));
      assert.ok(cluster.jobs.has(`${config.namespace}/${job.metadata!.name}`), 'answered while the Job still exists');
    }
    assert.deepEqual(
      cluster.calls.filter((c) => c.startsWith('delete')),
      [],
      'no delete before the answers',
    );
    await handle.drain();
    assert.deepEqual(
      cluster.calls.filter((c) => c.startsWith('delete')),
      ['deleteJobCollection'],
      'five harvested Jobs, one call',
    );
    assert.equal(cluster.jobs.size, 0);
    assert.equal(cluster.calls.filter((c) => c === 'listPods').length, 5);
  });

  test('the handler answers Knative: 400 malformed, 422 wrong object, 200 ignored, score.updated CloudEvent when stored', async () => {
    await reset(ctx.db);
    const { cluster, config, job, deps } = await scheduled(ctx.db, FX08_DOC.repo.name);
    const handle = createHarvesterHandle(async () => deps);
    assert.equal(((await handle(context())) as any).statusCode, 400);
    assert.equal(((await handle(context(ev('dev.knative.sources.ping', {})))) as any).statusCode, 400);
    assert.equal(((await handle(context(ev('dev.knative.apiserver.resource.update', { kind: 'Pod', apiVersion: 'v1' })))) as any).statusCode, 422);
    assert.equal(((await handle(context(ev('dev.knative.apiserver.resource.update', job)))) as any).statusCode, 200, 'running Job: acknowledged');
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: FX08 });
    const out = await handle(context(ev('dev.knative.apiserver.resource.update', done)));
    assert.ok(out instanceof CloudEvent);
    assert.equal(out.type, SCORE_UPDATED_TYPE);
    assert.equal(out.subject, FX08_DOC.repo.name);
    assert.equal((out.data as any).score, FX08_DOC.score);
    const again = await handle(context(ev('dev.knative.apiserver.resource.update', done)));
    assert.equal((again as any).statusCode, 200);
    assert.equal((again as any).body.status, 'duplicate');
    const down = createHarvesterHandle(async () => {
      throw new Error('database down');
    });
    assert.equal(((await down(context(ev('dev.knative.apiserver.resource.update', done)))) as any).statusCode, 503);
  });
});
