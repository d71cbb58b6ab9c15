// The control socket's protocol on its own: output of any size with backpressure, stdin
// forwarded, exit codes, a malformed request, the socket's mode, a client that goes away.
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { ControlUnreachableError, sendControlRequest, startControlServer } from './control.ts';

function sink() {
  const s = new PassThrough();
  const done = text(s);
  return { s, done };
}

test("a command runs in the server with the caller's argv, cwd and stdin; its output and exit code come back", async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'posture-ctl-')), 'control.sock');
  const big = `${'x'.repeat(1023)}\n`;
  const server = await startControlServer(path, async (req, io) => {
    if (req.argv[0] === 'echo') {
      io.stdout.write(`cwd=${req.cwd} argv=${req.argv.join(',')} stdin=${await text(io.stdin)}\n`);
      io.stderr.write('to stderr\n');
      return 2;
    }
    for (let i = 0; i < 8 * 1024; i++) if (!io.stdout.write(big)) await new Promise((r) => io.stdout.once('drain', r));
    return 0;
  });
  try {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const out = sink();
    const err = sink();
    const code = await sendControlRequest(
      path,
      { argv: ['echo', 'a b'], cwd: '/somewhere' },
      { stdin: Readable.from(['line 1\n', 'line 2\n']), stdout: out.s, stderr: err.s, forwardStdin: true },
    );
    out.s.end();
    err.s.end();
    assert.equal(code, 2);
    assert.equal(await out.done, 'cwd=/somewhere argv=echo,a b stdin=line 1\nline 2\n\n');
    assert.equal(await err.done, 'to stderr\n');
    // 8 MiB through the socket, every byte in order.
    const o2 = sink();
    assert.equal(
      await sendControlRequest(path, { argv: ['big'], cwd: '/' }, { stdin: Readable.from([]), stdout: o2.s, stderr: new PassThrough(), forwardStdin: false }),
      0,
    );
    o2.s.end();
    assert.equal(await o2.done, big.repeat(8 * 1024));
    // A malformed request is answered with exit 1, and the server keeps serving.
    const raw = createConnection(path);
    raw.end('{"argv": "not a list"}\n');
    assert.match(await text(raw), /"exit":1/);
    // A client that disconnects mid-output does not stop the server.
    const gone = createConnection(path);
    gone.write(`${JSON.stringify({ argv: ['big'], cwd: '/' })}\n`);
    await new Promise((r) => gone.once('data', r));
    gone.destroy();
    const o3 = sink();
    assert.equal(
      await sendControlRequest(path, { argv: ['echo'], cwd: '/' }, { stdin: Readable.from([]), stdout: o3.s, stderr: new PassThrough(), forwardStdin: true }),
      2,
    );
  } finally {
    await server.close();
  }
  await assert.rejects(
    sendControlRequest(
      path,
      { argv: ['echo'], cwd: '/' },
      { stdin: Readable.from([]), stdout: new PassThrough(), stderr: new PassThrough(), forwardStdin: false },
    ),
    ControlUnreachableError,
  );
});

test('a frame that is not an object (null, a number, a list) is answered with an error and the connection closed', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'posture-ctl-')), 'control.sock');
  const errors: Error[] = [];
  const server = await startControlServer(
    path,
    async (_req, io) => {
      await text(io.stdin);
      return 0;
    },
    (err) => errors.push(err),
  );
  try {
    for (const frames of [['null'], ['42'], ['[]'], ['"x"'], [JSON.stringify({ argv: ['x'], cwd: '/' }), 'null']]) {
      const raw = createConnection(path);
      // Nothing ends the client's side: only the server closing the connection ends `text(raw)`.
      raw.write(`${frames.join('\n')}\n`);
      const reply = await Promise.race([text(raw), new Promise((r) => setTimeout(() => r('(still open after 2 s)'), 2000))]);
      assert.match(String(reply), /"exit":1/, `${frames.join(' ')}: ${reply}`);
      assert.match(
        Buffer.from(JSON.parse(String(reply).split('\n')[0]).stderr, 'base64').toString(),
        /malformed control request: a frame must be a JSON object/,
      );
      raw.destroy();
    }
    assert.deepEqual(errors, []);
  } finally {
    await server.close();
  }
});

test('the client takes only object frames with string output and an integer exit', async () => {
  const { createServer } = await import('node:net');
  const path = join(mkdtempSync(join(tmpdir(), 'posture-ctl-')), 'control.sock');
  const fake = createServer((s) => {
    s.once('data', () => s.end(`null\n${JSON.stringify({ exit: 0 })}\n`));
  });
  await new Promise<void>((r) => fake.listen(path, r));
  try {
    await assert.rejects(
      sendControlRequest(
        path,
        { argv: ['x'], cwd: '/' },
        { stdin: Readable.from([]), stdout: new PassThrough(), stderr: new PassThrough(), forwardStdin: false },
      ),
      /not a JSON object/,
    );
  } finally {
    await new Promise((r) => fake.close(r));
  }
});
