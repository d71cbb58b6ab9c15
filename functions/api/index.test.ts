// The api function's module: a thin handle over the shared runtime, loaded without side effects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestContext } from '../../lib/api/testing.ts';
import type { StructuredReturn } from '../../lib/function/handle.ts';
import * as api from './index.ts';

test('functions/api exports handle and shutdown; a write is refused before the runtime opens a database', async () => {
  assert.equal(typeof api.handle, 'function');
  assert.equal(typeof api.shutdown, 'function');
  const r = (await api.handle(requestContext('POST', '/projects/github.com/ossf/scorecard'))) as StructuredReturn;
  assert.equal(r.statusCode, 405);
  assert.equal(r.headers?.allow, 'GET, HEAD');
});
