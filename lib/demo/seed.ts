// `posture demo`: demo repositories with histories shaped like real Scorecard results, so the
// dashboard has something to show on a machine with no GitHub access. Every demo repository
// lives under the owner `posture-demo` (github.com/posture-demo/…), which the pages label as
// demo data. Results are real Scorecard v5 documents (the 18 checks, reasons, details,
// documentation links, the aggregate computed with Scorecard's risk weights), classified and
// stored through the harvester's own path (storeHarvest), so triggers, deltas and history are
// exactly what a real harvest leaves. Deterministic (a seeded generator) and idempotent: runs
// are keyed by stable Job names and UIDs, so a second run stores nothing new.
import { addRepos, type Db, getRepo, recordRun, runJobNamesStartingWith, storeHarvest } from '../db/index.ts';
import { seededRandom } from '../random/seeded.ts';
import { DEMO_OWNER } from '../repo/demo.ts';
import { parseRepo } from '../repo/identity.ts';
import { classify } from '../scorecard/classify.ts';

export const DEMO_HOST = 'github.com';
const SCORECARD_COMMIT = '4ff9fd1f8c6cc7b7c5d6f3b6d3e0b2f1a9c8e7d6';
const DOCS = `https://github.com/ossf/scorecard/blob/${SCORECARD_COMMIT}/docs/checks.md`;

/** Scorecard's checks, their risk (which weighs the aggregate) and what they look at. */
export const DEMO_CHECKS: ReadonlyArray<{ name: string; risk: 'Critical' | 'High' | 'Medium' | 'Low'; short: string }> = [
  { name: 'Binary-Artifacts', risk: 'High', short: 'Determines if the project has generated executable (binary) artifacts in the source repository.' },
  { name: 'Branch-Protection', risk: 'High', short: "Determines if the default and release branches are protected with GitHub's branch protection settings." },
  { name: 'CI-Tests', risk: 'Low', short: 'Determines if the project runs tests before pull requests are merged.' },
  { name: 'CII-Best-Practices', risk: 'Low', short: 'Determines if the project has an OpenSSF (formerly CII) Best Practices Badge.' },
  { name: 'Code-Review', risk: 'High', short: 'Determines if the project requires human code review before pull requests (aka merge requests) are merged.' },
  { name: 'Contributors', risk: 'Low', short: 'Determines if the project has a set of contributors from multiple organizations (e.g., companies).' },
  { name: 'Dangerous-Workflow', risk: 'Critical', short: "Determines if the project's GitHub Action workflows avoid dangerous patterns." },
  { name: 'Dependency-Update-Tool', risk: 'High', short: 'Determines if the project uses a dependency update tool.' },
  { name: 'Fuzzing', risk: 'Medium', short: 'Determines if the project uses fuzzing.' },
  { name: 'License', risk: 'Low', short: 'Determines if the project has defined a license.' },
  { name: 'Maintained', risk: 'High', short: 'Determines if the project is "actively maintained".' },
  {
    name: 'Packaging',
    risk: 'Medium',
    short: 'Determines if the project is published as a package that others can easily download, install, easily update, and uninstall.',
  },
  { name: 'Pinned-Dependencies', risk: 'Medium', short: 'Determines if the project has declared and pinned the dependencies of its build process.' },
  { name: 'SAST', risk: 'Medium', short: 'Determines if the project uses static code analysis.' },
  { name: 'Security-Policy', risk: 'Medium', short: 'Determines if the project has published a security policy.' },
  { name: 'Signed-Releases', risk: 'High', short: 'Determines if the project cryptographically signs release artifacts.' },
  { name: 'Token-Permissions', risk: 'High', short: "Determines if the project's workflows follow the principle of least privilege." },
  { name: 'Vulnerabilities', risk: 'High', short: 'Determines if the project has open, known unfixed vulnerabilities.' },
];
const WEIGHT = { Critical: 10, High: 7.5, Medium: 5, Low: 2.5 } as const;

const NAMES = [
  'payments-api',
  'web-frontend',
  'auth-service',
  'billing-worker',
  'mobile-app',
  'search-indexer',
  'data-pipeline',
  'infra-terraform',
  'design-system',
  'notification-hub',
  'edge-proxy',
  'ml-feature-store',
  'docs-site',
  'release-tools',
  'audit-log',
  'cli',
];

export function demoRepoName(i: number): string {
  const base = NAMES[i % NAMES.length];
  return `${DEMO_HOST}/${DEMO_OWNER}/${i < NAMES.length ? base : `${base}-${Math.floor(i / NAMES.length) + 1}`}`;
}

function reasonFor(name: string, score: number): { reason: string; details: string[] | null } {
  if (score < 0) return { reason: 'internal error: demo check could not run', details: null };
  const texts: Record<string, [string, string]> = {
    'Code-Review': ['Found 0/30 approved changesets -- score normalized to 0', `Found ${score * 3}/30 approved changesets -- score normalized to ${score}`],
    'Branch-Protection': [
      'branch protection not enabled on development/release branches',
      `branch protection is ${score === 10 ? 'maximal' : 'not maximal'} on development and all release branches`,
    ],
    'Pinned-Dependencies': [
      'dependency not pinned by hash detected -- score normalized to 0',
      `dependency not pinned by hash detected -- score normalized to ${score}`,
    ],
    'Token-Permissions': ['detected GitHub workflow tokens with excessive permissions', 'GitHub workflow tokens follow principle of least privilege'],
    Vulnerabilities: ['10 existing vulnerabilities detected', `${10 - score} existing vulnerabilities detected`],
    Maintained: [
      '0 commit(s) and 0 issue activity found in the last 90 days -- score normalized to 0',
      `30 commit(s) and ${score} issue activity found in the last 90 days -- score normalized to ${score}`,
    ],
  };
  const pair = texts[name];
  const reason = pair
    ? score === 0
      ? pair[0]
      : pair[1]
    : score === 10
      ? `no issues found (${name})`
      : score === 0
        ? `${name}: check failed`
        : `${name}: partially satisfied -- score normalized to ${score}`;
  const details = score === 10 ? null : [`Warn: ${name} finding in .github/workflows/ci.yml:${12 + score}`, `Info: demo detail for ${name} (score ${score})`];
  return { reason, details };
}

/** The aggregate the way Scorecard computes it: check scores weighted by risk, inconclusive (-1) left out, one decimal. */
export function aggregate(checks: ReadonlyArray<{ name: string; score: number }>): number {
  let sum = 0;
  let weights = 0;
  for (const c of checks) {
    if (c.score < 0) continue;
    const w = WEIGHT[DEMO_CHECKS.find((d) => d.name === c.name)?.risk ?? 'Low'];
    sum += c.score * w;
    weights += w;
  }
  return weights === 0 ? -1 : Math.floor((sum / weights) * 10) / 10;
}

/** One Scorecard v5 result document for demo repository `repo` at `date`, check scores around `level`. */
export function demoResult(repo: string, date: Date, level: number, rand: () => number, commit: string): unknown {
  const checks = DEMO_CHECKS.map((c, k) => {
    const r = rand();
    let score = Math.round(Math.max(0, Math.min(10, level + (r - 0.5) * 8 + ((k * 7) % 5) - 2)));
    if (c.name === 'CII-Best-Practices' || c.name === 'Signed-Releases') score = r < 0.6 ? 0 : score; // rare in practice
    if (c.name === 'Packaging' && r < 0.3) score = -1; // Scorecard's inconclusive
    const { reason, details } = reasonFor(c.name, score);
    return { details, score, reason, name: c.name, documentation: { url: `${DOCS}#${c.name.toLowerCase()}`, short: c.short } };
  });
  return {
    date: date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    repo: { name: repo, commit },
    scorecard: { version: 'v5.3.0', commit: SCORECARD_COMMIT },
    score: aggregate(checks),
    checks,
    metadata: ['posture demo data: not a real Scorecard result'],
  };
}

export interface DemoSummary {
  repos: number;
  results: number;
  failures: number;
  alreadyThere: number;
}

const SCHEDULE = { rescoreIntervalSeconds: 604800, jitterSeconds: 3600, failureBackoffBaseSeconds: 3600, failureBackoffMaxSeconds: 2592000, random: 0.5 };

/**
 * Seeds `count` demo repositories with up to `history` weekly results each, the newest within
 * the last days. Every tenth repository's last run failed; the last one is never scored; one in
 * seven has its newest result past the interval (overdue); some drop sharply at the end.
 */
export async function seedDemo(db: Db, options: { repos: number; history?: number; now?: Date; onProgress?: (done: number) => void }): Promise<DemoSummary> {
  const now = options.now ?? new Date();
  const historyLength = options.history ?? 12;
  const summary: DemoSummary = { repos: options.repos, results: 0, failures: 0, alreadyThere: 0 };
  const ids = Array.from({ length: options.repos }, (_, i) => {
    const p = parseRepo(demoRepoName(i));
    if (!p.ok) throw new Error(`demo name ${demoRepoName(i)}: ${p.reason}`);
    return p.repo;
  });
  for (let i = 0; i < ids.length; i += 1000)
    await addRepos(
      db,
      ids.slice(i, i + 1000).map((repo) => ({ repo, metadata: 'posture demo' })),
    );
  // Runs stored by an earlier `posture demo` (storeHarvest would find them too, one transaction each).
  const done = new Set(await runJobNamesStartingWith(db, 'posture-demo-'));
  for (let i = 0; i < ids.length; i++) {
    const repo = ids[i];
    if (i === ids.length - 1 && ids.length > 1) continue; // never scored
    const repoId = (await getRepo(db, repo.key))!.id;
    // A harvest stores only runs the scheduler recorded: the demo records its own first.
    const record = (jobName: string, at: Date) => recordRun(db, { repoId, jobName, tickSlot: null, createdAt: at });
    const rand = seededRandom(1000 + i);
    let level = 2 + rand() * 7;
    const overdue = i % 7 === 3;
    const lastAt = now.getTime() - (overdue ? 10 * 86400_000 : Math.floor(rand() * 5 * 86400_000) + 3600_000);
    const drop = i % 5 === 1;
    for (let h = historyLength - 1; h >= 0; h--) {
      const at = new Date(lastAt - h * 7 * 86400_000);
      level = Math.max(0.5, Math.min(9.5, level + (rand() - 0.45) * 1.2 - (drop && h === 0 ? 3 : 0)));
      const commit = Math.floor(rand() * 0xffffffff)
        .toString(16)
        .padStart(8, '0')
        .repeat(5);
      const doc = demoResult(repo.canonical, at, level, rand, commit);
      const c = classify(`${JSON.stringify(doc)}\n`);
      if (!c.ok) throw new Error(`demo result did not classify: ${c.failure}: ${c.reason}`);
      const jobName = `posture-demo-${i}-${h}`;
      if (done.has(jobName)) {
        summary.alreadyThere++;
        continue;
      }
      await record(jobName, at);
      const stored = await storeHarvest(db, {
        repoKey: repo.key,
        jobName,
        jobUid: `posture-demo-uid-${i}-${h}`,
        finishedAt: new Date(at.getTime() + 5 * 60_000),
        checkSet: null,
        outcome: { ok: true, result: c.result, flagged: c.flagged },
        schedule: SCHEDULE,
      });
      if (stored.status === 'stored') summary.results++;
      else summary.alreadyThere++;
    }
    if (i % 10 === 9 && done.has(`posture-demo-${i}-failed`)) summary.alreadyThere++;
    else if (i % 10 === 9) {
      const classes = ['pod-failed', 'deadline-exceeded', 'no-result', 'invalid-result'];
      const failure = classes[Math.floor(i / 10) % classes.length];
      await record(`posture-demo-${i}-failed`, new Date(now.getTime() - 3 * 3600_000));
      const stored = await storeHarvest(db, {
        repoKey: repo.key,
        jobName: `posture-demo-${i}-failed`,
        jobUid: `posture-demo-uid-${i}-failed`,
        finishedAt: new Date(now.getTime() - 2 * 3600_000),
        checkSet: null,
        outcome: { ok: false, failure, reason: `demo failure: ${failure}` },
        schedule: SCHEDULE,
      });
      if (stored.status === 'stored') summary.failures++;
      else summary.alreadyThere++;
    }
    options.onProgress?.(i + 1);
  }
  return summary;
}
