// What a tick needs to know about the cluster, at a cost that does not grow with the Jobs the
// cluster holds (harvested Jobs kept by POSTURE_KEEP_JOBS or waiting for their TTL):
//  - the database's pending runs are the index: only their Jobs are read, in batches by the
//    repository label (`posture.dev/repo-id in (...)`), to count what runs, harvest what
//    finished and notice what vanished;
//  - Jobs the database never recorded (not made by the scheduler) are found by a sweep that
//    reads one metadata-only page per tick, resuming from a continue token kept in the
//    database; an expired token (410) starts the sweep over.
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { type Db, getJobSweep, type PendingRun, pendingRunsWithRepo, runsByJobNames, setJobSweep } from '../db/index.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, POSTURE_JOB_SELECTOR, REPO_ID_LABEL, repoIdLabel } from '../jobs/spec.ts';
import { jobState } from '../jobs/status.ts';
import { type ClusterApi, withRetries } from '../kube/cluster.ts';
import { parseRepo } from '../repo/identity.ts';

/** Repository labels per targeted list (a label selector of ~2.5 KB). */
export const LABELS_PER_READ = 100;
/**
 * Job names per sweep page (one page per tick): 10,000 Jobs are swept in 40 ticks. A metadata
 * page still carries each Job's labels, annotations and managedFields, so a page is kept short.
 */
export const SWEEP_PAGE = 250;
/** Pending runs looked at per tick: above any concurrency cap (maxConcurrentJobs ≤ 10,000). */
export const PENDING_LIMIT = 20000;

export interface ClusterView {
  /** Posture Jobs still running (their runs are pending). */
  active: number;
  /** Repository labels with a Job still running. */
  running: Set<string>;
  /** Finished Jobs whose run is still pending: to harvest. */
  finished: V1Job[];
  /** Pending runs with no Job in the cluster. */
  missing: PendingRun[];
  /** Posture-labelled Jobs in this tick's sweep page that no run records (or another uid's run). */
  unrecorded: Array<{ name: string; uid: string }>;
  /** Jobs in this tick's sweep page whose run is already harvested (the harvester's delete failed). */
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
export function classifyPending(
  pending: readonly PendingRun[],
  jobs: readonly V1Job[],
  labelOf: (run: PendingRun) => string | undefined,
): Pick<ClusterView, 'active' | 'running' | 'finished' | 'missing'> {
  const byName = new Map(jobs.map((j) => [j.metadata?.name ?? '', j]));
  const out = { active: 0, running: new Set<string>(), finished: [] as V1Job[], missing: [] as PendingRun[] };
  for (const run of pending) {
    const job = byName.get(run.job_name);
    // A Job of that name with another uid is not this run's Job (a name reused after deletion).
    if (!job || (run.job_uid && job.metadata?.uid && job.metadata.uid !== run.job_uid)) {
      out.missing.push(run);
    } else if (jobState(job).finished) {
      out.finished.push(job);
    } else {
      out.active++;
      const label = labelOf(run);
      if (label) out.running.add(label);
    }
  }
  return out;
}

export async function readClusterView(deps: ViewDeps): Promise<ClusterView> {
  const { db, cluster, config } = deps;
  const retry = { retries: config.kubeRetries, baseMs: deps.retryBaseMs };
  let calls = 0;

  const pending = await pendingRunsWithRepo(db, PENDING_LIMIT);
  const labels = new Map<PendingRun, string>();
  for (const run of pending) {
    const parsed = parseRepo(run.canonical, config.allowedHosts);
    if (parsed.ok) labels.set(run, repoIdLabel(parsed.repo));
  }
  const distinct = [...new Set(labels.values())];
  // The targeted reads and the sweep page are independent: ask for both at once.
  const reads: Array<Promise<V1Job[]>> = [];
  for (let i = 0; i < distinct.length; i += LABELS_PER_READ) {
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${REPO_ID_LABEL} in (${distinct.slice(i, i + LABELS_PER_READ).join(',')})`;
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
  const view = classifyPending(pending, jobs, (run) => labels.get(run));
  await setJobSweep(db, page.continue);
  const recorded = await runsByJobNames(
    db,
    page.jobs.map((j) => j.name),
  );
  const unrecorded = page.jobs.filter((j) => {
    const run = recorded.get(j.name);
    return !run || (run.job_uid && run.job_uid !== j.uid);
  });
  const harvested = page.jobs.filter((j) => {
    const run = recorded.get(j.name);
    return run && run.outcome !== 'pending' && (!run.job_uid || run.job_uid === j.uid);
  });

  return { ...view, unrecorded, harvested, calls };
}
