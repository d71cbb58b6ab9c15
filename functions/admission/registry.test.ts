// The shipped webhooks folder: every file is registered (one webhook per file, named by it), no
// duplicates, and every webhook passes the doc lint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lintDocs } from '../../lib/admission/docs.ts';
import { loadDeclarations, loadRegistry, webhookFiles } from '../../lib/admission/registry.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { WEBHOOKS_DIR } from './webhooks-dir.ts';

test('every file in webhooks/ is a registered webhook', async () => {
  const files = webhookFiles(WEBHOOKS_DIR);
  assert.ok(files.length >= 4);
  const registry = await loadRegistry(WEBHOOKS_DIR, defaultConfig());
  assert.deepEqual(registry.webhooks.map((w) => w.source).sort(), files);
  for (const w of registry.webhooks) assert.equal(`${w.name}.ts`, w.source, 'a webhook file is named after its webhook');
});

test('the doc lint passes for every shipped webhook', async () => {
  const loaded = await loadDeclarations(WEBHOOKS_DIR);
  assert.deepEqual(lintDocs(loaded), []);
});
