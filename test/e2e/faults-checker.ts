// The checker of the fault-injection run (faults.test.ts): a pure function of what the
// database holds at the end and what a sampler saw of the API server during the run. It proves
// the scheduler's and harvester's promises or names each broken one.

/** What a repository was scripted to do: its Jobs succeed, fail for its own reasons, or fail for the infrastructure's. */
export type Expectation = 'success' | 'repository-failure' | 'infrastructure';

export interface CheckedRepo {
  key: string;
  expect: Expectation;
  nextDueAt: Date;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  consecutiveFailures: number;
  lastError: string | null;
}

export interface CheckedRun {
  repoKey: string;
  jobName: string;
  jobUid: string | null;
  outcome: 'pending' | 'succeeded' | 'failed';
  failureClass: string | null;
  reason: string | null;
  finishedAt: Date | null;
  /** Scores stored for this run (0 or 1 when all is well). */
  scores: number;
}

/** A Job the sampler saw in the API server (straight, not through the proxy). */
export interface SeenJob {
  name: string;
  uid: string;
  /** The repositories it scores, in scan order (one, or a shard's). */
  repoKeys: string[];
  createdAt: Date;
}

/** A repository of a shard that Scorecard never started on: nobody's failure, scanned again in a later shard. */
export const NOT_REACHED = 'not-reached';

export interface FaultRunRecord {
  repos: CheckedRepo[];
  runs: CheckedRun[];
  jobsSeen: SeenJob[];
  /** Active (unfinished) posture Jobs at each 100 ms sample: the cap counts Jobs. */
  samples: Array<{ at: Date; active: number }>;
  /** posture Jobs still in the cluster after the drain. */
  jobsLeft: number;
  cap: number;
  /** Repositories the GitHub budget allows per hour: it counts repositories (runs started), not Jobs. */
  budgetPerHour: number;
  end: Date;
  /** Faults injected, by kind (only reported). */
  faults: Record<string, number>;
}

export interface CheckCounts {
  repos: number;
  scored: number;
  failed: number;
  infrastructure: number;
  runs: number;
  jobsSeen: number;
  /** (Job, repository) pairs of the Jobs seen. */
  pairsSeen: number;
  /** Runs of repositories a shard never reached (fine: scanned again later). */
  notReached: number;
  lost: number;
  /** (Job, repository) pairs the API server held that no run records (the sweep would delete the Job mid-run). */
  withoutRun: number;
  duplicated: number;
  stranded: number;
  /** Repositories due and never picked because the hour's budget is spent (fine: the budget held them back). */
  waitingForBudget: number;
  pending: number;
  maxActive: number;
  cap: number;
  /** Repositories started in the busiest hour (runs of Jobs created that hour, not-reached left out: refunded). */
  maxRunsPerHour: number;
  /** Jobs created in the busiest hour (reported; the budget does not count them). */
  maxJobsPerHour: number;
  budgetPerHour: number;
  infrastructureBlamed: number;
  wrongOutcome: number;
  jobsLeft: number;
  samples: number;
}

export interface CheckResult {
  ok: boolean;
  violations: string[];
  counts: CheckCounts;
}

const hourOf = (d: Date) => Math.floor(d.getTime() / 3_600_000);

const pair = (job: string, repoKey: string) => `${job}\n${repoKey}`;

export function checkFaultRun(r: FaultRunRecord): CheckResult {
  const violations: string[] = [];
  const say = (s: string) => {
    if (violations.length < 50) violations.push(s);
  };
  // Runs are per (Job, repository): one Job of a shard holds one run per repository it scores.
  const runsByRepo = new Map<string, CheckedRun[]>();
  for (const run of r.runs) runsByRepo.set(run.repoKey, [...(runsByRepo.get(run.repoKey) ?? []), run]);
  const runsOfJob = new Map<string, CheckedRun[]>();
  for (const run of r.runs) {
    const job = run.jobUid ?? `name:${run.jobName}`;
    runsOfJob.set(job, [...(runsOfJob.get(job) ?? []), run]);
  }
  const runByUid = new Map<string, CheckedRun>();
  const runByName = new Map<string, CheckedRun>();
  let duplicated = 0;
  let notReached = 0;
  for (const run of r.runs) {
    if (run.failureClass === NOT_REACHED) notReached++;
    const byName = pair(run.jobName, run.repoKey);
    if (runByName.has(byName)) {
      duplicated++;
      say(`two runs of ${run.repoKey} for Job ${run.jobName}`);
    }
    runByName.set(byName, run);
    if (run.jobUid) {
      const byUid = pair(run.jobUid, run.repoKey);
      if (runByUid.has(byUid)) {
        duplicated++;
        say(`two runs of ${run.repoKey} for Job UID ${run.jobUid}`);
      }
      runByUid.set(byUid, run);
    }
    if (run.scores > 1 || (run.scores === 1 && run.outcome !== 'succeeded')) {
      duplicated++;
      say(`run of ${run.repoKey} in ${run.jobName} has ${run.scores} scores with outcome ${run.outcome}`);
    }
  }

  // Every (Job, repository) pair the API server held is one finished run, exactly once (none lost, none stored twice).
  let lost = 0;
  let withoutRun = 0;
  let pairsSeen = 0;
  const seenJobs = new Map<string, SeenJob>();
  for (const j of r.jobsSeen) if (!seenJobs.has(j.uid)) seenJobs.set(j.uid, j);
  // Repositories started per hour, as (Job name, repository) pairs: a Job's name is its claims'
  // identity (repositories and due windows), so a Job deleted and created again under its name
  // (an orphan swept, then the same claim) spends the budget once.
  const startedPerHour = new Map<number, Set<string>>();
  const jobsPerHour = new Map<number, number>();
  const add = (m: Map<number, number>, h: number) => m.set(h, (m.get(h) ?? 0) + 1);
  for (const j of seenJobs.values()) {
    const hour = hourOf(j.createdAt);
    add(jobsPerHour, hour);
    const mine = new Set(j.repoKeys);
    for (const key of mine) {
      pairsSeen++;
      const run = runByUid.get(pair(j.uid, key)) ?? runByName.get(pair(j.name, key));
      // The budget counts each repository a Job started on; a repository not reached had its budget given back.
      if (run?.failureClass !== NOT_REACHED) startedPerHour.set(hour, (startedPerHour.get(hour) ?? new Set()).add(pair(j.name, key)));
      if (!run) withoutRun++;
      if (!run || run.outcome === 'pending') {
        lost++;
        say(`Job ${j.name} ran ${key} but ${run ? 'its run is still pending' : 'no run records it'}`);
      }
    }
    // A run recorded for this Job must be of a repository it scores (never a neighbour's result stored against another).
    for (const run of [...(runsOfJob.get(j.uid) ?? []), ...(runsOfJob.get(`name:${j.name}`) ?? [])]) {
      if (!mine.has(run.repoKey)) {
        duplicated++;
        say(`Job ${j.name} was stored against ${run.repoKey}, not one of ${j.repoKeys.join(', ')}`);
      }
    }
  }

  let scored = 0;
  let failed = 0;
  let infrastructure = 0;
  let stranded = 0;
  let waitingForBudget = 0;
  const perHour = new Map([...startedPerHour].map(([h, started]) => [h, started.size]));
  // When the hour's budget is spent, repositories still due wait for the next hour: not stranded.
  const budgetSpent = (perHour.get(hourOf(r.end)) ?? 0) >= r.budgetPerHour;
  const waits = (repo: CheckedRepo) => budgetSpent && !repo.leaseOwner && repo.nextDueAt <= r.end;
  let infrastructureBlamed = 0;
  let wrongOutcome = 0;
  let pending = 0;
  for (const run of r.runs) if (run.outcome === 'pending') pending++;
  if (pending > 0) say(`${pending} runs still pending after the drain`);
  for (const repo of r.repos) {
    // A repository's outcome is its latest run that reached it: a not-reached run says nothing about it.
    const runs = (runsByRepo.get(repo.key) ?? []).filter((x) => x.outcome !== 'pending' && x.failureClass !== NOT_REACHED);
    const latest = runs.sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0)).at(-1);
    if (!latest && waits(repo)) {
      waitingForBudget++;
      continue;
    }
    if (!latest) {
      stranded++;
      say(`${repo.key} was never scored nor failed${repo.leaseOwner ? ` (still leased to ${repo.leaseOwner})` : ''}`);
      continue;
    }
    if (latest.outcome === 'succeeded') scored++;
    else if (latest.failureClass === 'infrastructure') infrastructure++;
    else failed++;
    if (latest.outcome === 'failed' && (!latest.failureClass || !latest.reason)) say(`${repo.key}: failed without its cause`);
    const want = repo.expect;
    const got = latest.outcome === 'succeeded' ? 'success' : latest.failureClass === 'infrastructure' ? 'infrastructure' : 'repository-failure';
    if (got !== want) {
      wrongOutcome++;
      say(`${repo.key}: expected ${want}, its latest run is ${latest.outcome} ${latest.failureClass ?? ''}: ${latest.reason ?? ''}`.trim());
    }
    // The infrastructure's failures (scripted, or injected between posture and the API server) are never the repository's.
    if (want !== 'repository-failure' && (repo.consecutiveFailures > 0 || repo.lastError)) {
      infrastructureBlamed++;
      say(`${repo.key}: carries a failure (${repo.consecutiveFailures}, ${repo.lastError ?? ''}) though only the infrastructure failed`);
    }
    if (repo.leaseOwner && repo.leaseExpiresAt && repo.leaseExpiresAt <= r.end) {
      stranded++;
      say(`${repo.key}: still leased to ${repo.leaseOwner} past its lease`);
    } else if (repo.leaseOwner) {
      stranded++;
      say(`${repo.key}: still leased to ${repo.leaseOwner} after the drain`);
    } else if (waits(repo)) {
      waitingForBudget++;
    } else if (repo.nextDueAt <= r.end) {
      stranded++;
      say(`${repo.key}: due since ${repo.nextDueAt.toISOString()} and not picked`);
    }
  }

  const maxActive = r.samples.reduce((m, s) => Math.max(m, s.active), 0);
  if (maxActive > r.cap) {
    const at = r.samples.find((s) => s.active > r.cap)!;
    say(`${maxActive} posture Jobs active at once (cap ${r.cap}), first at ${at.at.toISOString()}`);
  }
  const maxRunsPerHour = [...perHour.values()].reduce((m, n) => Math.max(m, n), 0);
  const maxJobsPerHour = [...jobsPerHour.values()].reduce((m, n) => Math.max(m, n), 0);
  if (maxRunsPerHour > r.budgetPerHour) say(`${maxRunsPerHour} repositories started in one hour, budget ${r.budgetPerHour}`);
  if (r.jobsLeft > 0) say(`${r.jobsLeft} posture Jobs left after the drain`);

  const counts: CheckCounts = {
    repos: r.repos.length,
    scored,
    failed,
    infrastructure,
    runs: r.runs.length,
    jobsSeen: seenJobs.size,
    pairsSeen,
    notReached,
    lost,
    withoutRun,
    duplicated,
    stranded,
    waitingForBudget,
    pending,
    maxActive,
    cap: r.cap,
    maxRunsPerHour,
    maxJobsPerHour,
    budgetPerHour: r.budgetPerHour,
    infrastructureBlamed,
    wrongOutcome,
    jobsLeft: r.jobsLeft,
    samples: r.samples.length,
  };
  return { ok: violations.length === 0, violations, counts };
}
