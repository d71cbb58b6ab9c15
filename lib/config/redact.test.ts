// Redaction of a database URL (issue 40, finding 4), checked against pg's own parser: for every
// form pg accepts, pg-connection-string (pg's copy, the one that reads DATABASE_URL) says where the
// secrets are, and the redacted text must hold none of them yet still name the same target.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './index.ts';
import { redactUrl, redactUrlsIn, UNSHOWABLE_URL } from './redact.ts';

type PgConfig = Record<string, unknown>;
const pgParse = createRequire(createRequire(import.meta.url).resolve('pg'))('pg-connection-string') as (s: string) => PgConfig;

// pg reads the sslkey/sslcert/sslrootcert files while parsing: real files, whose paths are secret-ish too.
const dir = mkdtempSync(join(tmpdir(), 'posture-redact-'));
const key = join(dir, 'client-KEYPATH.key');
writeFileSync(key, 'not a key');

const SECRET_PARAMS = ['password', 'sslpassword', 'sslkey', 'sslcert', 'sslrootcert', 'options'];

const forms: Array<{ name: string; url: string; secrets: string[] }> = [
  { name: 'userinfo password', url: 'postgres://alice:hunter2@db.internal:5432/posture', secrets: ['hunter2'] },
  { name: 'postgresql:// scheme', url: 'postgresql://alice:hunter2@db.internal/posture', secrets: ['hunter2'] },
  { name: '`@` in the password, unescaped', url: 'postgres://alice:hun@ter2@db.internal:5432/posture', secrets: ['hun@ter2', 'ter2'] },
  { name: '`@` in the password, escaped', url: 'postgres://alice:hun%40ter2@db.internal/posture', secrets: ['hun@ter2', 'hun%40ter2', 'ter2'] },
  { name: 'several `@` and a `:` in the password', url: 'postgres://alice:a:b@c@d@db.internal/posture', secrets: ['a:b@c@d', 'b@c', 'c@d'] },
  { name: 'a space in the password', url: 'postgres://alice:hunter two@db.internal/posture', secrets: ['hunter two', 'hunter%20two', 'two'] },
  { name: '?password=', url: 'postgres://alice@db.internal/posture?password=hunter2', secrets: ['hunter2'] },
  {
    name: '?password= beside a userinfo password',
    url: 'postgres://alice:first1@db.internal/posture?sslmode=verify-full&password=hunter2',
    secrets: ['hunter2', 'first1'],
  },
  { name: '?password= twice', url: 'postgres://db.internal/posture?password=one111&password=two222', secrets: ['one111', 'two222'] },
  { name: '?sslpassword=', url: 'postgres://alice@db.internal/posture?sslpassword=keypass9', secrets: ['keypass9'] },
  { name: '?sslkey= path', url: `postgres://alice@db.internal/posture?sslkey=${key}&sslcert=${key}`, secrets: ['KEYPATH'] },
  { name: '?options=', url: 'postgres://alice@db.internal/posture?options=-c%20secret%3Dopt77', secrets: ['opt77'] },
  { name: 'a socket host in the query', url: 'postgres://alice:hunter2@/posture?host=/var/run/postgresql', secrets: ['hunter2'] },
  { name: 'an escaped socket host', url: 'postgres://alice:hunter2@%2Fvar%2Frun%2Fpostgresql/posture', secrets: ['hunter2'] },
  { name: 'IPv6', url: 'postgres://alice:hunter2@[::1]:5433/posture', secrets: ['hunter2'] },
  { name: 'IPv6 with `@` in the password', url: 'postgres://alice:p@ss:w0rd@[fd00::5]/posture', secrets: ['p@ss:w0rd', 'ss:w0rd'] },
  { name: 'a fragment', url: 'postgres://alice:hunter2@db.internal/posture#frag99', secrets: ['hunter2', 'frag99'] },
  { name: 'a user in the query', url: 'postgres://db.internal/posture?user=alice&password=hunter2', secrets: ['hunter2'] },
];

for (const f of forms) {
  test(`redactUrl: ${f.name}`, () => {
    const pg = pgParse(f.url);
    // pg reads these secrets from the URL (so the case is real), and none is left in the redacted text.
    const pgSecrets = [pg.password, ...SECRET_PARAMS.map((p) => pg[p])].filter((v): v is string => typeof v === 'string' && v !== '');
    assert.ok(pgSecrets.length > 0, `pg finds no secret in ${f.url}`);
    const shown = redactUrl(f.url);
    for (const s of [...pgSecrets, ...f.secrets]) {
      assert.ok(!shown.includes(s), `${JSON.stringify(s)} is left in ${shown}`);
      assert.ok(!decodeURIComponent(shown).includes(s), `${JSON.stringify(s)} is left, escaped, in ${shown}`);
    }
    // The target is still named, as pg reads it.
    const again = pgParse(shown.replaceAll(/ssl(key|cert|rootcert)=\*\*\*/g, 'x=y'));
    for (const k of ['host', 'port', 'database', 'user']) assert.equal(again[k] ?? '', pg[k] ?? '', `${k} of ${shown}`);
    // And the same in a longer text (an error message, a log line).
    assert.equal(redactUrlsIn(`cannot reach ${f.url.replaceAll(' ', '%20')} now`), `cannot reach ${redactUrl(f.url.replaceAll(' ', '%20'))} now`);
  });
}

test('redactUrl: what is not an absolute URL is not shown at all', () => {
  // pg takes `host=… password=…` as a database name on a host called "base"; posture's
  // configuration refuses it (DATABASE_URL must start with postgres:// or postgresql://), and the
  // configuration error must not print it either.
  for (const raw of ['host=db.internal user=alice password=hunter2 dbname=posture', '/var/run/postgresql posture', 'alice:hunter2@db', '']) {
    assert.equal(redactUrl(raw), UNSHOWABLE_URL);
  }
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'host=db.internal password=hunter2' }),
    (err: Error) => /DATABASE_URL=.*is invalid/.test(err.message) && !err.message.includes('hunter2'),
  );
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://alice:hun@ter2@db.internal/posture', POSTURE_LOG_LEVEL: 'loud' }),
    (err: Error) => !err.message.includes('ter2'),
  );
});

test('redactUrl keeps what is no secret', () => {
  assert.equal(redactUrl('postgres://alice@db.internal:5432/posture'), 'postgres://alice@db.internal:5432/posture');
  assert.equal(redactUrl('postgres://alice:hunter2@db.internal/posture?sslmode=verify-full'), 'postgres://alice:***@db.internal/posture?sslmode=verify-full');
  assert.equal(
    redactUrl('postgres://db.internal/posture?password=hunter2&application_name=posture'),
    'postgres://db.internal/posture?password=***&application_name=posture',
  );
});
