// The score API and the dashboard when the database fails: 503 with Retry-After, never a stack
// (no database is opened: the runtime hands the handler a broken one, or none).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Db } from '../db/index.ts';
import type { StructuredReturn } from '../function/handle.ts';
import { silentLogger } from '../log/index.ts';
import { createApiHandle } from './handler.ts';
import { requestContext } from './testing.ts';

const PROJECT = '/projects/github.com/ossf/scorecard';

test('a database that fails answers 503 with Retry-After, never a stack', async () => {
  const broken = {
    raw: async () => {
      throw new Error('connection refused at 10.0.0.1');
    },
  } as unknown as Db;
  const handle = createApiHandle(async () => ({ db: broken, config: { allowedHosts: ['github.com'] }, log: silentLogger }));
  const r = (await handle(requestContext('GET', PROJECT))) as StructuredReturn;
  assert.equal(r.statusCode, 503);
  assert.equal(r.headers?.['retry-after'], '5');
  assert.ok(!String(r.body).includes('10.0.0.1'));
  const down = createApiHandle(async () => {
    throw new Error('no database');
  });
  assert.equal(((await down(requestContext('GET', PROJECT))) as StructuredReturn).statusCode, 503);
  // A write attempt is refused without the runtime.
  assert.equal(((await down(requestContext('POST', PROJECT))) as StructuredReturn).statusCode, 405);
});

test('a database that fails answers the list 503 with Retry-After and a page 503 in HTML', async () => {
  const broken = { raw: async () => Promise.reject(new Error('connection refused')) } as unknown as Db;
  const handle = createApiHandle(async () => ({ db: broken, config: { allowedHosts: ['github.com'] }, log: silentLogger }));
  const list = (await handle(requestContext('GET', '/projects'))) as StructuredReturn;
  assert.equal(list.statusCode, 503);
  assert.equal(list.headers!['retry-after'], '5');
  const page = (await handle(requestContext('GET', '/ui'))) as StructuredReturn;
  assert.equal(page.statusCode, 503);
  assert.match(String(page.headers!['content-type']), /text\/html/);
});
