// What the fault-proof tick costs in the database, on PostgreSQL: a claim of 100 due
// repositories with the GitHub budget taken in the same transaction (claimWithBudget) against
// the bare claim (claimDueRepos, the baseline, same run); and the tick lease's round trips
// (acquire, renew = the fence before each batch of creates, release). Medians of RUNS runs.
import { acquireTickLock, claimDueRepos, claimWithBudget, type Db, migrate, releaseTickLock, renewTickLock } from '../lib/db/index.ts';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { median } from './_util.ts';

const ROWS = 100_000;
const CLAIM = 100;
const RUNS = Number(process.env.BENCH_TICK_RUNS ?? 15);
const NOW = new Date('2030-01-01T00:00:00Z');

async function fill(db: Db) {
  await db.raw(
    `INSERT INTO repos (key, canonical, host, next_due_at)
     SELECT 'github.com/o/r' || g, 'github.com/o/r' || g, 'github.com', ?::timestamptz - (g % 86400) * interval '1 second' FROM generate_series(1, ?) g`,
    [NOW, ROWS],
  );
  await db.raw('ANALYZE repos');
}

const t = await createPostgresDatabase();
try {
  await migrate(t.db);
  await fill(t.db);
  const bare: number[] = [];
  const budgeted: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate, so drift hits both alike.
    let s = performance.now();
    await claimDueRepos(t.db, { owner: `bare-${i}`, limit: CLAIM, leaseSeconds: 3600, now: NOW });
    bare.push(performance.now() - s);
    s = performance.now();
    const got = await claimWithBudget(t.db, { owner: `budget-${i}`, wanted: CLAIM, perHour: 1_000_000, leaseSeconds: 3600, now: NOW });
    budgeted.push(performance.now() - s);
    if (got.claims.length !== CLAIM) throw new Error(`claimed ${got.claims.length}`);
  }
  const lease = { acquire: [] as number[], renew: [] as number[], release: [] as number[] };
  for (let i = 0; i < RUNS * 4; i++) {
    const token = `bench/${i}`;
    let s = performance.now();
    if (!(await acquireTickLock(t.db, token, 15, NOW))) throw new Error('lock busy');
    lease.acquire.push(performance.now() - s);
    s = performance.now();
    await renewTickLock(t.db, token, 15, NOW);
    lease.renew.push(performance.now() - s);
    s = performance.now();
    await releaseTickLock(t.db, token);
    lease.release.push(performance.now() - s);
  }
  const f = (xs: number[]) => `${median(xs).toFixed(2)} ms`;
  console.log(
    `claim of ${CLAIM} of ${ROWS} due rows, median of ${RUNS}: bare ${f(bare)}; with the budget in one transaction ${f(budgeted)} (ratio ${(median(budgeted) / median(bare)).toFixed(2)})`,
  );
  console.log(`tick lease, median of ${RUNS * 4}: acquire ${f(lease.acquire)}, renew (fence) ${f(lease.renew)}, release ${f(lease.release)}`);
} finally {
  await t.drop();
}
