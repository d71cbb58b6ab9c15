// The scheduler's claim: 1,000 due repositories out of 1,000,000 rows, on PostgreSQL (and
// PGlite for comparison). Prints the median over several claims, the ratio to a plain
// index-ordered SELECT of the same rows without locking or updating (the floor), and the plan.
import { claimDueRepos, type Db, migrate, openDb } from '../lib/db/index.ts';
import { createPgliteDatabase, createPostgresDatabase } from '../lib/db/testing.ts';
import { median, percentile } from './_util.ts';

const ROWS = Number(process.env.BENCH_CLAIM_ROWS ?? 1_000_000);
const CLAIM = 1000;
const RUNS = Number(process.env.BENCH_CLAIM_RUNS ?? 15);
const NOW = new Date('2030-01-01T00:00:00Z');

async function fill(db: Db): Promise<void> {
  // 10% due (spread over the past week), the rest due in the next month; 1% at a higher priority.
  await db.raw(
    `INSERT INTO repos (key, canonical, host, priority, next_due_at)
     SELECT 'github.com/o' || (g % 10000) || '/r' || g, 'github.com/o' || (g % 10000) || '/r' || g, 'github.com',
            CASE WHEN g % 100 = 0 THEN 1 ELSE 0 END,
            CASE WHEN g % 10 = 0 THEN ?::timestamptz - (g % 604800) * interval '1 second'
                 ELSE ?::timestamptz + (g % 2592000) * interval '1 second' END
       FROM generate_series(1, ?) g`,
    [NOW, NOW, ROWS],
  );
  await db.raw('ANALYZE repos');
}

async function bench(kind: string, db: Db): Promise<void> {
  await migrate(db);
  let t = performance.now();
  await fill(db);
  console.log(`${kind}: filled ${ROWS.toLocaleString('en')} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const floor: number[] = [];
  const claim: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    t = performance.now();
    await db.raw(`SELECT id FROM repos WHERE next_due_at <= ? ORDER BY priority DESC, next_due_at LIMIT ${CLAIM}`, [NOW]);
    floor.push(performance.now() - t);
    t = performance.now();
    const got = await claimDueRepos(db, { owner: `bench-${i}`, limit: CLAIM, leaseSeconds: 3600, now: NOW });
    claim.push(performance.now() - t);
    if (got.length !== CLAIM) throw new Error(`claimed ${got.length}`);
  }
  const m = median(claim);
  console.log(
    `${kind}: claim ${CLAIM} of ${ROWS.toLocaleString('en')}: median ${m.toFixed(1)} ms, p90 ${percentile(claim, 90).toFixed(1)} ms (${RUNS} claims); ` +
      `plain SELECT floor median ${median(floor).toFixed(1)} ms; ratio ${(m / median(floor)).toFixed(2)}x`,
  );
  const plan = await db.raw(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
     WITH due AS (SELECT id FROM repos WHERE next_due_at <= ? ORDER BY priority DESC, next_due_at LIMIT ${CLAIM} FOR UPDATE SKIP LOCKED)
     UPDATE repos r SET lease_owner = 'plan', next_due_at = ? FROM due WHERE r.id = due.id RETURNING r.id`,
    [NOW, new Date(NOW.getTime() + 3600000)],
  );
  console.log(`${kind}: plan of one claim:\n${plan.rows.map((r: Record<string, string>) => `    ${r['QUERY PLAN']}`).join('\n')}`);
}

const pg = await createPostgresDatabase();
try {
  await bench('postgres', pg.db);
} finally {
  await pg.drop();
}
if (process.env.BENCH_CLAIM_PGLITE !== '0') {
  const lite = await createPgliteDatabase();
  try {
    await bench('pglite', lite.db);
  } finally {
    await lite.drop();
  }
}
void openDb;
