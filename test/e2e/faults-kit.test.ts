// The fault run's pod scripts read as intended: a shard's scripted log, split by the harvester's
// own classifier (lib/scorecard/shard.ts), gives each repository the outcome its name scripts,
// and the repositories after a panic are not reached.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyShard } from '../../lib/scorecard/shard.ts';
import { expectationOf, faultRepoName, SHARD_RUN_LIMIT_MS, shardScriptFor } from './faults-kit.ts';

const canonical = (i: number) => `github.com/${faultRepoName(i)}`;
const facts = (exitCode: number) => ({ podPhase: exitCode === 0 ? 'Succeeded' : 'Failed', exitCode, terminatedReason: exitCode === 0 ? 'Completed' : 'Error' });

test('a shard without a panic: each repository gets its own outcome and Scorecard finishes the list', () => {
  // r0..r6 succeed (r0 and r4 with a check's runtime error), r8 infra, r9 garbage: no panic (r7 left out).
  const repos = [0, 1, 2, 3, 4, 5, 6, 8, 9].map(canonical);
  const script = shardScriptFor(repos);
  assert.equal(script.exitCode, 1, 'a check failed (r0, r4): Scorecard exits 1 after the whole list');
  assert.match(script.content, /^Error: one or more checks failed during execution$/m);
  assert.ok(script.runForMs <= SHARD_RUN_LIMIT_MS);
  const verdict = classifyShard(script.content, repos, facts(script.exitCode));
  assert.equal(verdict.ignoredCount, 0);
  const got = verdict.outcomes.map((o) => [o.repo, o.kind === 'result' ? 'success' : o.kind === 'failed' ? o.failure : o.kind]);
  assert.deepEqual(got, [...[0, 1, 2, 3, 4, 5, 6].map((i) => [canonical(i), 'success']), [canonical(8), 'infrastructure'], [canonical(9), 'invalid-result']]);
  for (const o of verdict.outcomes) if (o.kind === 'result') assert.equal(o.result.repo, o.repo);
});

test('a shard with a panic: the repository in progress fails for its own reason, the ones after it are not reached', () => {
  const repos = [11, 18, 17, 12, 19].map(canonical);
  const script = shardScriptFor(repos);
  assert.equal(script.exitCode, 2);
  const verdict = classifyShard(script.content, repos, facts(script.exitCode));
  const got = verdict.outcomes.map((o) => [o.repo, o.kind === 'result' ? 'success' : o.kind === 'failed' ? o.failure : o.kind]);
  assert.equal(got[0][1], 'success');
  assert.equal(got[1][1], 'infrastructure');
  assert.notEqual(got[2][1], 'infrastructure');
  assert.notEqual(got[2][1], 'not-reached');
  assert.equal(expectationOf(repos[2]), 'repository-failure');
  assert.deepEqual(got.slice(3), [
    [canonical(12), 'not-reached'],
    [canonical(19), 'not-reached'],
  ]);
});

test('a shard of one is the one-repository Job', () => {
  const script = shardScriptFor([canonical(3)]);
  assert.equal(script.exitCode, 0);
  assert.ok(script.runForMs >= 300 && script.runForMs < 2500);
});
