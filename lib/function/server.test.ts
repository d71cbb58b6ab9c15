// toInvocation: what a function receives for each kind of request, and the clear 400 for each
// kind of bad one (a CloudEvent is recognised by its headers and parsed once).
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { CloudEvent, HTTP } from 'cloudevents';
import { silentLogger } from '../log/index.ts';
import { parseCloudEvent } from './parse-cloudevent.ts';
import { isCloudEventRequest, toInvocation } from './server.ts';

const request = (headers: Record<string, string>, url = '/'): IncomingMessage =>
  ({ url, method: 'POST', headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) }) as unknown as IncomingMessage;

const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'posture', uid: 'u' } };
const event = new CloudEvent({ type: 'dev.knative.apiserver.resource.update', source: '/apiserver', id: 'e1', datacontenttype: 'application/json', data: job });

test('isCloudEventRequest: binary mode by ce-specversion, structured and batched by content type', () => {
  const cases: Array<[Record<string, string>, boolean]> = [
    [{ 'ce-specversion': '1.0', 'content-type': 'application/json' }, true],
    [{ 'content-type': 'application/cloudevents+json; charset=utf-8' }, true],
    [{ 'content-type': 'Application/CloudEvents-Batch+JSON' }, true],
    [{ 'content-type': 'application/json' }, false],
    [{}, false],
  ];
  for (const [headers, want] of cases) assert.equal(isCloudEventRequest(request(headers).headers), want, JSON.stringify(headers));
});

test('toInvocation: a binary-mode event arrives as context.cloudevent with its data parsed', () => {
  const msg = HTTP.binary(event);
  const inv = toInvocation(request(msg.headers as Record<string, string>), Buffer.from(msg.body as string), silentLogger);
  assert.ok(!('error' in inv));
  assert.equal(inv.context.cloudevent?.type, 'dev.knative.apiserver.resource.update');
  assert.deepEqual(inv.context.cloudevent?.data, job);
  assert.equal(inv.event, inv.context.cloudevent);
});

test('toInvocation: a structured-mode event and a batch (its first event) arrive the same way', () => {
  const structured = HTTP.structured(event);
  const s = toInvocation(request(structured.headers as Record<string, string>), Buffer.from(structured.body as string), silentLogger);
  assert.ok(!('error' in s));
  assert.deepEqual(s.context.cloudevent?.data, job);
  const batch = JSON.stringify([JSON.parse(structured.body as string)]);
  const b = toInvocation(request({ 'content-type': 'application/cloudevents-batch+json' }), Buffer.from(batch), silentLogger);
  assert.ok(!('error' in b));
  assert.equal(b.context.cloudevent?.id, 'e1');
});

test('toInvocation: each kind of bad request gets one clear error (answered 400 by the server)', () => {
  const limit = Error.stackTraceLimit;
  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    [
      'binary mode without ce-type',
      { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'content-type': 'application/json' },
      '{}',
      /^malformed CloudEvent: /,
    ],
    [
      'binary mode, data not JSON',
      { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'content-type': 'application/json' },
      '{nope',
      /^malformed CloudEvent: /,
    ],
    ['structured mode, not JSON', { 'content-type': 'application/cloudevents+json' }, 'nope', /^malformed CloudEvent: /],
    ['an empty batch', { 'content-type': 'application/cloudevents-batch+json' }, '[]', /^malformed CloudEvent: an empty batch$/],
    ['plain JSON that is not JSON', { 'content-type': 'application/json' }, '{nope', /^request body is not valid JSON$/],
  ];
  for (const [name, headers, body, want] of cases) {
    const inv = toInvocation(request(headers), Buffer.from(body), silentLogger);
    assert.ok('error' in inv, `${name}: expected an error`);
    assert.match(inv.error, want, name);
  }
  assert.equal(Error.stackTraceLimit, limit, 'the stack trace limit is restored after a failed parse');
});

test('parseCloudEvent: the SDK parse, with its error messages, and the stack trace limit restored', () => {
  const limit = Error.stackTraceLimit;
  const msg = HTTP.binary(event);
  const got = parseCloudEvent(Object.fromEntries(Object.entries(msg.headers).map(([k, v]) => [k.toLowerCase(), String(v)])), String(msg.body));
  assert.deepEqual((got as CloudEvent<unknown>).data, job);
  assert.equal(Error.stackTraceLimit, limit);
  assert.throws(
    () => parseCloudEvent({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'content-type': 'application/json' }, '{nope'),
    /JSON/,
  );
  assert.equal(Error.stackTraceLimit, limit);
});

test('toInvocation: plain requests keep their body (JSON parsed, anything else as text) and query', () => {
  const json = toInvocation(request({ 'content-type': 'application/json' }, '/x?a=1'), Buffer.from('{"k":2}'), silentLogger);
  assert.ok(!('error' in json));
  assert.deepEqual(json.event, { k: 2 });
  assert.deepEqual(json.context.query, { a: '1' });
  assert.equal(json.context.cloudevent, undefined);
  const text = toInvocation(request({ 'content-type': 'text/plain' }), Buffer.from('hello'), silentLogger);
  assert.ok(!('error' in text));
  assert.equal(text.event, 'hello');
});

test('createFunctionServer: a body past the limit is a 413 and the server goes on; invocations and durations are exact at every scrape', async () => {
  const { createFunctionServer, listen } = await import('./server.ts');
  const name = `test-${process.pid}-${Date.now()}`;
  let calls = 0;
  const server = createFunctionServer({
    name,
    log: silentLogger,
    bodyLimit: 64,
    handle: async (context) => {
      calls++;
      return context.body === 'fail'
        ? { statusCode: 422, body: { error: 'no' } }
        : { statusCode: 200, body: { ok: true, event: context.cloudevent?.type ?? null } };
    },
  });
  const port = await listen(server, 0);
  const url = `http://127.0.0.1:${port}/`;
  try {
    const big = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(10_000) });
    assert.equal(big.status, 413);
    assert.match(await big.text(), /larger than 64 bytes/);
    assert.equal(calls, 0, 'the handler never saw the oversized body');
    const msg = HTTP.binary(new CloudEvent({ type: 't.ok', source: '/s', id: 'e1', datacontenttype: 'application/json', data: { a: 1 } }));
    for (let i = 0; i < 3; i++) {
      const r = await fetch(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { ok: true, event: 't.ok' });
    }
    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'fail' });
    assert.equal(bad.status, 422);
    const malformed = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(malformed.status, 400);
    const scrape = async () => (await (await fetch(`${url}metrics`)).text()).split('\n').filter((l) => l.includes(`function="${name}"`));
    const first = await scrape();
    const value = (lines: string[], prefix: string) =>
      Number(
        lines
          .find((l) => l.startsWith(prefix))
          ?.split(' ')
          .pop(),
      );
    assert.equal(value(first, `posture_function_invocations_total{function="${name}",code="200"}`), 3);
    assert.equal(value(first, `posture_function_invocations_total{function="${name}",code="422"}`), 1);
    assert.equal(value(first, `posture_function_invocations_total{function="${name}",code="400"}`), 1);
    assert.equal(
      value(first, `posture_function_duration_seconds_count{function="${name}"}`),
      4,
      'every handled request is timed (a 400 never reaches the handler)',
    );
    // One more request: the next scrape shows it, and nothing twice.
    await (await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' })).text();
    const second = await scrape();
    assert.equal(value(second, `posture_function_invocations_total{function="${name}",code="200"}`), 4);
    assert.equal(value(second, `posture_function_duration_seconds_count{function="${name}"}`), 5);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('createFunctionServer: a client that goes away while its oversized body is drained takes nothing down', async () => {
  const { createFunctionServer, listen } = await import('./server.ts');
  const { connect } = await import('node:net');
  const server = createFunctionServer({
    name: `test-reset-${process.pid}`,
    log: silentLogger,
    bodyLimit: 64,
    handle: async () => ({ statusCode: 200, body: { ok: true } }),
  });
  const port = await listen(server, 0);
  const uncaught: Error[] = [];
  const onUncaught = (err: Error) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    // Declares 1 MB, sends past the limit, reads the 413, then resets the connection mid-body.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 1048576\r\n\r\n${'x'.repeat(4096)}`);
      });
      let got = '';
      socket.on('data', (d) => {
        got += d.toString();
        if (got.includes('\r\n\r\n')) {
          socket.resetAndDestroy();
          resolve(got);
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
      setTimeout(() => reject(new Error('no answer')), 5000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 413/);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      uncaught.map((e) => e.message),
      [],
      'no error escaped the server',
    );
    const ok = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    assert.equal(ok.status, 200, 'the server still answers');
  } finally {
    process.off('uncaughtException', onUncaught);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

/** Sends raw bytes, resolves with what the server answered first (status line and headers), or 'no answer' within `ms`. */
async function firstAnswer(port: number, bytes: string, ms = 2000): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    const done = (v: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(got || 'no answer'), ms);
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n')) done(got);
    });
    socket.on('error', () => {});
    socket.on('close', () => done(got || 'no answer'));
  });
}

test('createFunctionServer: a body where none is taken (GET, or a route capped at 0) is refused on its headers, before any of it is read', async () => {
  const { createFunctionServer, listen } = await import('./server.ts');
  let calls = 0;
  const server = createFunctionServer({
    name: `test-nobody-${process.pid}`,
    log: silentLogger,
    bodyLimit: (method, path) => (method === 'POST' && path === '/events' ? 64 : 0),
    handle: async () => {
      calls++;
      return { statusCode: 200, body: { ok: true } };
    },
  });
  const port = await listen(server, 0);
  try {
    // Each declares 10 MiB (or is chunked) and sends a few bytes: the answer must come without the rest.
    const head = (method: string, path: string, framing: string) =>
      `${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`;
    for (const [name, bytes] of [
      ['GET, Content-Length 10 MiB', `${head('GET', '/projects', 'content-length: 10485760')}[{},{},`],
      ['GET, chunked', `${head('GET', '/projects', 'transfer-encoding: chunked')}4\r\n[{},\r\n`],
      ['POST to a route that takes none', `${head('POST', '/', 'content-length: 10485760')}[{},`],
      ['POST past its route cap, by its Content-Length', `${head('POST', '/events', 'content-length: 1048576')}{"a":`],
    ] as const) {
      const answer = await firstAnswer(port, bytes);
      assert.match(answer, /^HTTP\/1\.1 413 /, `${name}: ${answer.slice(0, 60)}`);
      assert.match(answer, /connection: close/i, name);
    }
    assert.equal(calls, 0, 'no handler ran');
    // What is allowed still works: a GET without a body, a small POST where a body is taken.
    assert.equal((await fetch(`http://127.0.0.1:${port}/projects`)).status, 200);
    const small = await fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(small.status, 200);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('bodyRefused and defaultBodyLimit: decided on the headers alone', async () => {
  const { bodyRefused, defaultBodyLimit, BODY_LIMIT } = await import('./server.ts');
  const cases: Array<[Record<string, string>, number, boolean]> = [
    [{}, 0, false],
    [{ 'content-length': '0' }, 0, false],
    [{ 'content-length': '1' }, 0, true],
    [{ 'transfer-encoding': 'chunked' }, 0, true],
    [{ 'transfer-encoding': 'chunked' }, 64, false], // read, and cut at 64 bytes
    [{ 'content-length': '64' }, 64, false],
    [{ 'content-length': '65' }, 64, true],
  ];
  for (const [headers, limit, want] of cases) assert.equal(bodyRefused(headers, limit), want, `${JSON.stringify(headers)} / ${limit}`);
  for (const m of ['GET', 'head', 'OPTIONS', 'DELETE']) assert.equal(defaultBodyLimit(m), 0, m);
  for (const m of ['POST', 'PUT', 'PATCH']) assert.equal(defaultBodyLimit(m), BODY_LIMIT, m);
});

test('toInvocation: a query parameter given more than once keeps every value (so a route can refuse it)', () => {
  const inv = toInvocation(request({}, '/x?a=1&a=2&b=3&a=4&__proto__=p'), Buffer.alloc(0), silentLogger);
  assert.ok(!('error' in inv));
  assert.deepEqual({ ...inv.context.query }, { a: ['1', '2', '4'], b: '3', ['__proto__']: 'p' });
  assert.equal(Object.getPrototypeOf(inv.context.query), Object.prototype, 'a parameter named __proto__ stays a parameter');
});

test('createFunctionServer: a streamed body is pulled at the pace the client reads; HEAD never starts it; a client gone ends it', async () => {
  const { createFunctionServer, listen } = await import('./server.ts');
  const { request: httpRequest } = await import('node:http');
  const PIECE = 'x'.repeat(64 * 1024);
  let pulled = 0;
  let finished = false;
  const server = createFunctionServer({
    name: `test-stream-${process.pid}`,
    log: silentLogger,
    handle: async () => ({
      statusCode: 200,
      headers: { 'content-type': 'text/plain' },
      body: {
        stream: (async function* () {
          try {
            for (;;) {
              pulled++;
              yield PIECE;
            }
          } finally {
            finished = true;
          }
        })(),
      },
    }),
  });
  const port = await listen(server, 0);
  try {
    const head = await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/plain');
    assert.equal(pulled, 0, 'HEAD: nothing of the body was produced');

    // A client that reads the first bytes and then stops reading.
    const first = await new Promise<{ text: string; destroy: () => void }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.once('data', (d: Buffer) => {
          res.pause();
          resolve({ text: d.toString().slice(0, 10), destroy: () => req.destroy() });
        });
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(first.text, 'xxxxxxxxxx', 'the stream is the body');
    await new Promise((r) => setTimeout(r, 700));
    const whilePaused = pulled;
    await new Promise((r) => setTimeout(r, 300));
    // Unbounded, a generator this fast yields thousands of pieces in a second; under backpressure
    // only what the socket buffers hold (a few MiB on loopback).
    assert.ok(whilePaused < 400, `pulled ${whilePaused} pieces of 64 KiB while the client read none`);
    assert.equal(pulled, whilePaused, 'no more pieces while the client does not read');
    first.destroy();
    for (let i = 0; i < 50 && !finished; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(finished, "the client's going away ended the stream (its finally ran)");
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'the server goes on');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('createFunctionServer: /readyz says what readyDetail gives (the policy file refused, say), as JSON; plain "ok" without', async () => {
  const { createFunctionServer, listen } = await import('./server.ts');
  let detail: Record<string, unknown> | undefined = { policy: { valid: false, error: 'document 1: /spec/minimumScore must be <= 10' } };
  const server = createFunctionServer({
    name: `ready-${process.pid}`,
    log: silentLogger,
    handle: async () => ({ statusCode: 200, body: {} }),
    readyDetail: () => detail,
  });
  const port = await listen(server, 0);
  try {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ready: true, policy: { valid: false, error: 'document 1: /spec/minimumScore must be <= 10' } });
    detail = undefined;
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/readyz`)).text(), 'ok');
  } finally {
    await new Promise((done) => server.close(done));
  }
});
