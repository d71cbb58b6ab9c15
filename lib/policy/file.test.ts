import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { registry } from '../metrics/index.ts';
import { PolicyFile, type PolicySet } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-policy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const doc = (name: string, min: number) => `apiVersion: posture.dev/v1alpha1\nkind: ScorecardPolicy\nmetadata: {name: ${name}}\nspec: {minimumScore: ${min}}\n`;

async function metric(name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values[0]?.value ?? Number.NaN;
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  );
  return { logger, lines };
}

describe('PolicyFile', () => {
  it('an invalid file keeps the last good one, and says why in the log, a metric and the status', async () => {
    const path = join(dir, 'a.yaml');
    writeFileSync(path, doc('prod', 6));
    const { logger, lines } = capture();
    const f = new PolicyFile({ path, reloadMs: 60_000, logger });
    const seen: PolicySet[] = [];
    f.onChange((s) => seen.push(s));
    assert.equal(f.reload(), true);
    assert.deepEqual(f.status().policies, ['prod']);
    assert.equal(await metric('posture_policy_file_valid'), 1);

    writeFileSync(path, doc('prod', 11));
    assert.equal(f.reload(), false);
    assert.equal(f.current().policies[0].minimumScore, 6);
    const st = f.status();
    assert.equal(st.valid, false);
    assert.equal(st.error, 'document 1: /spec/minimumScore must be <= 10');
    assert.equal(await metric('posture_policy_file_valid'), 0);
    const refused = lines.find((l) => l.msg === 'policy file refused; the last good policies stay in force');
    assert.ok(refused);
    assert.equal(refused.error, 'document 1: /spec/minimumScore must be <= 10');
    // The same bad file read again is neither counted nor logged again.
    const before = await metric('posture_policy_reload_failures_total');
    f.reload();
    assert.equal(await metric('posture_policy_reload_failures_total'), before);

    writeFileSync(path, doc('prod', 7));
    assert.equal(f.reload(), true);
    assert.equal(f.current().policies[0].minimumScore, 7);
    assert.equal(f.status().valid, true);
    assert.equal(await metric('posture_policy_file_valid'), 1);
    assert.deepEqual(
      seen.map((s) => s.policies[0].minimumScore),
      [6, 7],
    );
  });

  it('follows a ConfigMap-style symbolic link swap; a vanished file keeps the last good one', () => {
    const v1 = join(dir, 'v1');
    const v2 = join(dir, 'v2');
    writeFileSync(v1, doc('a', 1));
    writeFileSync(v2, doc('b', 2));
    const link = join(dir, 'policy.yaml');
    symlinkSync(v1, link);
    const f = new PolicyFile({ path: link, reloadMs: 60_000 });
    f.reload();
    assert.deepEqual(f.status().policies, ['a']);
    symlinkSync(v2, `${link}.tmp`);
    renameSync(`${link}.tmp`, link);
    assert.equal(f.reload(), true);
    assert.deepEqual(f.status().policies, ['b']);
    rmSync(link);
    assert.equal(f.reload(), false);
    assert.deepEqual(f.status().policies, ['b']);
    assert.equal(f.status().error, 'no such file');
  });

  it('a comment-only change changes nothing', () => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, doc('a', 1));
    const f = new PolicyFile({ path, reloadMs: 60_000 });
    let changes = 0;
    f.onChange(() => changes++);
    f.reload();
    writeFileSync(path, `# edited\n${doc('a', 1)}`);
    assert.equal(f.reload(), false);
    assert.equal(changes, 1);
  });

  it('no file configured: no policy, valid', () => {
    const f = new PolicyFile({ path: undefined, reloadMs: 1000 });
    f.start();
    f.stop();
    assert.deepEqual(f.status(), { policies: [], digest: f.current().digest, valid: true });
  });
});
