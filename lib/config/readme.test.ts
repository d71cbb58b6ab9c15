import { test } from 'node:test';
import assert from 'node:assert/strict';
import { staleFiles } from '../cli/generate.ts';

test('generated files are up to date (run npm run generate)', async () => {
  assert.deepEqual(await staleFiles(), []);
});
