// rawPath: the request target's path exactly as sent (the score API's edges rely on it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawPath } from './server.ts';

test('rawPath keeps the path as sent', () => {
  const cases: Array<[string, string]> = [
    ['/projects/github.com/a/b/../c?x=1', '/projects/github.com/a/b/../c'],
    ['//projects/github.com/a/b', '//projects/github.com/a/b'],
    ['/a/%2e%2e/b#frag', '/a/%2e%2e/b'],
    ['http://example.com/projects/x?y', '/projects/x'],
    ['http://example.com', '/'],
    ['/', '/'],
  ];
  for (const [url, want] of cases) assert.equal(rawPath(url), want, url);
});
