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
  repoKey: string;
  createdAt: Date;
}

export interface FaultRunRecord {
  repos: CheckedRepo[];
  runs: CheckedRun[];
  jobsSeen: SeenJob[];
  /** Active (unfinished) posture Jobs at each 100 ms sample. */
  samples: Array<{ at: Date; active: number }>;
  /** posture Jobs still in the cluster after the drain. */
  jobsLeft: number;
  cap: number;
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
  lost: number;
  /** Jobs the API server held that no run records (the sweep would delete them mid-run). */
  withoutRun: number;
  duplicated: number;
  stranded: number;
  pending: number;
  maxActive: number;
  cap: number;
  maxRunsPerHour: number;
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

export function checkFaultRun(r: FaultRunRecord): CheckResult {
  const violations: string[] = [];
  const say = (s: string) => {
    if (violations.length < 50) violations.push(s);
  };
  const runsByRepo = new Map<string, CheckedRun[]>();
  for (const run of r.runs) runsByRepo.set(run.repoKey, [...(runsByRepo.get(run.repoKey) ?? []), run]);
  const runByUid = new Map<string, CheckedRun>();
  const runByName = new Map<string, CheckedRun>();
  let duplicated = 0;
  for (const run of r.runs) {
    if (runByName.has(run.jobName)) {
      duplicated++;
      say(`two runs for Job ${run.jobName}`);
    }
    runByName.set(run.jobName, run);
    if (run.jobUid) {
      if (runByUid.has(run.jobUid)) {
        duplicated++;
        say(`two runs for Job UID ${run.jobUid}`);
      }
      runByUid.set(run.jobUid, run);
    }
    if (run.scores > 1 || (run.scores === 1 && run.outcome !== 'succeeded')) {
      duplicated++;
      say(`run of ${run.jobName} has ${run.scores} scores with outcome ${run.outcome}`);
    }
  }

  // Every Job the API server held is one finished run, exactly once (none lost, none stored twice).
  let lost = 0;
  let withoutRun = 0;
  const seenUids = new Set<string>();
  for (const j of r.jobsSeen) {
    if (seenUids.has(j.uid)) continue;
    seenUids.add(j.uid);
    const run = runByUid.get(j.uid) ?? runByName.get(j.name);
    if (!run) withoutRun++;
    if (!run || run.outcome === 'pending') {
      lost++;
      say(`Job ${j.name} (${j.repoKey}) ran but ${run ? 'its run is still pending' : 'no run records it'}`);
    } else if (run.repoKey !== j.repoKey) {
      duplicated++;
      say(`Job ${j.name} was stored against ${run.repoKey}, not ${j.repoKey}`);
    }
  }

  let scored = 0;
  let failed = 0;
  let infrastructure = 0;
  let stranded = 0;
  let infrastructureBlamed = 0;
  let wrongOutcome = 0;
  let pending = 0;
  for (const run of r.runs) if (run.outcome === 'pending') pending++;
  if (pending > 0) say(`${pending} runs still pending after the drain`);
  for (const repo of r.repos) {
    const runs = (runsByRepo.get(repo.key) ?? []).filter((x) => x.outcome !== 'pending');
    const latest = runs.sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0)).at(-1);
    if (!latest) {
      stranded++;
      say(`${repo.key} was never scored nor failed`);
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
  const perHour = new Map<number, number>();
  for (const uid of seenUids) {
    const j = r.jobsSeen.find((x) => x.uid === uid)!;
    perHour.set(hourOf(j.createdAt), (perHour.get(hourOf(j.createdAt)) ?? 0) + 1);
  }
  const maxRunsPerHour = [...perHour.values()].reduce((m, n) => Math.max(m, n), 0);
  if (maxRunsPerHour > r.budgetPerHour) say(`${maxRunsPerHour} runs started in one hour, budget ${r.budgetPerHour}`);
  if (r.jobsLeft > 0) say(`${r.jobsLeft} posture Jobs left after the drain`);

  const counts: CheckCounts = {
    repos: r.repos.length,
    scored,
    failed,
    infrastructure,
    runs: r.runs.length,
    jobsSeen: seenUids.size,
    lost,
    withoutRun,
    duplicated,
    stranded,
    pending,
    maxActive,
    cap: r.cap,
    maxRunsPerHour,
    budgetPerHour: r.budgetPerHour,
    infrastructureBlamed,
    wrongOutcome,
    jobsLeft: r.jobsLeft,
    samples: r.samples.length,
  };
  return { ok: violations.length === 0, violations, counts };
}
