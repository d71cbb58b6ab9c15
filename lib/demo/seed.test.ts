// posture demo: results that pass the harvester's own validation, Scorecard's weighting,
// determinism, idempotence, and the labelled mix of states the dashboard should show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachDatabase } from '../db/testing.ts';
import { classify } from '../scorecard/classify.ts';
import { parseDemoArgs } from '../cli/demo.ts';
import { aggregate, DEMO_CHECKS, demoRepoName, demoResult, seedDemo } from './seed.ts';
import { seededRandom as seeded } from '../random/seeded.ts';

test('aggregate weighs checks by risk like Scorecard and leaves inconclusive checks out', () => {
  assert.equal(aggregate([{ name: 'Dangerous-Workflow', score: 10 }, { name: 'License', score: 0 }]), 8); // (10×10 + 0×2.5) / 12.5
  assert.equal(aggregate([{ name: 'Code-Review', score: 4 }, { name: 'Packaging', score: -1 }]), 4);
  assert.equal(aggregate([{ name: 'Packaging', score: -1 }]), -1);
});

test('a demo result is a Scorecard v5 document the harvester accepts, with every check', () => {
  const doc = demoResult(demoRepoName(0), new Date('2026-01-01T00:00:00Z'), 6, seeded(1), 'a'.repeat(40)) as any;
  const c = classify(JSON.stringify(doc));
  assert.ok(c.ok, c.ok ? '' : c.reason);
  assert.deepEqual(doc.checks.map((x: any) => x.name), DEMO_CHECKS.map((x) => x.name));
  assert.equal(doc.repo.name, 'github.com/posture-demo/payments-api');
  assert.match(doc.metadata[0], /demo data/);
});

test('the generator is deterministic', () => {
  const a = seeded(7);
  const b = seeded(7);
  assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
});

test('posture demo arguments', () => {
  assert.deepEqual(parseDemoArgs([]), { repos: 24 });
  assert.deepEqual(parseDemoArgs(['--repos', '5']), { repos: 5 });
  assert.deepEqual(parseDemoArgs(['--repos=100000']), { repos: 100000 });
  for (const bad of [['--repos'], ['--repos', '0'], ['--repos', '100001'], ['--repos', 'x'], ['--rpos', '3'], ['extra']]) assert.throws(() => parseDemoArgs(bad), /--repos takes|unexpected argument/);
});

describeEachDatabase('posture demo', (ctx) => {
  test('seeds labelled repositories with histories; a second run adds nothing', async () => {
    const now = new Date('2026-11-20T12:00:00Z');
    const first = await seedDemo(ctx.db, { repos: 11, history: 4, now });
    assert.deepEqual({ ...first }, { repos: 11, results: 40, failures: 1, alreadyThere: 0 });
    const again = await seedDemo(ctx.db, { repos: 11, history: 4, now });
    assert.deepEqual({ ...again }, { repos: 11, results: 0, failures: 0, alreadyThere: 41 });
    const repos = await ctx.db('repos').select('key', 'metadata');
    assert.equal(repos.length, 11);
    assert.ok(repos.every((r: any) => r.key.startsWith('github.com/posture-demo/') && r.metadata === 'posture demo'));
    const latest = (await ctx.db.raw(`SELECT count(*) FILTER (WHERE score_id IS NULL)::int AS never, count(*) FILTER (WHERE failing)::int AS failing, count(*) FILTER (WHERE delta IS NOT NULL)::int AS with_delta FROM repo_latest`)).rows[0];
    assert.deepEqual(latest, { never: 1, failing: 1, with_delta: 10 });
  });
});
