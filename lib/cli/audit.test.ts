// `posture audit`: bad options are one-line usage errors before anything is opened.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCliCaptured } from './testing.ts';

test('posture audit: -o other than table or json, and stray arguments, are usage errors', async () => {
  for (const [argv, message] of [
    [['audit', '-o', 'yaml'], /-o must be table or json, got "yaml"/],
    [['audit', 'now'], /unexpected argument "now"/],
  ] as const) {
    const r = await runCliCaptured([...argv], {});
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});
