// Score changes end to end on both databases: results stored through the real tick and
// harvester, the score.updated reply carrying the previous score and delta, and
// dev.posture.score.changed sent only for a move of at least the threshold or a check
// falling to 0, and only for the repository's newest result.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { CloudEvent } from 'cloudevents';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { defaultConfig } from '../config/index.ts';
import { addRepos, type Db } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { createHarvesterHandle } from '../harvest/handler.ts';
import type { HarvestDeps } from '../harvest/harvest.ts';
import { harvestThroughHandler } from '../harvest/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { SCORE_CHANGED_TYPE } from './events.ts';
import { findChange } from './store.ts';

const FX08 = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const REPO = FX08.repo.name as string;
const KEY = (parseRepo(REPO) as any).repo.key as string;
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** FX08 with another date, score and check scores (a later run of the same repository). */
function variant(day: number, score: number, checkScores: Record<string, number> = {}) {
  const d = structuredClone(FX08);
  d.date = new Date(Date.parse('2024-05-25T20:38:05Z') + day * 86400_000).toISOString().replace('.000Z', 'Z');
  d.score = score;
  d.repo.commit = day.toString(16).padStart(40, 'a');
  for (const c of d.checks) if (c.name in checkScores) c.score = checkScores[c.name];
  return d;
}

describeEachDatabase('score changes', (ctx) => {
  const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0, scoreChangeThreshold: 0.5 });
  const cluster = new FakeCluster();
  const sent: CloudEvent<any>[] = [];
  // The harvest's clock (the database's in production): when each Job finished.
  let harvestAt = T0;
  const deps = (): HarvestDeps => ({ db: ctx.db, cluster, config, log: silentLogger, random: () => 0, retryBaseMs: 0, now: () => new Date(harvestAt) });
  let handle: ReturnType<typeof createHarvesterHandle>;
  let minute = 0;

  /**
   * One scheduled Job for the repository, finished with `doc` as its log, delivered to the
   * handler; its tick and finish are a day after the previous one's unless `at` says when.
   */
  async function harvest(db: Db, doc: unknown, options: { at?: number } = {}): Promise<CloudEvent<any>> {
    minute++;
    const at = options.at ?? T0 + minute * 86400_000;
    return harvestThroughHandler(db, {
      cluster,
      config,
      handle,
      at,
      log: `${JSON.stringify(doc)}\n`,
      finished: (t) => {
        harvestAt = t;
      },
    });
  }

  test('a first result: score.updated without a previous score, no score.changed', async () => {
    handle = createHarvesterHandle(async () => deps(), { sendEvent: async (e) => void sent.push(e) });
    await addRepos(ctx.db, [{ repo: (parseRepo(REPO) as any).repo }]);
    const out = await harvest(ctx.db, variant(0, 7.5, { 'Code-Review': 8 }));
    assert.equal(out.data.score, 7.5);
    assert.equal(out.data.previousScore, null);
    assert.equal(out.data.delta, null);
    assert.equal(sent.length, 0);
  });

  test('noise below the threshold: score.updated carries previous score and delta; no score.changed', async () => {
    const out = await harvest(ctx.db, variant(7, 7.3, { 'Code-Review': 8 }));
    assert.equal(out.data.previousScore, 7.5);
    assert.equal(out.data.delta, -0.2);
    assert.equal(sent.length, 0);
  });

  test('a drop of at least the threshold sends score.changed with the checks that moved', async () => {
    const out = await harvest(ctx.db, variant(14, 6.1, { 'Code-Review': 3 }));
    assert.equal(out.data.delta, -1.2);
    assert.equal(sent.length, 1);
    const e = sent[0];
    assert.equal(e.type, SCORE_CHANGED_TYPE);
    assert.equal(e.subject, REPO);
    assert.equal(e.id, `changed-run-${out.data.runId}`);
    assert.equal(e.data.previousScore, 7.3);
    assert.equal(e.data.score, 6.1);
    assert.deepEqual(e.data.reasons, ['score fell 1.2 (7.3 → 6.1)']);
    assert.deepEqual(
      e.data.changed.map((c: any) => [c.name, c.from, c.to]),
      [['Code-Review', 8, 3]],
    );
  });

  test('a check falling to 0 sends score.changed even when the score barely moves', async () => {
    sent.length = 0;
    await harvest(ctx.db, variant(21, 6.0, { 'Code-Review': 0 }));
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].data.fellToZero, ['Code-Review']);
    assert.deepEqual(sent[0].data.reasons, ['Code-Review fell to 0']);
  });

  test('a late, older result is stored between its neighbours but notifies nobody', async () => {
    sent.length = 0;
    // Its Job finished between the second and third harvests (day 7's and day 14's), and is harvested only now.
    const out = await harvest(ctx.db, variant(10, 1.0, { 'Code-Review': 0 }), { at: T0 + 2.5 * 86400_000 });
    assert.equal(out.data.previousScore, 7.3, 'its predecessor is the result of day 7');
    assert.equal(sent.length, 0, 'not the newest result: nothing people see changed');
    const c = await findChange(ctx.db, KEY);
    assert.equal(c.status, 'ok');
    if (c.status !== 'ok') return;
    assert.equal(c.change.from?.score, 6.1, 'the newest result still follows day 14');
    // As of day 14's harvest (its Job finished a minute after the third tick).
    const d14 = await findChange(ctx.db, KEY, { to: { at: new Date(T0 + 3 * 86400_000 + 60_000) } });
    assert.equal(d14.status === 'ok' && d14.change.from?.score, 1.0, 'day 14 now follows the late result of day 10');
    assert.equal(d14.status === 'ok' && d14.change.delta, 5.1);
  });

  test('a sink that fails does not fail the harvest: the result is stored and score.updated still replies', async () => {
    handle = createHarvesterHandle(async () => deps(), { sendEvent: async () => Promise.reject(new Error('broker down')) });
    const out = await harvest(ctx.db, variant(28, 9.0, { 'Code-Review': 10 }));
    assert.equal(out.data.delta, 3.0);
    const c = await findChange(ctx.db, KEY);
    assert.equal(c.status === 'ok' && c.change.to.score, 9.0);
  });
});
