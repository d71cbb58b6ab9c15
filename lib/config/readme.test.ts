import { test } from 'node:test';
import assert from 'node:assert/strict';
import { staleFiles } from '../cli/generate.ts';
import { WEBHOOKS_DIR } from '../../test/shipped-webhooks.ts';

test('generated files are up to date (run npm run generate)', async () => {
  assert.deepEqual(await staleFiles(WEBHOOKS_DIR), []);
});
