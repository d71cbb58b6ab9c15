// Forwarding to `posture up` (issue 40, finding 9): the CLI sends argv, the working folder and
// stdin only to a control socket the caller's own `posture up` made, and what comes back cannot
// drive the terminal. A planted lock naming a live pid (pid 1) and a fake server beside it, in a
// folder someone else owns or can write, get nothing.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lockDataDir } from '../db/lock.ts';
import { CONTROL_SOCKET, type ControlRequest, startControlServer, UP_HOLDER } from '../up/control.ts';
import { untrustedControl } from './forward.ts';
import { runCliCaptured } from './testing.ts';

const NOBODY = 65534;
const root = process.getuid?.() === 0;

/** A data folder with a lock naming pid 1 as `posture up`, and a fake server on its control socket that records what it gets. */
async function planted(setup: (dir: string) => void = () => {}) {
  const cwd = mkdtempSync(join(tmpdir(), 'posture-forward-'));
  const dir = join(cwd, '.posture');
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, 'db.lock'), JSON.stringify({ pid: 1, holder: UP_HOLDER }));
  const got: ControlRequest[] = [];
  const server = await startControlServer(join(dir, CONTROL_SOCKET), async (request, io) => {
    got.push(request);
    io.stdout.write('\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[0m\r\nline\ttab\n\u009b31m\x00done\n');
    return 0;
  });
  setup(dir);
  return {
    dir,
    got,
    run: () => runCliCaptured(['repos', 'list'], { POSTURE_DATA_DIR: dir }),
    close: async () => {
      await server.close();
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

test("the caller's own posture up gets the command, and its output reaches the terminal without control characters", async () => {
  const p = await planted();
  try {
    const r = await p.run();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      p.got.map((g) => g.argv),
      [['repos', 'list']],
    );
    assert.equal(r.stdout, ']0;owned[2J[31mred[0m\nline\ttab\n31mdone\n');
    assert.doesNotMatch(r.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  } finally {
    await p.close();
  }
});

const refusals: Array<{ name: string; needsRoot: boolean; setup: (dir: string) => void; why: RegExp }> = [
  { name: 'a data folder others can write', needsRoot: false, setup: (dir) => chmodSync(dir, 0o777), why: /writable by others/ },
  { name: 'a data folder group-writable', needsRoot: false, setup: (dir) => chmodSync(dir, 0o770), why: /writable by others/ },
  {
    name: 'everything planted by another user',
    needsRoot: true,
    setup: (dir) => {
      for (const f of [join(dir, 'db.lock'), join(dir, CONTROL_SOCKET), dir]) chownSync(f, NOBODY, NOBODY);
    },
    why: /belongs to uid 65534/,
  },
  { name: 'a lock of another user', needsRoot: true, setup: (dir) => chownSync(join(dir, 'db.lock'), NOBODY, NOBODY), why: /its lock belongs to uid 65534/ },
  {
    name: 'a socket of another user',
    needsRoot: true,
    setup: (dir) => chownSync(join(dir, CONTROL_SOCKET), NOBODY, NOBODY),
    why: /control.sock belongs to uid 65534/,
  },
];

for (const c of refusals) {
  test(`not forwarded, and not run: ${c.name}`, { skip: c.needsRoot && !root ? 'needs root to give files to another user' : false }, async () => {
    const p = await planted(c.setup);
    try {
      const r = await p.run();
      assert.equal(p.got.length, 0, 'the fake server got the command');
      assert.equal(r.code, 3);
      assert.match(r.stderr, /not forwarding to the control socket/);
      assert.match(r.stderr, c.why);
      assert.equal(r.stdout, '');
    } finally {
      await p.close();
    }
  });
}

test('untrustedControl: ownership as another uid sees it, a symlinked lock, a missing socket', async () => {
  const p = await planted();
  try {
    const sock = join(p.dir, CONTROL_SOCKET);
    assert.equal(untrustedControl(p.dir, sock), undefined);
    assert.match(String(untrustedControl(p.dir, sock, (process.getuid?.() ?? 0) + 1)), /belongs to uid/);
    assert.match(String(untrustedControl(p.dir, join(p.dir, 'nope.sock'))), /cannot check it \(ENOENT\)/);
    assert.match(String(untrustedControl(p.dir, join(p.dir, 'db.lock'))), /is not a socket/);
    // A lock that is a link (to a file the caller owns, say) is not one posture up wrote.
    const lock = join(p.dir, 'db.lock');
    rmSync(lock);
    symlinkSync(join(p.dir, '..'), lock);
    assert.match(String(untrustedControl(p.dir, sock)), /its lock is not a regular file/);
  } finally {
    await p.close();
  }
});

test('the data folder is created for its owner only', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'posture-forward-'));
  const previous = process.umask(0o002);
  try {
    const release = lockDataDir(join(cwd, '.posture'), 'test');
    release();
    assert.equal(statSync(join(cwd, '.posture')).mode & 0o777, 0o700);
  } finally {
    process.umask(previous);
    rmSync(cwd, { recursive: true, force: true });
  }
});
