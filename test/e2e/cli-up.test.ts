// The command line beside a running `posture up`, as real processes: on the embedded database
// every database command goes through up's control socket (mode 0600, only this user) and
// answers exactly as it would alone; on PostgreSQL the CLI connects directly.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPostgresDatabase, type TestDatabase } from '../../lib/db/testing.ts';

const POSTURE = join(import.meta.dirname, '..', '..', 'bin', 'posture.ts');

function posture(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [POSTURE, ...args], { env: { ...env, PATH: '/usr/bin:/bin' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

async function startUp(env: Record<string, string>): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [POSTURE, 'up'], {
    env: { ...env, PATH: '/usr/bin:/bin', PORT: '0', POSTURE_ADMISSION_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 120_000;
  while (!/waiting for/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`posture up did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, out: () => out };
}

async function stop(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  return code as number | null;
}

for (const kind of ['pglite', 'postgres'] as const) {
  describe(`the CLI beside a running posture up [${kind}]`, () => {
    let up: { child: ChildProcess; out: () => string } | undefined;
    let pg: TestDatabase | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'posture-cli-up-'));
    const env: Record<string, string> = { HOME: dir, KUBECONFIG: '', POSTURE_DATA_DIR: join(dir, 'data') };
    before(async () => {
      if (kind === 'postgres') {
        pg = await createPostgresDatabase();
        env.DATABASE_URL = pg.url!;
      }
      up = await startUp(env);
    });
    after(async () => {
      await stop(up?.child);
      await pg?.drop();
    });

    test('add, import (file and stdin), list, set-priority, remove and scores show work while up runs', async () => {
      const out = up!.out();
      assert.match(out, /No cluster answered \(no KUBECONFIG and no ~\/\.kube\/config\)/);
      if (kind === 'pglite') {
        assert.match(out, /repos add <owner\/repo> \(it goes through this process\)/);
        assert.equal(statSync(join(env.POSTURE_DATA_DIR, 'control.sock')).mode & 0o777, 0o600, 'only this user may connect');
      }
      const add = await posture(['repos', 'add', 'ossf/scorecard', 'not a repo'], env);
      assert.deepEqual([add.code, add.stdout], [2, 'added 1, already present 0, rejected 1\n']);
      assert.match(add.stderr, /rejected "not a repo"/);
      // On PostgreSQL the CLI connects directly (add above, list below); the embedded database's
      // path through up is exercised in full.
      if (kind === 'pglite') {
        const file = join(dir, 'list.csv');
        writeFileSync(file, 'repo,metadata\ngithub.com/a/one,x\nbad line\n');
        // A relative name is read from the caller's folder, not up's.
        const imported = spawn(process.execPath, [POSTURE, 'repos', 'import', 'list.csv'], { cwd: dir, env: { ...env, PATH: '/usr/bin:/bin' } });
        let iout = '';
        imported.stdout.on('data', (d) => (iout += d));
        const [icode] = await once(imported, 'exit');
        assert.equal(icode, 2);
        assert.match(iout, /read 3 lines: 1 new, 0 already present or repeated, 1 rejected/);
        const stdin = await posture(['repos', 'import', '-'], env, 'a/two\na/three\n');
        assert.deepEqual([stdin.code, stdin.stdout], [0, 'read 2 lines: 2 new, 0 already present or repeated, 0 rejected\n']);
        const bin = await posture(['repos', 'import', '-'], env, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]).toString('latin1'));
        assert.equal(bin.code, 2);
        assert.match(bin.stderr, /standard input is not a text file/);
      } else {
        assert.equal((await posture(['repos', 'add', 'a/one', 'a/two', 'a/three'], env)).code, 0);
      }
      const prio = await posture(['repos', 'set-priority', '5', 'a/two'], env);
      assert.deepEqual([prio.code, prio.stdout], [0, 'github.com/a/two: priority 5\n']);
      const rm = await posture(['repos', 'remove', 'a/three'], env);
      assert.deepEqual([rm.code, rm.stdout], [0, 'removed github.com/a/three (0 scores, 0 runs)\n']);
      const list = await posture(['repos', 'list', '-o', 'json'], env);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        JSON.parse(list.stdout).map((r: any) => [r.repo, r.priority]),
        [
          ['github.com/a/one', 0],
          ['github.com/a/two', 5],
          ['github.com/ossf/scorecard', 0],
        ],
      );
      const show = await posture(['scores', 'show', 'a/two'], env);
      assert.equal(show.code, 2);
      assert.match(show.stderr, /github.com\/a\/two has no score yet/);
      if (kind === 'pglite') {
        // A command that opens the database from its env (db migrate) gets up's too.
        const migrate = await posture(['db', 'migrate'], env);
        assert.deepEqual([migrate.code, migrate.stdout], [0, 'database is up to date\n']);
        // Commands that need no database do not go through up; `up` itself is refused a second time.
        assert.equal((await posture(['jobs', 'render', 'a/two'], env)).code, 0);
        const second = await posture(['up'], { ...env, PORT: '0', POSTURE_ADMISSION_PORT: '0' });
        assert.equal(second.code, 3);
        assert.match(second.stderr, /in use by posture up \(pid \d+\)/);
      }
      assert.equal(up!.child.exitCode, null, 'up still runs');
    });

    test('up stops cleanly on SIGTERM and the CLI then opens the database itself', async () => {
      assert.equal(await stop(up!.child), 0);
      const list = await posture(['repos', 'list', '--match', 'a/'], env);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /github\.com\/a\/one[\s\S]*github\.com\/a\/two/);
    });
  });
}
