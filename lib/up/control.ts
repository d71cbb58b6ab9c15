// The control socket of `posture up`: while it holds the embedded database (PGlite has one
// connection and no locking of its own), command-line commands run inside it instead of opening
// the database a second time. A unix socket in the data folder, created with mode 0600, so only
// the user who runs `posture up` can connect (the kernel checks the file's permissions on
// connect); nothing listens on the network.
//
// The protocol is newline-delimited JSON. Client: {argv, cwd}, then {stdin: base64}… and
// {stdinEnd: true}. Server: {stdout: base64} / {stderr: base64}… and finally {exit: code}.
import { chmodSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export const CONTROL_SOCKET = 'control.sock';
/** The holder name `posture up` writes into the data folder's lock; the CLI forwards to a live holder of this name. */
export const UP_HOLDER = 'posture up';

export function controlSocketPath(dataDir: string, cwd = process.cwd()): string {
  return join(resolve(cwd, dataDir), CONTROL_SOCKET);
}

export interface ControlRequest {
  argv: string[];
  cwd: string;
}

export interface ControlStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export type ControlRunner = (request: ControlRequest, streams: ControlStreams) => Promise<number>;

/** The server's last words to a client that broke the protocol: why, on stderr, and exit 1. */
function malformed(why: string): string {
  return `${JSON.stringify({ stderr: Buffer.from(`posture up: malformed control request: ${why}\n`).toString('base64') })}\n${JSON.stringify({ exit: 1 })}\n`;
}

/**
 * Forwarded output with every control character removed but newline and tab: what reaches the
 * caller's terminal can move no cursor, set no title, and send no escape sequence, whoever answered
 * on the socket (a forwarded command is never interactive, so it has no progress line to redraw).
 * C1 controls (U+0080 to U+009F) too: some terminals take them as escape sequences.
 */
export function stripControls(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** A Writable that sends what is written as frames of one kind, honouring the socket's backpressure. */
function frameWriter(socket: Socket, kind: 'stdout' | 'stderr'): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (socket.destroyed) return cb(); // the client went away: drop output, let the command finish
      socket.write(`${JSON.stringify({ [kind]: Buffer.from(chunk).toString('base64') })}\n`, () => cb());
    },
  });
}

export async function startControlServer(
  socketPath: string,
  run: ControlRunner,
  onError: (err: Error) => void = () => {},
): Promise<{ path: string; close(): Promise<void> }> {
  rmSync(socketPath, { force: true }); // a stale socket of a crashed run (the caller holds the data folder's lock)
  const server: Server = createServer((socket) => void serve(socket).catch(onError));
  const previous = process.umask(0o077); // no window in which the socket is open to others
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(socketPath, () => ok());
    });
  } finally {
    process.umask(previous);
  }
  chmodSync(socketPath, 0o600);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function serve(socket: Socket): Promise<void> {
    socket.on('error', () => {});
    const stdin = new PassThrough();
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    let request: ControlRequest | undefined;
    let started: Promise<number> | undefined;
    for await (const line of lines) {
      let frame: { argv?: unknown; cwd?: unknown; stdin?: string; stdinEnd?: boolean };
      try {
        frame = JSON.parse(line);
      } catch {
        socket.destroy();
        return;
      }
      // `null`, a number, a list: no frame at all. Said and closed (reading a field of null threw,
      // and the connection stayed open with nobody serving it).
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
        socket.end(malformed('a frame must be a JSON object'));
        stdin.destroy();
        await started;
        return;
      }
      if (!request) {
        if (!Array.isArray(frame.argv) || !frame.argv.every((a) => typeof a === 'string') || typeof frame.cwd !== 'string') {
          socket.end(malformed('expected {argv, cwd}'));
          return;
        }
        request = { argv: frame.argv as string[], cwd: frame.cwd };
        const stdout = frameWriter(socket, 'stdout');
        const stderr = frameWriter(socket, 'stderr');
        started = run(request, { stdin, stdout, stderr })
          .catch((err) => {
            stderr.write(`posture up: ${(err as Error).message}\n`);
            return 70;
          })
          .then(async (code) => {
            await Promise.all([new Promise((r) => stdout.end(r)), new Promise((r) => stderr.end(r))]);
            if (!socket.destroyed) socket.end(`${JSON.stringify({ exit: code })}\n`);
            stdin.destroy();
            return code;
          });
        continue;
      }
      if (typeof frame.stdin === 'string' && !stdin.write(Buffer.from(frame.stdin, 'base64'))) {
        socket.pause();
        stdin.once('drain', () => socket.resume());
      }
      if (frame.stdinEnd) stdin.end();
    }
    stdin.end();
    await started;
  }

  return {
    path: socketPath,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      rmSync(socketPath, { force: true });
    },
  };
}

export class ControlUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlUnreachableError';
  }
}

/** Runs argv inside the `posture up` listening on socketPath; its output goes to ours. Returns its exit code. */
export async function sendControlRequest(socketPath: string, request: ControlRequest, streams: ControlStreams & { forwardStdin: boolean }): Promise<number> {
  const socket = createConnection(socketPath);
  await new Promise<void>((ok, fail) => {
    socket.once('connect', () => ok());
    socket.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        new ControlUnreachableError(
          `posture up holds the embedded database, but its control socket ${socketPath} does not answer (${err.code ?? err.message})`,
        ),
      ),
    );
  });
  socket.write(`${JSON.stringify(request)}\n`);
  const pump = async () => {
    if (streams.forwardStdin) {
      for await (const chunk of streams.stdin) {
        if (socket.destroyed) return;
        if (!socket.write(`${JSON.stringify({ stdin: Buffer.from(chunk).toString('base64') })}\n`)) await new Promise((r) => socket.once('drain', r));
      }
    }
    if (!socket.destroyed) socket.write(`${JSON.stringify({ stdinEnd: true })}\n`);
  };
  void pump().catch(() => socket.destroy());
  const lines = createInterface({ input: socket, crlfDelay: Infinity });
  // One decoder per stream: a character split across two frames is still one character.
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  let code: number | undefined;
  try {
    for await (const line of lines) {
      const frame = JSON.parse(line) as { stdout?: unknown; stderr?: unknown; exit?: unknown } | null;
      if (typeof frame !== 'object' || frame === null) throw new Error('a frame that is not a JSON object');
      const kind = typeof frame.stdout === 'string' ? 'stdout' : typeof frame.stderr === 'string' ? 'stderr' : undefined;
      const out = kind && streams[kind];
      if (kind && out && !out.write(stripControls(decoders[kind].write(Buffer.from(frame[kind] as string, 'base64'))))) {
        socket.pause();
        await new Promise((r) => out.once('drain', r));
        socket.resume();
      }
      if (typeof frame.exit === 'number' && Number.isInteger(frame.exit)) code = frame.exit;
    }
  } catch (err) {
    if (code === undefined) throw new ControlUnreachableError(`posture up closed the control connection: ${(err as Error).message}`);
  } finally {
    socket.destroy();
  }
  if (code === undefined) throw new ControlUnreachableError('posture up closed the control connection before the command finished (was it stopped?)');
  return code;
}
