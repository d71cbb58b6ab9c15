// The harvester's promises under faults (issue 12): the API server refusing its reads is a
// configuration problem, never the repository's failure; only pods the Job controls are read.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { type Db, getRepo, latestScore, runByJobName } from '../db/index.ts';
import { describeEachDatabase, resetScheduling } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { createHarvesterHandle } from './handler.ts';
import { HarvestConfigError, harvestJob } from './harvest.ts';
import { scheduled, T0 } from './testing.ts';

const FX08 = readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8');
const FX08_DOC = JSON.parse(FX08);

/** A clean database, then one Job scheduled through the real tick. */
async function scheduledAfresh(db: Db, repo: string) {
  await resetScheduling(db);
  return scheduled(db, repo, { kubeRetries: 1 });
}

describeEachDatabase('harvest under faults', (ctx) => {
  for (const call of ['listPods', 'streamPodLog'] as const) {
    test(`5. a 403 on ${call} stores nothing against the repository and asks for a retry`, async () => {
      const { cluster, config, job, deps } = await scheduledAfresh(ctx.db, FX08_DOC.repo.name);
      const done = cluster.finish(config.namespace, job.metadata!.name!, { log: FX08, at: T0 });
      cluster.failures[call] = [403];
      await assert.rejects(harvestJob(done, deps), (e: unknown) => e instanceof HarvestConfigError && /RBAC/.test((e as Error).message));
      const run = await runByJobName(ctx.db, job.metadata!.name!);
      assert.equal(run?.outcome, 'pending', 'nothing stored');
      const key = (parseRepo(FX08_DOC.repo.name) as any).repo.key;
      assert.equal((await getRepo(ctx.db, key))?.consecutive_failures, 0);
      assert.equal(cluster.jobs.size, 1, 'the Job (and its paid-for log) is kept');
      // Through the handler: 503 (Knative retries), and once RBAC is fixed the result is stored.
      cluster.failures[call] = [403];
      const handle = createHarvesterHandle(async () => deps);
      const ev = new CloudEvent({ type: 'dev.knative.apiserver.resource.update', source: '/apis/v1/namespaces/posture/apiserversources/jobs', data: done });
      const out = (await handle({ log: silentLogger, method: 'POST', path: '/', headers: {}, query: {}, cloudevent: ev } as any)) as any;
      assert.equal(out.statusCode, 503);
      assert.equal((await harvestJob(done, deps)).status, 'stored');
      assert.equal((await latestScore(ctx.db, key))?.score, FX08_DOC.score);
    });
  }

  test("9. a bare Pod labelled with the Job's name cannot forge its score", async () => {
    const { cluster, config, job, deps } = await scheduledAfresh(ctx.db, FX08_DOC.repo.name);
    const done = cluster.finish(config.namespace, job.metadata!.name!, { log: FX08, at: T0 });
    const forged = JSON.stringify({ ...FX08_DOC, score: 10 });
    // Newer than the real pod, same label, even the controller-uid label: but no controller ownerReference.
    cluster.pods.set(`${config.namespace}/planted`, {
      metadata: {
        name: 'planted',
        namespace: config.namespace,
        creationTimestamp: new Date(T0.getTime() + 5000),
        labels: { 'batch.kubernetes.io/job-name': job.metadata!.name!, 'batch.kubernetes.io/controller-uid': job.metadata!.uid! },
      },
      status: {
        phase: 'Succeeded',
        containerStatuses: [
          { name: 'scorecard', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
        ],
      },
    });
    cluster.logs.set(`${config.namespace}/planted`, forged);
    const r = await harvestJob(done, deps);
    assert.equal(r.status === 'stored' && r.repos[0].score, FX08_DOC.score, "the real pod's score, not 10");
  });
});
