// posture repos on both databases: add and import (exit codes without a database: repos.test.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDb } from '../db/connect.ts';
import { createPostgresDatabase, type TestDatabase } from '../db/testing.ts';
import { runCliCaptured } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-cli-'));

for (const kind of ['pglite', 'postgres'] as const) {
  describe(`posture repos [${kind}]`, () => {
    let pgDb: TestDatabase | undefined;
    let env: Record<string, string>;
    before(async () => {
      if (kind === 'postgres') {
        pgDb = await createPostgresDatabase();
        env = { DATABASE_URL: pgDb.url! };
      } else {
        env = { POSTURE_DATA_DIR: mkdtempSync(join(dir, 'data-')) };
      }
    });
    after(async () => pgDb?.drop());

    test('add: valid names are stored, invalid ones reported, exit 2 when any was rejected', async () => {
      const ok = await runCliCaptured(['repos', 'add', 'ossf/scorecard', 'https://github.com/Kubernetes/Kubernetes.git'], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /added 2, already present 0, rejected 0/);
      const mixed = await runCliCaptured(['repos', 'add', 'OSSF/scorecard', 'not-a-repo', 'gitlab.com/a/b'], env);
      assert.equal(mixed.code, 2);
      assert.match(mixed.stdout, /added 0, already present 1, rejected 2/);
      assert.match(mixed.stderr, /rejected "not-a-repo": expected owner\/repo/);
      assert.match(mixed.stderr, /rejected "gitlab.com\/a\/b": host gitlab.com is not allowed/);
    });

    test('import: Scorecard CSV with bad lines reports their numbers, imports the rest; re-import changes nothing', async () => {
      const file = join(dir, `list-${kind}.csv`);
      writeFileSync(
        file,
        'repo,metadata\r\ngithub.com/a/one,crit:0.5\r\nbad repo\r\n\r\ngithub.com/a/two,\r\nhttps://evil.example/a/b\r\ngithub.com/A/ONE,dup\r\n',
      );
      const first = await runCliCaptured(['repos', 'import', file], env);
      assert.equal(first.code, 2);
      assert.match(first.stderr, /^line 3: whitespace|line 3: contains whitespace/m);
      assert.match(first.stderr, /line 6: host evil.example is not allowed/);
      assert.match(first.stdout, /read 7 lines: 2 new, 1 already present or repeated, 2 rejected/);
      const again = await runCliCaptured(['repos', 'import', file], env);
      assert.match(again.stdout, /0 new/);
      const list = await runCliCaptured(['repos', 'list', '--json'], env);
      assert.equal(list.code, 0);
      const names = JSON.parse(list.stdout).map((r: { repo: string }) => r.repo);
      assert.deepEqual(names.sort(), ['github.com/Kubernetes/Kubernetes', 'github.com/a/one', 'github.com/a/two', 'github.com/ossf/scorecard']);
      const stdin = await runCliCaptured(['repos', 'import', '-'], env, 'x/y\nx/z\n');
      assert.equal(stdin.code, 0);
      assert.match(stdin.stdout, /2 new/);
      // On a terminal, a progress line is redrawn on stderr; bad lines still get their own line.
      const tty = await runCliCaptured(['repos', 'import', '-'], env, 'x/p\nbad line\nx/q\n', true);
      assert.equal(tty.code, 2);
      assert.match(tty.stderr, /\r\x1b\[K3 lines · 2 new · 1 rejected · [\d,]+ lines\/s\n$/);
      assert.match(tty.stderr, /\r\x1b\[Kline 2: contains whitespace/);
    });
    test('list: a repository whose newest runs failed, not by its own fault, POSTURE_STUCK_AFTER_RUNS times is stuck, with that reason; --state stuck lists only those', async () => {
      assert.equal((await runCliCaptured(['repos', 'add', 'stuck/one', 'stuck/fine'], env)).code, 0);
      const db = pgDb?.db ?? openDb({ dataDir: env.POSTURE_DATA_DIR });
      try {
        await db('repos')
          .where({ key: 'github.com/stuck/one' })
          .update({ other_failures: 3, other_error: 'infrastructure: the pod could not be scheduled', next_due_at: new Date(Date.now() + 3600_000) });
        await db('repos')
          .where({ key: 'github.com/stuck/fine' })
          .update({ other_failures: 2, next_due_at: new Date(Date.now() + 3600_000) });
      } finally {
        if (!pgDb) await db.destroy();
      }
      const stuckEnv = { ...env, POSTURE_STUCK_AFTER_RUNS: '3' };
      const list = await runCliCaptured(['repos', 'list', '--match', 'stuck/'], stuckEnv);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /github\.com\/stuck\/one\s+stuck \(3\)\s+.*infrastructure: the pod could not be scheduled/);
      assert.match(list.stdout, /github\.com\/stuck\/fine\s+waiting/);
      const only = await runCliCaptured(['repos', 'list', '--state', 'stuck', '-o', 'json'], stuckEnv);
      assert.deepEqual(
        JSON.parse(only.stdout).map((r: { repo: string; state: string }) => [r.repo, r.state]),
        [['github.com/stuck/one', 'stuck']],
      );
    });
  });
}
