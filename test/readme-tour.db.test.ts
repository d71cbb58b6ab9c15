// The README's five-minute tour, run as a newcomer would type it: every command in the tour's
// shell blocks, in order, on a fresh embedded database, beside a real `posture up`. Commands are
// read from README.md itself, so a tour step that stops working, or a new step nobody ran, fails
// here. Only what needs the outside world is adapted: the port (up listens on a free one, not
// 8080), `npm start` (up is already running; the token step restarts nothing) and the CSV file the
// import names (written first).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const root = join(import.meta.dirname, '..');
const POSTURE = join(root, 'bin', 'posture.ts');

/** The tour's shell commands, in order: every line of its ```sh blocks, comments dropped. */
export function tourCommands(readme: string): string[] {
  const start = readme.indexOf('## A five-minute tour');
  assert.ok(start >= 0, 'the README has a tour');
  const end = readme.indexOf('\n## ', start + 1);
  const tour = readme.slice(start, end < 0 ? undefined : end);
  const out: string[] = [];
  for (const block of tour.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command) out.push(command);
    }
  }
  return out;
}

function run(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, [POSTURE, ...args], { env: { ...env, PATH: '/usr/bin:/bin' }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, out })));
}

/** Splits `a 'b c' d` as a shell would (single and double quotes, no expansions). */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

describe('the README tour, step by step', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posture-tour-'));
  const env: Record<string, string> = { HOME: dir, KUBECONFIG: '', POSTURE_DATA_DIR: join(dir, 'data'), PORT: '0', POSTURE_ADMISSION_PORT: '0' };
  let up: ChildProcess | undefined;
  let upOut = '';
  let apiUrl = '';

  before(async () => {
    writeFileSync(join(dir, 'projects.csv'), 'repo,metadata\ngithub.com/ossf/scorecard-action,\n');
  });
  after(async () => {
    if (up && up.exitCode === null) {
      up.kill('SIGTERM');
      await once(up, 'exit');
    }
  });

  test('the tour extractor finds commands and drops comments (the check itself)', () => {
    const sample = '## A five-minute tour\n\n```sh\nnpm start   # all of it\n\nnpm run posture -- demo\n```\n\n## Next\n```sh\nnot this\n```\n';
    assert.deepEqual(tourCommands(sample), ['npm start', 'npm run posture -- demo']);
    assert.deepEqual(words(`curl -s 'localhost:8080/a?b=1' "x y"`), ['curl', '-s', 'localhost:8080/a?b=1', 'x y']);
  });

  test('every command of the tour runs and succeeds as the README says', async () => {
    const commands = tourCommands(readFileSync(join(root, 'README.md'), 'utf8'));
    assert.ok(commands.length >= 8, `the tour has its steps: ${commands.join(' | ')}`);
    const ran: string[] = [];
    for (const command of commands) {
      const w = words(command);
      if (/^(\w+=\S*\s+)*npm start$/.test(command)) {
        if (up) continue; // the token step restarts up with a token; nothing here needs GitHub
        up = spawn(process.execPath, [POSTURE, 'up'], { env: { ...env, PATH: '/usr/bin:/bin' }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        up.stdout!.on('data', (d) => {
          upOut += d;
        });
        up.stderr!.on('data', (d) => {
          upOut += d;
        });
        const deadline = Date.now() + 120_000;
        while (!/waiting for/.test(upOut)) {
          if (Date.now() > deadline || up.exitCode !== null) assert.fail(`npm start (posture up) did not start:\n${upOut}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        apiUrl = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\/ui/.exec(upOut)?.[1] ?? '';
        assert.ok(apiUrl, `up printed its dashboard address:\n${upOut}`);
        const ui = await fetch(`${apiUrl}/ui`);
        assert.equal(ui.status, 200, 'the dashboard the tour opens answers');
        ran.push(command);
        continue;
      }
      if (w[0] === 'npm' && w[1] === 'run' && w[2] === 'posture' && w[3] === '--') {
        const args = w.slice(4).map((a) => (a.startsWith('docs/') ? join(root, a) : a));
        const r = await run(args, env, dir);
        const expected = args.includes('--exit-code') && args[0] === 'admission' ? 4 : 0;
        assert.equal(r.code, expected, `${command} exited ${r.code}:\n${r.out}`);
        ran.push(command);
        continue;
      }
      if (w[0] === 'curl') {
        const url = w.find((a) => a.startsWith('localhost:8080') || a.startsWith('http://127.0.0.1:8080'));
        assert.ok(url, `${command}: a URL of posture's API`);
        assert.ok(apiUrl, `${command} runs while npm start runs`);
        const res = await fetch(url.replace(/^(http:\/\/127\.0\.0\.1|localhost):8080/, apiUrl));
        assert.equal(res.status, 200, `${command} answered ${res.status}`);
        const body = await res.json();
        assert.ok(body && typeof body === 'object', `${command} answers JSON`);
        ran.push(command);
        continue;
      }
      assert.fail(`the tour has a command this test does not know how to run: ${command}`);
    }
    assert.ok(
      ran.some((c) => c.includes('posture -- demo')),
      'the demo step ran',
    );
  });
});
