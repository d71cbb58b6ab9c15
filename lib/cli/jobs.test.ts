import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCliCaptured } from './testing.ts';

test('jobs render: several repositories render one shard Job (--repos), more than the shard size several', async () => {
  const run = await runCliCaptured(['jobs', 'render', 'o/a', 'o/b', 'o/c', '--due', '2030-01-01T00:00:00Z'], { POSTURE_SHARD_SIZE: '2' });
  assert.equal(run.code, 0, run.stderr);
  const docs = run.stdout.split(/^---$/m);
  assert.equal(docs.length, 2);
  assert.match(docs[0], /--repos=github\.com\/o\/a,github\.com\/o\/b/);
  assert.match(docs[0], /posture\.dev\/repositories: github\.com\/o\/a,github\.com\/o\/b/);
  assert.match(docs[1], /--repo=github\.com\/o\/c/);
  const twice = await runCliCaptured(['jobs', 'render', 'o/a', 'github.com/o/a'], {});
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /named twice/);
});
