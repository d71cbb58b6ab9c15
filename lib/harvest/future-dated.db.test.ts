// A Scorecard pod whose clock is ahead (issue 34, finding 2), through the real tick and
// harvester on both databases: its result, dated 2031, is stored at the Job's finish and flagged
// (a warning, posture_harvest_future_dated_total); the genuine results harvested after it are
// each the newest, reply with the change against the result before them, and the first one's
// drop from 9.9 is sent as score.changed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { CloudEvent } from 'cloudevents';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { SCORE_CHANGED_TYPE } from '../changes/events.ts';
import { defaultConfig } from '../config/index.ts';
import { addRepos, type Db, latestScore } from '../db/index.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { createLogger } from '../log/index.ts';
import { metricsText } from '../metrics/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { createHarvesterHandle } from './handler.ts';
import type { HarvestDeps } from './harvest.ts';
import { harvestThroughHandler } from './testing.ts';

const FX08 = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const REPO = FX08.repo.name as string;
const KEY = (parseRepo(REPO) as any).repo.key as string;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const FUTURE = '2031-01-01T00:00:00.000Z';

function variant(date: string, score: number) {
  const d = structuredClone(FX08);
  d.date = date;
  d.score = score;
  return d;
}

/** The counter's value in the registry's exposition (0 before it was ever incremented). */
async function futureDatedCount(): Promise<number> {
  const line = (await metricsText()).body.split('\n').find((l) => l.startsWith('posture_harvest_future_dated_total '));
  return line ? Number(line.split(' ')[1]) : 0;
}

describeEachDatabase('a pod whose clock is ahead', (ctx) => {
  const config = defaultConfig({ githubTokenCount: 0, jitterSeconds: 0, scoreChangeThreshold: 0.5, shardSize: 1 });
  const cluster = new FakeCluster();
  const sent: CloudEvent<any>[] = [];
  const logged: Array<Record<string, unknown>> = [];
  const log = createLogger({
    level: 'warn',
    destination: new Writable({
      write(chunk, _enc, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  });
  // The harvest's clock (the database's in production): when each Job finished.
  let harvestAt = T0;
  const deps = (): HarvestDeps => ({ db: ctx.db, cluster, config, log, random: () => 0, retryBaseMs: 0, now: () => new Date(harvestAt) });
  const handle = createHarvesterHandle(async () => deps(), { sendEvent: async (e) => void sent.push(e) });
  let hour = 0;

  /** One Job scheduled an hour after the last, finished a minute later with `doc` as its log, delivered to the handler. */
  async function harvest(db: Db, doc: unknown): Promise<CloudEvent<any>> {
    hour++;
    const at = T0 + hour * 3600_000;
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

  test('the 2031-dated result is stored, flagged with a warning and counted', async () => {
    await addRepos(ctx.db, [{ repo: (parseRepo(REPO) as any).repo }]);
    await harvest(ctx.db, variant(new Date(T0).toISOString(), 5.0));
    assert.equal(logged.length, 0, 'a result dated before its Job finished is not flagged');
    const before = await futureDatedCount();
    const out = await harvest(ctx.db, variant(FUTURE, 9.9));
    assert.equal(out.data.score, 9.9);
    assert.equal(out.data.date, FUTURE, "the result's own date is kept");
    assert.equal(await futureDatedCount(), before + 1);
    assert.equal(logged.length, 1);
    assert.equal(
      logged[0].msg,
      "result dated after posture stored it: the Scorecard pod's clock is ahead (check the node's time); it is ordered by when it was stored",
    );
    assert.equal(logged[0].repo, REPO);
    assert.equal(logged[0].date, FUTURE);
    assert.equal(logged[0].storedAt, new Date(T0 + 2 * 3600_000 + 60_000).toISOString());
    assert.equal((await latestScore(ctx.db, KEY))?.score, 9.9, 'the newest stored, for now');
  });

  test('each genuine 2.0 result after it is the newest, with its change; the drop from 9.9 is sent', async () => {
    sent.length = 0;
    const previous: Array<number | null> = [];
    for (const k of [1, 2, 3]) {
      // Dated when its Job ran: before it finished, an hour after the last.
      const out = await harvest(ctx.db, variant(new Date(T0 + (2 + k) * 3600_000).toISOString(), 2.0));
      previous.push(out.data.previousScore);
      assert.equal((await latestScore(ctx.db, KEY))?.score, 2.0, `after genuine result ${k}`);
    }
    assert.deepEqual(previous, [9.9, 2.0, 2.0]);
    assert.equal(sent.length, 1, 'the move from 9.9 to 2.0 notifies; 2.0 to 2.0 does not');
    assert.equal(sent[0].type, SCORE_CHANGED_TYPE);
    assert.equal(sent[0].data.previousScore, 9.9);
    assert.equal(sent[0].data.score, 2.0);
    assert.equal(sent[0].data.from.date, FUTURE);
    assert.equal(logged.length, 1, 'no further warning');
  });
});
