// Failures that are not the repository's: they never touch its failure count; the fleet's own
// (a refused token, a spent rate limit) count nowhere; after POSTURE_STUCK_AFTER_RUNS of the
// infrastructure's in a row the repository is stuck and retried on the backoff, not hourly forever.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { addRepos, getRepo, getSchedulerState, type HarvestInput, recordRun, storeHarvest } from './index.ts';
import { describeEachDatabase } from './testing.ts';

const repo = (s: string): RepoId => {
  const r = parseRepo(s);
  if (!r.ok) throw new Error(r.reason);
  return r.repo;
};
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const schedule = {
  rescoreIntervalSeconds: 86400,
  jitterSeconds: 0,
  failureBackoffBaseSeconds: 60,
  failureBackoffMaxSeconds: 3600,
  random: 0,
  stuckAfterRuns: 3,
};

describeEachDatabase("failures not the repository's", (ctx) => {
  let n = 0;
  async function harvest(key: string, s: number, outcome: HarvestInput['outcome']) {
    const r = await getRepo(ctx.db, key);
    const name = `job-${++n}`;
    await recordRun(ctx.db, { repoId: r!.id, jobName: name, jobUid: `uid-${n}`, tickSlot: 's' });
    const stored = await storeHarvest(ctx.db, { repoKey: key, jobName: name, jobUid: `uid-${n}`, finishedAt: at(s), checkSet: null, outcome, schedule });
    assert.equal(stored.status, 'stored');
    return { stored: stored as { nextDueAt: Date }, row: (await getRepo(ctx.db, key))! };
  }

  test("a refused token (credentials) never touches the repository's failure count, error or stuck count", async () => {
    await addRepos(ctx.db, [{ repo: repo('nr/token') }]);
    await harvest('github.com/nr/token', 0, { ok: false, failure: 'pod-failed', reason: 'exit 1' });
    for (let i = 1; i <= 5; i++) {
      const { stored, row } = await harvest('github.com/nr/token', i * 1000, { ok: false, failure: 'credentials', reason: 'GitHub refused the token (401)' });
      assert.equal(row.consecutive_failures, 1, 'its own earlier failure stays counted, no more');
      assert.equal(row.last_error, 'pod-failed: exit 1');
      assert.equal(row.other_failures, 0, 'the fleet pauses for the token: no repository gets stuck for it');
      assert.equal(stored.nextDueAt.toISOString(), at(i * 1000 + 60).toISOString(), 'due after the base delay');
    }
  });

  test('infrastructure failures in a row: due after the base delay, then stuck after the setting and retried on the backoff; a run that reaches the repository clears it', async () => {
    await addRepos(ctx.db, [{ repo: repo('nr/stuck') }]);
    const infra = { ok: false as const, failure: 'infrastructure', reason: 'the Scorecard image could not be pulled' };
    const due: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { stored, row } = await harvest('github.com/nr/stuck', i * 10000, infra);
      due.push(`${(stored.nextDueAt.getTime() - at(i * 10000).getTime()) / 1000}`);
      assert.equal(row.consecutive_failures, 0);
      assert.equal(row.other_failures, i + 1);
      assert.equal(row.other_error, 'infrastructure: the Scorecard image could not be pulled');
    }
    // Base delay twice, then stuck at the third: 60, 120, 240, 480 s (the failure backoff).
    assert.deepEqual(due, ['60', '60', '60', '120', '240', '480']);
    const own = await harvest('github.com/nr/stuck', 100000, { ok: false, failure: 'no-result', reason: '404' });
    assert.equal(own.row.other_failures, 0);
    assert.equal(own.row.other_error, null);
    assert.equal(own.row.consecutive_failures, 1);
  });

  test("a pod over its own limits (resource-limit) is the repository's failure", async () => {
    await addRepos(ctx.db, [{ repo: repo('nr/big') }]);
    const { row } = await harvest('github.com/nr/big', 0, { ok: false, failure: 'resource-limit', reason: 'evicted: ephemeral storage' });
    assert.equal(row.consecutive_failures, 1);
    assert.equal(row.other_failures, 0);
  });

  test('a spent rate limit: the repository is due after the reset and the fleet waits for it; a later, earlier reset never shortens the wait', async () => {
    await addRepos(ctx.db, [{ repo: repo('nr/limit') }]);
    const reset = at(3000);
    const { stored, row } = await harvest('github.com/nr/limit', 0, { ok: false, failure: 'rate-limited', reason: 'waited', retryInSeconds: 3000 });
    assert.equal(stored.nextDueAt.toISOString(), reset.toISOString());
    assert.equal(row.consecutive_failures, 0);
    assert.equal(row.other_failures, 0);
    assert.equal((await getSchedulerState(ctx.db)).githubWaitUntil?.toISOString(), reset.toISOString());
    await harvest('github.com/nr/limit', 10, { ok: false, failure: 'rate-limited', reason: 'waited', retryInSeconds: 90 });
    assert.equal((await getSchedulerState(ctx.db)).githubWaitUntil?.toISOString(), reset.toISOString());
    // Without a reset in the log: the base delay, and the fleet's wait unchanged.
    const bare = await harvest('github.com/nr/limit', 20, { ok: false, failure: 'rate-limited', reason: '403 secondary rate limit' });
    assert.equal(bare.stored.nextDueAt.toISOString(), at(80).toISOString());
  });
});
