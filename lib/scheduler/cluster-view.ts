// What a tick needs to know about the cluster, at a cost that does not grow with the Jobs the
// cluster holds (harvested Jobs kept by POSTURE_KEEP_JOBS or waiting for their TTL):
//  - the database's pending runs are the index: only their Jobs are read, in batches by the
//    Job's name label (`posture.dev/job in (...)`), to count what runs, harvest what finished and
//    notice what vanished; a shard's Job has one pending run per repository and counts once;
//  - Jobs the database never recorded (not made by the scheduler) are found by a sweep that
//    reads one metadata-only page per tick, resuming from a continue token kept in the
//    database; an expired token (410) starts the sweep over.
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { type Db, getJobSweep, type PendingRun, pendingRunsWithRepo, runsByJobNames, setJobSweep } from '../db/index.ts';
import { JOB_NAME_LABEL, MANAGED_BY, MANAGED_BY_LABEL, POSTURE_JOB_SELECTOR } from '../jobs/spec.ts';
import { jobState } from '../jobs/status.ts';
import { type ClusterApi, withRetries } from '../kube/cluster.ts';

/** Job names per targeted list (a label selector of at most ~6.5 KB: names are at most 63 characters). */
export const NAMES_PER_READ = 100;
/**
 * Job names per sweep page (one page per tick): 10,000 Jobs are swept in 40 ticks. A metadata
 * page still carries each Job's labels, annotations and managedFields, so a page is kept short.
 */
export const SWEEP_PAGE = 250;
/** Pending runs looked at per tick: above any concurrency cap times the largest shard (10,000 × 100 would not fit a tick anyway). */
export const PENDING_LIMIT = 20000;

export interface ClusterView {
  /** Posture Jobs still running (their runs are pending); a shard's Job counts once. */
  active: number;
  /** Ids of repositories with a Job still running. */
  running: Set<number>;
  /** Finished Jobs with a run still pending: to harvest (each once). */
  finished: V1Job[];
  /** Pending runs with no Job in the cluster (a shard's Job: one per repository). */
  missing: PendingRun[];
  /** Posture-labelled Jobs in this tick's sweep page that no run records (or another uid's run). */
  unrecorded: Array<{ name: string; uid: string }>;
  /** Jobs in this tick's sweep page whose runs are all harvested (the harvester's delete failed). */
  harvested: Array<{ name: string; uid: string }>;
  /** What it cost: API calls made. */
  calls: number;
}

export interface ViewDeps {
  db: Db;
  cluster: ClusterApi;
  config: Pick<Config, 'namespace' | 'kubeRetries' | 'allowedHosts'>;
  retryBaseMs?: number;
}

/** A Job asked for by name is posture's only if it carries posture's label (the name alone could be anyone's). */
export function isPostureJob(job: V1Job | undefined): boolean {
  return job?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
}

/** Splits pending runs by what the cluster holds for them. Pure: the table tests drive it. */
export function classifyPending(pending: readonly PendingRun[], jobs: readonly V1Job[]): Pick<ClusterView, 'active' | 'running' | 'finished' | 'missing'> {
  const byName = new Map(jobs.map((j) => [j.metadata?.name ?? '', j]));
  const out = { active: 0, running: new Set<number>(), finished: [] as V1Job[], missing: [] as PendingRun[] };
  const counted = new Set<V1Job>();
  for (const run of pending) {
    const job = byName.get(run.job_name);
    // A Job of that name with another uid is not this run's Job (a name reused after deletion).
    if (!job || (run.job_uid && job.metadata?.uid && job.metadata.uid !== run.job_uid)) {
      out.missing.push(run);
    } else if (jobState(job).finished) {
      if (!counted.has(job)) out.finished.push(job);
      counted.add(job);
    } else {
      if (!counted.has(job)) out.active++;
      counted.add(job);
      out.running.add(Number(run.repo_id));
    }
  }
  return out;
}

export async function readClusterView(deps: ViewDeps): Promise<ClusterView> {
  const { db, cluster, config } = deps;
  const retry = { retries: config.kubeRetries, baseMs: deps.retryBaseMs };
  let calls = 0;

  const pending = await pendingRunsWithRepo(db, PENDING_LIMIT);
  const distinct = [...new Set(pending.map((run) => run.job_name))];
  // The targeted reads and the sweep page are independent: ask for both at once.
  const reads: Array<Promise<V1Job[]>> = [];
  for (let i = 0; i < distinct.length; i += NAMES_PER_READ) {
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${JOB_NAME_LABEL} in (${distinct.slice(i, i + NAMES_PER_READ).join(',')})`;
    reads.push(withRetries(() => cluster.listJobs(config.namespace, selector), retry));
    calls++;
  }
  const sweep = await getJobSweep(db);
  const pageRead = withRetries(
    () => cluster.listJobMetadataPage(config.namespace, POSTURE_JOB_SELECTOR, { limit: SWEEP_PAGE, continue: sweep.continueToken }),
    retry,
  );
  calls++;
  const [jobs, page] = await Promise.all([Promise.all(reads).then((r) => r.flat()), pageRead]);
  const view = classifyPending(pending, jobs);
  await setJobSweep(db, page.continue);
  const recorded = await runsByJobNames(
    db,
    page.jobs.map((j) => j.name),
  );
  // A Job is recorded when a run of its name has its uid (or none yet); harvested when every such run is.
  const runsOf = (j: { name: string; uid: string }) => (recorded.get(j.name) ?? []).filter((run) => !run.job_uid || run.job_uid === j.uid);
  const unrecorded = page.jobs.filter((j) => runsOf(j).length === 0);
  const harvested = page.jobs.filter((j) => {
    const runs = runsOf(j);
    return runs.length > 0 && runs.every((run) => run.outcome !== 'pending');
  });

  return { ...view, unrecorded, harvested, calls };
}
