// The command line on both databases: the repository commands with scores, `scores show`, -o
// formats, and imports of files that are not lists that reach the database (the rest of the
// command line, with no database: cli.test.ts).

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { fixture06, storeDocument } from '../api/testing.ts';
import { type Db, migrate, openDb } from '../db/index.ts';
import { createPostgresDatabase, type TestDatabase } from '../db/testing.ts';
import { runCliCaptured, writeInput } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-cli2-'));

for (const kind of ['pglite', 'postgres'] as const) {
  describe(`repository commands [${kind}]`, () => {
    let pg: TestDatabase | undefined;
    let env: Record<string, string>;
    // The embedded database is one process's: open it only between CLI runs.
    const withDb = async <T>(f: (db: Db) => Promise<T>): Promise<T> => {
      if (pg) return f(pg.db);
      const db = openDb({ dataDir: env.POSTURE_DATA_DIR });
      try {
        await migrate(db);
        return await f(db);
      } finally {
        await db.destroy();
      }
    };
    before(async () => {
      if (kind === 'postgres') {
        pg = await createPostgresDatabase();
        await migrate(pg.db);
        env = { DATABASE_URL: pg.url! };
      } else env = { POSTURE_DATA_DIR: mkdtempSync(join(dir, 'data-')) };
    });
    after(async () => pg?.drop());

    test('list shows state, score and last failure; filters; pages with --after; -o json|yaml|wide', async () => {
      assert.equal((await runCliCaptured(['repos', 'add', 'a/one', 'a/two', 'b/three', 'b/four'], env)).code, 0);
      await withDb(async (db) => {
        await storeDocument(db, fixture06(), { finishedAt: new Date() }); // github.com/ossf/scorecard, scored (not due again yet)
        await db('repos').where({ key: 'github.com/a/two' }).update({ consecutive_failures: 2, last_error: 'pod-failed: exit 1\nsecond line' });
        await db('repos')
          .where({ key: 'github.com/b/three' })
          .update({ lease_owner: 'slot', lease_expires_at: new Date(Date.now() + 3600_000) });
      });
      const table = await runCliCaptured(['repos', 'list'], env);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trimEnd().split('\n');
      assert.match(lines[0], /^REPOSITORY\s+STATE\s+SCORE\s+NEXT DUE\s+LAST FAILURE$/);
      assert.deepEqual(
        lines.slice(1).map((l) => l.split(/\s{3,}/).slice(0, 3)),
        [
          ['github.com/a/one', 'due', '-'],
          ['github.com/a/two', 'failing (2)', '-'],
          ['github.com/b/four', 'due', '-'],
          ['github.com/b/three', 'running', '-'],
          ['github.com/ossf/scorecard', 'scored', String(fixture06().score.toFixed(1))],
        ],
      );
      assert.match(lines[2], /pod-failed: exit 1 second line$/, 'a failure is one line in a table');
      assert.equal(table.stderr, '');

      const json = JSON.parse((await runCliCaptured(['repos', 'list', '-o', 'json'], env)).stdout);
      assert.equal(json.length, 5);
      assert.deepEqual(Object.keys(json[0]), [
        'repo',
        'state',
        'score',
        'date',
        'scoredAt',
        'futureDated',
        'priority',
        'nextDueAt',
        'failures',
        'lastError',
        'notOwnFailures',
        'notOwnLastError',
        'metadata',
        'retiredReason',
      ]);
      assert.equal(json.find((r: any) => r.repo === 'github.com/a/two').lastError, 'pod-failed: exit 1\nsecond line');
      const yaml = parseYaml((await runCliCaptured(['repos', 'list', '-o', 'yaml', '--state', 'scored'], env)).stdout);
      assert.deepEqual(
        yaml.map((r: any) => [r.repo, r.score]),
        [['github.com/ossf/scorecard', fixture06().score]],
      );
      assert.match(
        (await runCliCaptured(['repos', 'list', '-o', 'wide'], env)).stdout,
        /^REPOSITORY\s+STATE\s+SCORE\s+SCORED\s+PRIORITY\s+NEXT DUE\s+METADATA\s+LAST FAILURE\n/,
      );
      assert.deepEqual(
        JSON.parse((await runCliCaptured(['repos', 'list', '-o', 'json', '--json', '--state', 'failing'], env)).stdout).map((r: any) => r.repo),
        ['github.com/a/two'],
      );
      assert.deepEqual(
        JSON.parse((await runCliCaptured(['repos', 'list', '--json', '--below', '10'], env)).stdout).map((r: any) => r.repo),
        ['github.com/ossf/scorecard'],
      );
      assert.deepEqual(
        JSON.parse((await runCliCaptured(['repos', 'list', '--json', '--match', 'B/T'], env)).stdout).map((r: any) => r.repo),
        ['github.com/b/three'],
      );
      const none = await runCliCaptured(['repos', 'list', '--match', 'zzz'], env);
      assert.equal(none.stdout, '');
      assert.equal(none.stderr, 'no repositories match\n');
      assert.equal((await runCliCaptured(['repos', 'list', '-o', 'json', '--match', 'zzz'], env)).stdout, '[]\n');

      // Paging: two at a time, the next page named on stderr, until the last.
      const seen: string[] = [];
      let args = ['repos', 'list', '--json', '--limit', '2'];
      for (let page = 0; page < 5; page++) {
        const r = await runCliCaptured(args, env);
        seen.push(...JSON.parse(r.stdout).map((x: any) => x.repo));
        const more = /more: posture (repos list --after \S+ --limit 2)/.exec(r.stderr);
        if (!more) break;
        args = [...more[1].split(' '), '--json'];
      }
      assert.deepEqual(seen, ['github.com/a/one', 'github.com/a/two', 'github.com/b/four', 'github.com/b/three', 'github.com/ossf/scorecard']);
      const bad = await runCliCaptured(['repos', 'list', '--limit', '0'], env);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--limit must be an integer from 1 to 1000000, got "0"/);
      assert.equal((await runCliCaptured(['repos', 'list', '--state', 'nope'], env)).code, 1);
    });

    test('set-priority and remove: found, not found and invalid names; history goes with the repository', async () => {
      const p = await runCliCaptured(['repos', 'set-priority', '7', 'a/one', 'z/missing', 'not a repo'], env);
      assert.equal(p.code, 2);
      assert.equal(p.stdout, 'github.com/a/one: priority 7\n');
      assert.match(p.stderr, /rejected "not a repo"/);
      assert.match(p.stderr, /not found: github.com\/z\/missing/);
      const neg = await runCliCaptured(['repos', 'set-priority', '--', '-3', 'a/two'], env);
      assert.equal(neg.code, 0, neg.stderr);
      assert.equal((await runCliCaptured(['repos', 'set-priority', 'high', 'a/two'], env)).code, 1);
      const json = JSON.parse((await runCliCaptured(['repos', 'list', '--json'], env)).stdout);
      assert.equal(json.find((r: any) => r.repo === 'github.com/a/one').priority, 7);
      assert.equal(json.find((r: any) => r.repo === 'github.com/a/two').priority, -3);

      const rm = await runCliCaptured(['repos', 'remove', 'ossf/scorecard', 'a/one', 'z/missing'], env);
      assert.equal(rm.code, 2);
      assert.equal(rm.stdout, 'removed github.com/ossf/scorecard (1 scores, 1 runs)\nremoved github.com/a/one (0 scores, 0 runs)\n');
      assert.equal(rm.stderr, 'not found: github.com/z/missing\n');
      const left = await withDb(async (db) => ({
        repos: (await db('repos').pluck('key')).sort(),
        scores: Number((await db('scores').count('* as n'))[0].n),
        checks: Number((await db('checks').count('* as n'))[0].n),
      }));
      assert.deepEqual(left, { repos: ['github.com/a/two', 'github.com/b/four', 'github.com/b/three'], scores: 0, checks: 0 });
      assert.equal((await runCliCaptured(['repos', 'remove', 'a/two'], env)).code, 0);
    });

    test("scores show: Scorecard's table, -o json in the API's shape, clear answers for unknown and unscored", async () => {
      await withDb(async (db) => void (await storeDocument(db, fixture06())));
      const r = await runCliCaptured(['scores', 'show', 'ossf/scorecard'], env);
      assert.equal(r.code, 0, r.stderr);
      const fx = fixture06();
      assert.match(r.stdout, new RegExp(`RESULTS\\n-------\\nAggregate score: ${fx.score.toFixed(1)} / 10\\n\\nCheck scores:\\n`));
      assert.match(r.stdout, /\|\s+SCORE\s+\|\s+NAME\s+\|\s+REASON\s+\|\s+DOCUMENTATION\/REMEDIATION\s+\|/);
      for (const c of fx.checks) assert.match(r.stdout, new RegExp(`\\| ${c.score < 0 ? '\\?' : `${c.score} / 10`}\\s+\\| ${c.name}\\s+\\|`));
      const rows = r.stdout.split('\n').filter((l) => l.startsWith('|'));
      assert.equal(new Set(rows.map((l) => l.length)).size, 1, 'every table line has the same width');
      const json = await runCliCaptured(['scores', 'show', 'github.com/OSSF/Scorecard', '-o', 'json'], env);
      assert.deepEqual(JSON.parse(json.stdout), fx);
      const unknown = await runCliCaptured(['scores', 'show', 'nobody/here'], env);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /github.com\/nobody\/here is not known to posture/);
      await runCliCaptured(['repos', 'add', 'b/unscored'], env);
      const unscored = await runCliCaptured(['scores', 'show', 'b/unscored'], env);
      assert.equal(unscored.code, 2);
      assert.match(unscored.stderr, /has no score yet/);
      assert.equal((await runCliCaptured(['scores', 'show', 'not a repo'], env)).code, 2);
      assert.equal((await runCliCaptured(['scores', 'show'], env)).code, 1);
    });

    test('a result dated after posture stored it: scores show notes it on stderr, repos list marks it', async () => {
      const doc = { ...fixture06(), date: '2031-01-01T00:00:00Z', repo: { ...fixture06().repo, name: 'github.com/clock/ahead' } };
      const storedAt = new Date();
      await withDb(async (db) => void (await storeDocument(db, doc, { finishedAt: storedAt })));
      const shown = await runCliCaptured(['scores', 'show', 'clock/ahead', '-o', 'json'], env);
      assert.equal(shown.code, 0, shown.stderr);
      assert.deepEqual(JSON.parse(shown.stdout), doc, "stdout keeps the score API's shape");
      assert.equal(
        shown.stderr,
        `posture: this result is dated 2031-01-01T00:00:00.000Z, after posture stored it on ${storedAt.toISOString()}: the scorecard pod's clock is ahead\n`,
      );
      const [row] = JSON.parse((await runCliCaptured(['repos', 'list', '--match', 'clock/ahead', '-o', 'json'], env)).stdout);
      assert.deepEqual([row.date, row.scoredAt, row.futureDated], ['2031-01-01T00:00:00.000Z', storedAt.toISOString(), true]);
      assert.match((await runCliCaptured(['repos', 'list', '--match', 'clock/ahead', '-o', 'wide'], env)).stdout, /2031-01-01 \(future-dated\)/);
      const right = JSON.parse((await runCliCaptured(['repos', 'list', '--match', 'ossf/scorecard', '-o', 'json'], env)).stdout)[0];
      assert.equal(right.futureDated, false);
    });
  });
}

describe('imports of files that are not repository lists', () => {
  const env = { POSTURE_DATA_DIR: join(dir, 'imports') };
  const file = (name: string, content: string | Buffer) => writeInput(dir, name, content);

  test('binary input is refused with one line and nothing is imported, from a file or stdin', async () => {
    const random = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < random.length; i++) random[i] = 1 + (((i * 2654435761) >>> 24) % 255);
    random[100] = 0;
    const bin = file('random.bin', Buffer.concat([Buffer.from('github.com/a/ok\n'), random]));
    const r = await runCliCaptured(['repos', 'import', bin], env);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `posture: "${bin}" is not a text file: a NUL byte at byte 117 (binary content); nothing was imported. Give one repository a line, or Scorecard's repo,metadata CSV\n`,
    );
    const latin1 = file('latin1.txt', Buffer.from('github.com/a/caf\xe9\n', 'latin1'));
    const l = await runCliCaptured(['repos', 'import', latin1], env);
    assert.equal(l.code, 2);
    assert.match(l.stderr, /is not a text file: bytes that are not UTF-8/);
    const s = await runCliCaptured(['repos', 'import', '-'], env, 'a/b\n\u0000\u0001');
    assert.equal(s.code, 2);
    assert.match(s.stderr, /^posture: standard input is not a text file/);
    const list = await runCliCaptured(['repos', 'list', '--json'], env);
    assert.deepEqual(JSON.parse(list.stdout), [], 'nothing was added');
  });

  test('a text file that is not a list stops after 1000 rejected lines; 100 are shown; long lines are bounded', async () => {
    const prose = file('prose.txt', Array.from({ length: 5000 }, (_, i) => `this is line ${i} of some prose`).join('\n'));
    const r = await runCliCaptured(['repos', 'import', prose], env);
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 102, 'the first 100 rejected lines, a note, and the verdict');
    assert.equal(lines[100], 'more rejected lines are counted, not shown');
    assert.match(lines[101], /is not a repository list: its first 1000 lines were all rejected; nothing was imported/);
    const long = file('long.txt', `x/long\n${'a'.repeat(5_000_000)}\nx/after\n`);
    const l = await runCliCaptured(['repos', 'import', long], env);
    assert.equal(l.code, 2);
    assert.equal(l.stderr, 'line 2: line longer than 8192 characters\n');
    assert.match(l.stdout, /read 3 lines: 2 new/);
  });
});
