import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { reportRows } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { seedDemo } from '../demo/seed.ts';
import { EXAMPLE_PATH, renderReportExample } from './example.ts';

test('docs/use/report-example.md is the report on the demo data (npm run generate:report)', async () => {
  const want = await renderReportExample();
  assert.equal(readFileSync(EXAMPLE_PATH, 'utf8'), want, 'stale: run npm run generate:report');
  assert.match(want, /\| \[github\.com\/posture-demo\/[^\]]+\]\(https:\/\/github\.com\/posture-demo\/[^)]+\) \| \d+\.\d \| (−\d+\.\d ↓|\+\d+\.\d ↑|0|new) \|/);
  assert.match(want, /\[diff\]\(https:\/\/posture\.example\.com\/ui\/projects\/github\.com\/posture-demo\/[^)]+\/diff\?from=\d+&to=\d+\)/);
});

describeEachDatabase('reportRows', (ctx) => {
  test('every scored repository once, its result at the start, filtered by owner (any case)', async () => {
    const now = new Date('2026-03-02T09:00:00Z');
    await seedDemo(ctx.db, { repos: 6, now });
    const since = new Date(now.getTime() - 7 * 86_400_000);
    const rows = await reportRows(ctx.db, { since, below: 1, owner: 'Posture-Demo' });
    assert.ok(rows.length >= 5, `${rows.length}`);
    assert.equal(new Set(rows.map((r) => r.canonical)).size, rows.length);
    for (const r of rows) {
      if (r.baseId !== null) assert.ok(r.baseId <= r.scoreId);
      for (const c of r.weakChecks) assert.equal(c.score, 0);
    }
    assert.deepEqual(await reportRows(ctx.db, { since, below: 1, owner: 'someone-else' }), []);
    assert.ok(
      (await reportRows(ctx.db, { since: new Date('2000-01-01'), below: 1 })).every((r) => r.baseId === null),
      'nothing stored before 2000',
    );
  });
});
