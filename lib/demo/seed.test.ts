// posture demo: results that pass the harvester's own validation, Scorecard's weighting,
// determinism, and its arguments (seeding a database: seed.db.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDemoArgs } from '../cli/demo.ts';
import { seededRandom as seeded } from '../random/seeded.ts';
import { classify } from '../scorecard/classify.ts';
import { aggregate, DEMO_CHECKS, demoRepoName, demoResult } from './seed.ts';

test('aggregate weighs checks by risk like Scorecard and leaves inconclusive checks out', () => {
  assert.equal(
    aggregate([
      { name: 'Dangerous-Workflow', score: 10 },
      { name: 'License', score: 0 },
    ]),
    8,
  ); // (10×10 + 0×2.5) / 12.5
  assert.equal(
    aggregate([
      { name: 'Code-Review', score: 4 },
      { name: 'Packaging', score: -1 },
    ]),
    4,
  );
  assert.equal(aggregate([{ name: 'Packaging', score: -1 }]), -1);
});

test('a demo result is a Scorecard v5 document the harvester accepts, with every check', () => {
  const doc = demoResult(demoRepoName(0), new Date('2026-01-01T00:00:00Z'), 6, seeded(1), 'a'.repeat(40)) as any;
  const c = classify(JSON.stringify(doc));
  assert.ok(c.ok, c.ok ? '' : c.reason);
  assert.deepEqual(
    doc.checks.map((x: any) => x.name),
    DEMO_CHECKS.map((x) => x.name),
  );
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
  for (const bad of [['--repos'], ['--repos', '0'], ['--repos', '100001'], ['--repos', 'x'], ['--rpos', '3'], ['extra']])
    assert.throws(() => parseDemoArgs(bad), /--repos takes|unexpected argument/);
});
