// The raw-list read of a review's two headers: any case, the first of duplicates, nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyHeaders } from './raw-headers.ts';

test('bodyHeaders: content type and length in any case, the first of duplicates, nothing else', () => {
  const raw = [
    'Host',
    'x',
    'Content-Type',
    'application/json',
    'X-Content-Type',
    'text/plain',
    'content-type',
    'text/html',
    'CONTENT-LENGTH',
    '12',
    'Content-Length',
    '13',
    'Accept',
    'content-type',
  ];
  assert.deepEqual(bodyHeaders(raw), { contentType: 'application/json', contentLength: '12' });
  assert.deepEqual(bodyHeaders(['X-Content-Type', 'text/plain', 'Content', 'x', 'Content-Encoding', 'gzip']), {
    contentType: undefined,
    contentLength: undefined,
  });
  assert.deepEqual(bodyHeaders([]), { contentType: undefined, contentLength: undefined });
  // Only letters fold: '\r' is '-' with the case bit cleared, and is not taken for it.
  assert.deepEqual(bodyHeaders(['content\rtype', 'x', 'CONTENT_LENGTH', '1']), { contentType: undefined, contentLength: undefined });
});
