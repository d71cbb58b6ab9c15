// For harvester tests: one Job scheduled through the real tick (so its run is recorded as in
// production) on a fake cluster, with the deps a harvest needs.
import { type Config, defaultConfig } from '../config/index.ts';
import { addRepos, type Db } from '../db/index.ts';
import { setEveryRepoDueAt } from '../db/testing.ts';
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

/** Schedules one Job per repository, all in one tick at T0 on one fake cluster. */
export async function scheduledMany(db: Db, repos: string[], overrides: Partial<Config> = {}) {
  const cluster = new FakeCluster();
  const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0, ...overrides });
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
