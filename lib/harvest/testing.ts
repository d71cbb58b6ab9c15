// For harvester tests: one Job scheduled through the real tick (so its run is recorded as in
// production) on a fake cluster, with the deps a harvest needs.
import { CloudEvent } from 'cloudevents';
import { SCORE_UPDATED_TYPE } from '../changes/events.ts';
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, type Db } from '../db/index.ts';
import { setEveryRepoDueAndFree, setEveryRepoDueAt } from '../db/testing.ts';
import type { Handle } from '../function/handle.ts';
import { FakeCluster } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { runTick } from '../scheduler/tick.ts';
import type { HarvestDeps } from './harvest.ts';

export const T0 = new Date('2030-01-01T00:00:00Z');

/** Schedules one Job for `repo` through the real tick at T0. */
export async function scheduled(db: Db, repo: string, overrides: Partial<Config> = {}) {
  const { jobs, ...rest } = await scheduledMany(db, [repo], overrides);
  return { ...rest, job: jobs[0] };
}

/**
 * Schedules one Job per repository (shards of one, unless `overrides.shardSize` says otherwise),
 * all in one tick at T0 on one fake cluster.
 */
export async function scheduledMany(db: Db, repos: string[], overrides: Partial<Config> = {}) {
  const cluster = new FakeCluster();
  const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0, shardSize: 1, ...overrides });
  await addRepos(
    db,
    repos.map((r) => {
      const parsed = parseRepo(r);
      if (!parsed.ok) throw new Error(`${r}: ${parsed.reason}`);
      return { repo: parsed.repo };
    }),
  );
  await setEveryRepoDueAt(db, new Date(T0.getTime() - 1));
  await runTick('2030-01-01T00:00Z', { db, cluster, config, log: silentLogger, now: () => T0, retryBaseMs: 0 });
  const jobs = [...cluster.jobs.values()];
  // The harvest's clock: a minute after the tick (production's is the database's now()).
  const deps: HarvestDeps = { db, cluster, config, log: silentLogger, random: () => 0, retryBaseMs: 0, now: () => new Date(T0.getTime() + 60_000) };
  return { cluster, config, jobs, deps };
}

/**
 * For tests of what the harvester's handler answers and sends: the repositories are due at `at`,
 * the real tick schedules a Job, the Job finishes a minute later with `log`, and the Job's event
 * goes to `handle`. `finished` is told the finish, the harvest's clock in these tests (the
 * database's in production). Returns the handler's score.updated CloudEvent.
 */
export async function harvestThroughHandler(
  db: Db,
  o: { cluster: FakeCluster; config: Config; handle: Handle; at: number; log: string; finished: (at: number) => void },
): Promise<CloudEvent<unknown>> {
  await setEveryRepoDueAndFree(db, new Date(o.at - 1));
  await runTick(`${new Date(o.at).toISOString().slice(0, 16)}Z`, {
    db,
    cluster: o.cluster,
    config: o.config,
    log: silentLogger,
    now: () => new Date(o.at),
    retryBaseMs: 0,
  });
  const job = [...o.cluster.jobs.values()].find((j) => !j.status?.conditions?.length);
  if (!job) throw new Error('the tick created no Job');
  const done = o.cluster.finish(o.config.namespace, job.metadata!.name!, { log: o.log, at: new Date(o.at + 60_000) });
  o.finished(o.at + 60_000);
  const out = await o.handle({
    log: silentLogger,
    method: 'POST',
    path: '/',
    headers: {},
    query: {},
    cloudevent: new CloudEvent({ type: 'dev.knative.apiserver.resource.update', source: '/test', data: done }),
  });
  if (!(out instanceof CloudEvent) || out.type !== SCORE_UPDATED_TYPE) throw new Error(`not stored: ${JSON.stringify(out)}`);
  return out;
}
