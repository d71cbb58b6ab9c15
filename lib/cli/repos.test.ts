import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCliCaptured } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-cli-'));

describe('posture exit codes', () => {
  test('usage errors exit 1 with the usage', async () => {
    const cases: string[][] = [[], ['nope'], ['repos', 'add'], ['repos', 'import'], ['db', 'migrate', 'extra']];
    for (const argv of cases) {
      const r = await runCliCaptured(argv, { POSTURE_DATA_DIR: join(dir, 'usage') });
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.stderr, /usage/, argv.join(' '));
    }
    // A file that cannot be read is one line naming it (the command line itself was right).
    const missing = await runCliCaptured(['repos', 'import', join(dir, 'missing.txt')], { POSTURE_DATA_DIR: join(dir, 'usage') });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `posture: cannot read ${JSON.stringify(join(dir, 'missing.txt'))}: no such file\n`);
  });

  test('an unreachable database exits 3 with one clear line and no stack trace', async () => {
    const r = await runCliCaptured(['repos', 'list'], { DATABASE_URL: 'postgres://postgres:s3cret@127.0.0.1:1/none' });
    assert.equal(r.code, 3);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cannot reach the database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/none/);
    assert.doesNotMatch(r.stderr, /s3cret|\n\s+at /);
  });

  test('a bad config value exits 1 naming the variable', async () => {
    const r = await runCliCaptured(['repos', 'list'], { POSTURE_CLAIM_BATCH: 'lots' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /POSTURE_CLAIM_BATCH="lots" is invalid: expected an integer/);
  });
});
