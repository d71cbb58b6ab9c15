import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, configTable, defaultConfig, loadConfig, redactUrl } from './index.ts';
import { settings } from './spec.ts';

test('defaults load and are typed', () => {
  const c = loadConfig({});
  assert.equal(c.maxConcurrentJobs, 10);
  assert.equal(c.databaseUrl, undefined);
  assert.deepEqual(c.allowedHosts, ['github.com']);
  assert.equal(c.keepJobs, false);
  assert.equal(defaultConfig({ maxConcurrentJobs: 3 }).maxConcurrentJobs, 3);
});

test('environment values are coerced', () => {
  const c = loadConfig({
    POSTURE_MAX_CONCURRENT_JOBS: '25',
    POSTURE_KEEP_JOBS: 'yes',
    POSTURE_ALLOWED_HOSTS: 'github.com, gitlab.com',
    DATABASE_URL: 'postgres://u@h/db',
  });
  assert.equal(c.maxConcurrentJobs, 25);
  assert.equal(c.keepJobs, true);
  assert.deepEqual(c.allowedHosts, ['github.com', 'gitlab.com']);
  assert.equal(c.databaseUrl, 'postgres://u@h/db');
});

test('an older Scorecard with one repository per Job, a newer one or a digest with shards: accepted', () => {
  assert.equal(loadConfig({ POSTURE_SCORECARD_IMAGE: 'ghcr.io/ossf/scorecard:v5.3.0', POSTURE_SHARD_SIZE: '1' }).shardSize, 1);
  assert.equal(loadConfig({ POSTURE_SCORECARD_IMAGE: 'ghcr.io/ossf/scorecard:v5.4.0' }).shardSize, 10);
  assert.equal(loadConfig({ POSTURE_SCORECARD_IMAGE: `ghcr.io/ossf/scorecard@sha256:${'a'.repeat(64)}` }).shardSize, 10);
});

test('bad values stop with a message naming the variable, the value and what is allowed', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ POSTURE_MAX_CONCURRENT_JOBS: 'abc' }, /POSTURE_MAX_CONCURRENT_JOBS="abc" is invalid: expected an integer from 1 to 10000/],
    [{ POSTURE_MAX_CONCURRENT_JOBS: '0' }, /POSTURE_MAX_CONCURRENT_JOBS="0"|POSTURE_MAX_CONCURRENT_JOBS=0/],
    [{ POSTURE_MAX_CONCURRENT_JOBS: '1.5' }, /POSTURE_MAX_CONCURRENT_JOBS/],
    [{ POSTURE_KEEP_JOBS: 'perhaps' }, /POSTURE_KEEP_JOBS="perhaps" is invalid: expected true or false/],
    [{ POSTURE_GATE_UNKNOWN: 'maybe' }, /POSTURE_GATE_UNKNOWN="maybe" is invalid: expected one of allow, warn, deny/],
    [{ DATABASE_URL: 'mysql://root:hunter2@x/db' }, /DATABASE_URL="mysql:\/\/root:\*\*\*@x\/db" is invalid/],
    [{ POSTURE_SCORECARD_IMAGE: 'ghcr.io/ossf/scorecard:latest' }, /not latest/],
    // Shards pass --repos, which Scorecard has from v5.4.0.
    [{ POSTURE_SCORECARD_IMAGE: 'ghcr.io/ossf/scorecard:v5.3.0' }, /POSTURE_SHARD_SIZE=10 needs Scorecard v5\.4\.0 or later .*set POSTURE_SHARD_SIZE=1/],
    [{ POSTURE_SCORECARD_IMAGE: 'ghcr.io/ossf/scorecard:v4.13.1', POSTURE_SHARD_SIZE: '2' }, /POSTURE_SHARD_SIZE=2 needs Scorecard v5\.4\.0/],
    [{ POSTURE_PROTECTED_NAMESPACES: '^kube-(' }, /not a regular expression/],
    [{ POSTURE_ALLOWED_HOSTS: 'GitHub.com' }, /POSTURE_ALLOWED_HOSTS/],
    [{ POSTURE_TLS_CERT_FILE: '/x.pem' }, /must be set together/],
    [
      { POSTURE_LEASE_SECONDS: '600', POSTURE_JOB_DEADLINE_SECONDS: '1800' },
      /POSTURE_LEASE_SECONDS=600 is invalid: it must be longer than POSTURE_JOB_DEADLINE_SECONDS=1800/,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /hunter2/, 'a password leaked into the error');
        return true;
      },
      JSON.stringify(env),
    );
  }
});

test('a config file is read and the environment wins over it; unknown keys are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-config-'));
  const file = join(dir, 'posture.yaml');
  writeFileSync(file, 'maxConcurrentJobs: 7\nclaimBatch: 9\n');
  const c = loadConfig({ POSTURE_CONFIG_FILE: file, POSTURE_CLAIM_BATCH: '11' });
  assert.equal(c.maxConcurrentJobs, 7);
  assert.equal(c.claimBatch, 11);
  writeFileSync(file, 'maxConcurrentJobz: 7\nclaimBatch: nine\n');
  assert.throws(() => loadConfig({ POSTURE_CONFIG_FILE: file }), /unknown setting "maxConcurrentJobz"[\s\S]*claimBatch="nine" is invalid/);
  assert.throws(() => loadConfig({ POSTURE_CONFIG_FILE: join(dir, 'missing.yaml') }), /POSTURE_CONFIG_FILE=.*cannot read/);
});

test('redactUrl hides passwords only', () => {
  assert.equal(redactUrl('postgres://u:p@h:5432/d'), 'postgres://u:***@h:5432/d');
  assert.equal(redactUrl('postgres://u@h/d'), 'postgres://u@h/d');
});

test('every setting is in the generated table', () => {
  const table = configTable();
  for (const s of settings) assert.ok(table.includes(`\`${s.env}\``), s.env);
});
