// The documentation holds together: every relative link in README.md and docs/**/*.md names a
// file that exists (and a heading or anchor that exists, when it names one), every file under
// docs/ is reachable from README.md by following links, and every table keeps its columns. Each
// check is shown failing on a small broken tree first, so a check that passes is one that can fail.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { anchors, brokenLinks, filesUnder, links, reachable, readTree, slug, type Tree, tableProblems } from './markdown.ts';

const root = join(import.meta.dirname, '..');
const tree = readTree(root, (p) => readFileSync(join(root, p), 'utf8'));
const pages = [...tree.keys()].filter((p) => p === 'README.md' || (p.startsWith('docs/') && p.endsWith('.md'))).sort();

const small = (files: Record<string, string | null>): Tree => new Map([['.', null], ...Object.entries(files)]);

test('the checks themselves: a missing file, a missing anchor, an unreachable page, a broken table', () => {
  const t = small({
    'README.md':
      '# Top\n\nSee [use](docs/use/README.md), [gone](docs/nope.md), [anchor](docs/use/README.md#no-such-part) and [ok](docs/use/README.md#the-cli-part).\n\n```sh\n[not a link](nowhere.md)\n```\n`[nor this](nowhere.md)`\n',
    docs: null,
    'docs/use': null,
    'docs/use/README.md': '# Use\n\n## The `CLI` part\n\n[up](../../README.md#top) [self](#use) [ext](https://example.com/x.md) [dir](../use/)\n',
    'docs/orphan.md': '# Nobody links here\n',
    'docs/table.md': '| a | b |\n| --- | --- |\n| `x|y` | z |\n| `x\\|y` | z |\n',
  });
  assert.deepEqual(brokenLinks(t, ['README.md', 'docs/use/README.md']), [
    'README.md:3: docs/nope.md names no file (docs/nope.md)',
    'README.md:3: docs/use/README.md#no-such-part: docs/use/README.md has no heading or anchor "no-such-part"',
  ]);
  const seen = reachable(t, 'README.md');
  assert.ok(seen.has('docs/use/README.md'));
  assert.ok(!seen.has('docs/orphan.md'));
  assert.deepEqual(brokenLinks(small({ 'README.md': '[out](../elsewhere.md)' }), ['README.md']), ['README.md:1: ../elsewhere.md leaves the repository']);
  assert.deepEqual(tableProblems('docs/table.md', t.get('docs/table.md') as string), [
    'docs/table.md:3: a table row has 3 cells, its header 2 (escape | as \\|)',
  ]);
});

test("anchors are GitHub's: punctuation dropped, code unwrapped, repeats numbered", () => {
  assert.equal(slug("The admission server's TLS"), 'the-admission-servers-tls');
  assert.equal(slug('Without PingSource: the CronJob overlay'), 'without-pingsource-the-cronjob-overlay');
  assert.equal(slug('1. Schedule'), '1-schedule');
  assert.equal(slug('bench/admission.ts: the `admission` server'), 'benchadmissionts-the-admission-server');
  assert.deepEqual([...anchors('# A\n## Notes\n## Notes\n<a id="x"></a>\n```\n# not a heading\n```\n')], ['a', 'notes', 'notes-1', 'x']);
  assert.deepEqual(
    links('[a](b.md "title") ![i](c.png) <a href="d.md">d</a>\n[ref]: e.md\n').map((l) => l.target),
    ['b.md', 'c.png', 'd.md', 'e.md'],
  );
});

test('every relative link in README.md and docs/ resolves, anchors included', () => {
  assert.ok(pages.length > 10, `${pages.length} pages`);
  assert.deepEqual(brokenLinks(tree, pages), []);
});

test('every file under docs/ is reachable from README.md', () => {
  const seen = reachable(tree, 'README.md');
  const files = filesUnder(tree, 'docs', root);
  assert.ok(files.some((f) => f.endsWith('.md')));
  assert.deepEqual(
    files.filter((f) => !seen.has(f)),
    [],
    'link them from a page the README reaches',
  );
});

test('every table in README.md and docs/ keeps its columns', () => {
  assert.deepEqual(
    pages.flatMap((p) => tableProblems(p, tree.get(p) as string)),
    [],
  );
});

test('README.md stays a front page: at most 200 lines', () => {
  const text = tree.get('README.md') as string;
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  assert.ok(lines <= 200, `README.md has ${lines} lines; move detail into docs/`);
});
