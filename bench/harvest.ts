// Parse, validate and store the largest fixture (what the harvester does per Job, minus the
// Kubernetes calls), on PostgreSQL and PGlite; the parse+validate step alone is the floor.
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { addRepos, type Db, migrate, recordRun, storeHarvest } from '../lib/db/index.ts';
import { createPgliteDatabase, createPostgresDatabase } from '../lib/db/testing.ts';
import { parseRepo, type RepoId } from '../lib/repo/identity.ts';
import { classify } from '../lib/scorecard/classify.ts';
import { fixtureFiles } from '../test/fixtures/scorecard.ts';
import { median, percentile } from './_util.ts';

const largestPath = fixtureFiles().sort((a, b) => statSync(b).size - statSync(a).size)[0];
const largest = basename(largestPath);
const text = readFileSync(largestPath, 'utf8');
const log = `2026/11/23 10:00:00 starting\n${JSON.stringify(JSON.parse(text))}\n`;
const repo = (parseRepo(JSON.parse(text).repo.name) as { ok: true; repo: RepoId }).repo;
const RUNS = Number(process.env.BENCH_HARVEST_RUNS ?? 300);
const schedule = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 };

async function bench(kind: string, db: Db): Promise<void> {
  await migrate(db);
  await addRepos(db, [{ repo }]);
  const { id } = await db('repos').where({ key: repo.key }).first();
  const floor: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const c0 = classify(log, { exitCode: 0 });
    floor.push(performance.now() - t);
    if (!c0.ok) throw new Error(c0.reason);
    await recordRun(db, { repoId: id, jobName: `job-${i}`, jobUid: `uid-${i}` });
    t = performance.now();
    const c = classify(log, { exitCode: 0 });
    if (!c.ok) throw new Error(c.reason);
    const r = await storeHarvest(db, {
      repoKey: repo.key,
      jobName: `job-${i}`,
      jobUid: `uid-${i}`,
      finishedAt: new Date(),
      checkSet: null,
      outcome: { ok: true, result: c.result, flagged: c.flagged },
      schedule,
    });
    full.push(performance.now() - t);
    if (r.status !== 'stored') throw new Error(r.status);
  }
  const m = median(full.slice(20));
  console.log(
    `${kind}: ${largest} (${(text.length / 1024).toFixed(1)} KiB, ${JSON.parse(text).checks.length} checks): parse+validate+store median ${m.toFixed(2)} ms, p99 ${percentile(full.slice(20), 99).toFixed(2)} ms; ` +
      `parse+validate alone ${(median(floor) * 1000).toFixed(0)} µs; store is ${(m / median(floor)).toFixed(0)}x the parse (${RUNS} runs)`,
  );
}

for (const [kind, create] of [
  ['postgres', createPostgresDatabase],
  ['pglite', createPgliteDatabase],
] as const) {
  const t = await create();
  try {
    await bench(kind, t.db);
  } finally {
    await t.drop();
  }
}
