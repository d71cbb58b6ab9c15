// The generated documentation is what the generators produce now (run `npm run generate`), and
// the staleness check itself notices a stale section, a hand edit and missing markers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WEBHOOKS_DIR } from '../../test/shipped-webhooks.ts';
import { staleFiles } from '../cli/generate.ts';
import { beginMarker, endMarker, GENERATED_SECTIONS, renderGeneratedSections } from './docs.ts';
import { configTable } from './index.ts';

const root = join(import.meta.dirname, '..', '..');

test('generated files are up to date (run npm run generate)', async () => {
  assert.deepEqual(await staleFiles(WEBHOOKS_DIR), []);
});

test('the configuration table is generated into docs/operate/configuration.md', () => {
  assert.deepEqual(Object.keys(GENERATED_SECTIONS['docs/operate/configuration.md']), ['config']);
  const page = readFileSync(join(root, 'docs/operate/configuration.md'), 'utf8');
  assert.ok(page.includes(`${beginMarker('config')}\n${configTable()}\n${endMarker('config')}`));
});

test('a stale or hand-edited section is rewritten, a fresh page is left as it is, missing markers are an error', () => {
  const path = 'docs/operate/configuration.md';
  const fresh = readFileSync(join(root, path), 'utf8');
  assert.equal(renderGeneratedSections(path, fresh), fresh);
  const edited = fresh.replace('| `POSTURE_NAMESPACE` | `posture` |', '| `POSTURE_NAMESPACE` | `elsewhere` |');
  assert.notEqual(edited, fresh, 'the edit applies');
  assert.equal(renderGeneratedSections(path, edited), fresh);
  const oneRowLess = fresh.replace(/^\| `PORT` .*\n/m, '');
  assert.notEqual(oneRowLess, fresh);
  assert.equal(renderGeneratedSections(path, oneRowLess), fresh);
  assert.throws(() => renderGeneratedSections(path, fresh.replace(endMarker('config'), '')), /lacks the markers/);
  assert.throws(() => renderGeneratedSections(path, ''), /lacks the markers/);
});
