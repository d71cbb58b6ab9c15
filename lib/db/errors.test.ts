// What a reply may say about a failure (issue 40, finding 4): never the database's target or pg's words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseUnreachableError } from './connect.ts';
import { isDatabaseError, publicFailure } from './errors.ts';

const pgServerError = Object.assign(new Error('database "secretdb" does not exist'), { name: 'error', code: '3D000', severity: 'FATAL' });
const pgAuth = Object.assign(new Error('password authentication failed for user "alice"'), { name: 'error', code: '28P01', severity: 'FATAL' });
const socket = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED', syscall: 'connect', address: '10.0.0.5', port: 5432 });

const cases: Array<[string, unknown, string]> = [
  ['unreachable, with its target', new DatabaseUnreachableError('postgres://alice:***@db/secretdb', socket), 'database unavailable'],
  ["pg's missing database", pgServerError, 'database unavailable'],
  ["pg's failed password", pgAuth, 'database unavailable'],
  ["knex's pool timeout", Object.assign(new Error('Knex: Timeout acquiring a connection.'), { name: 'KnexTimeoutError' }), 'database unavailable'],
  ["pg's dropped connection", new Error('Connection terminated unexpectedly'), 'database unavailable'],
  ['a bare socket error', socket, 'ECONNREFUSED'],
  ['anything else keeps its message', new Error('cannot reach the Kubernetes API: ECONNRESET'), 'cannot reach the Kubernetes API: ECONNRESET'],
  ['not an Error', 'odd', 'odd'],
];

for (const [name, err, said] of cases) {
  test(`publicFailure: ${name}`, () => {
    assert.equal(publicFailure(err), said);
    assert.doesNotMatch(publicFailure(err), /secretdb|alice|10\.0\.0\.5|5432/);
  });
}

test('isDatabaseError: an HTTP error with a five-letter code is not one', () => {
  assert.equal(isDatabaseError(Object.assign(new Error('x'), { code: 'ABCDE' })), false);
  assert.equal(isDatabaseError(null), false);
});
