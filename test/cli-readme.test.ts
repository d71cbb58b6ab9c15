// The documentation's promises about the command line, in README.md and every page of docs/
// (docs/use/ above all): the command table names exactly the commands that exist, each `posture`
// command shown in a shell block or in inline code is a real command with valid options, the
// offline example of the tour really denies, and the Node version the README asks for agrees with
// package.json's engines and with every runtime dependency's (so `npm install` on that Node prints
// no EBADENGINE warning); bin/posture.ts is executable as committed (npm install would otherwise
// chmod it and git would show a mode change). Each check is first shown failing on a bad input.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allCommands, findCommand, parseCommandArgs } from '../lib/cli/main.ts';
import { runCliCaptured } from '../lib/cli/testing.ts';
import { inlineCode, readTree, splitFences, tables } from './markdown.ts';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const tree = readTree(root, (p) => readFileSync(join(root, p), 'utf8'));
/** README.md and every page of docs/, docs/use/ among them. */
const pages = new Map(
  [...tree].filter((e): e is [string, string] => (e[0] === 'README.md' || (e[0].startsWith('docs/') && e[0].endsWith('.md'))) && typeof e[1] === 'string'),
);

const version = (v: string) => v.replace(/^v/, '').split('.').map(Number) as [number, number, number];
const atLeast = (a: number[], b: number[]) => (a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? (a[1] ?? 0) > (b[1] ?? 0) : (a[2] ?? 0) >= (b[2] ?? 0));

const SHELL = new Set(['sh', 'shell', 'bash', 'console', 'zsh']);
/** Usage syntax rather than a command someone would type: placeholders, alternatives, optional parts. */
const METASYNTAX = /[<>[\]{}…|]/;

/** Splits a command line into words, honouring quotes; stops at an unquoted comment. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(#.*$)|(\S+)/g)) {
    if (m[3] !== undefined) break;
    out.push(m[1] ?? m[2] ?? m[4]);
  }
  return out;
}

/** The `posture` argv of every command a page shows: `npm run posture -- …` anywhere, `posture …` in shell blocks and in inline code. */
export function commandsOf(md: string): Array<{ argv: string[]; line: number; text: string }> {
  const { prose, blocks } = splitFences(md);
  const out: Array<{ argv: string[]; line: number; text: string }> = [];
  const take = (text: string, line: number) => {
    const npm = /npm run posture -- (.*)$/.exec(text);
    const bare = /^(?:\$\s+)?posture\s+(.*)$/.exec(text.trim());
    const rest = npm?.[1] ?? bare?.[1];
    if (rest === undefined || METASYNTAX.test(rest.replace(/#.*$/, ''))) return;
    out.push({ argv: words(rest), line, text: text.trim() });
  };
  for (const b of blocks) {
    if (SHELL.has(b.lang)) for (const [i, l] of b.lines.entries()) take(l, b.line + 1 + i);
  }
  for (const { code, line } of inlineCode(prose)) take(code, line);
  return out;
}

/** Why an argv is not a command `posture` would run as written, or null when it is. */
export function commandProblem(argv: string[]): string | null {
  if (argv.length === 0) return 'no command';
  if (argv.length === 1 && ['--version', '-V', 'version', 'help', '--help', '-h'].includes(argv[0])) return null;
  const groups = new Set(allCommands.filter((c) => c.words.length > 1).map((c) => c.words[0]));
  if (groups.has(argv[0]) && argv.slice(1).every((a) => a === '--help' || a === '-h') && argv.length > 1) return null;
  const found = findCommand(argv);
  if (!found) return `no command ${JSON.stringify(argv.slice(0, 2).join(' '))}`;
  try {
    parseCommandArgs(found.command, found.args);
  } catch (err) {
    return (err as Error).message;
  }
  if (!found.command.options) {
    // Commands that parse their own flags: every flag used must be one their usage line names.
    const end = found.args.indexOf('--');
    for (const a of end < 0 ? found.args : found.args.slice(0, end)) {
      const flag = /^(--?[A-Za-z][\w-]*)(?:=.*)?$/.exec(a)?.[1];
      if (flag && flag !== '--help' && flag !== '-h' && !new RegExp(`(^|[\\s[|])${flag}(?=[\\s\\]|=]|$)`).test(found.command.usage)) {
        return `${flag} is not an option of posture ${found.command.words.join(' ')} (usage: ${found.command.usage})`;
      }
    }
  }
  return null;
}

/** Problems of a command table (rows `| \`posture …\` | …`): commands it names that do not exist, commands it lacks. */
export function commandTableProblems(rows: string[]): string[] {
  const problems: string[] = [];
  const listed = new Set<string>();
  for (const row of rows) {
    const ws = row.split(' ').filter((w) => /^[a-z-]+(\|[a-z-]+)*$/.test(w));
    const [group, sub] = ws;
    for (const s of (sub ?? '').split('|')) {
      const argv = s ? [group, s] : [group];
      const found = findCommand(argv);
      if (found && found.command.words.join(' ') === argv.join(' ')) listed.add(argv.join(' '));
      else if (!found) problems.push(`the table lists posture ${argv.join(' ')}, which does not exist`);
    }
  }
  for (const c of allCommands) if (!listed.has(c.words.join(' '))) problems.push(`posture ${c.words.join(' ')} is missing from the table`);
  return problems;
}

/** Every command table of the given pages: tables whose first column is "Command" and whose rows are `posture …`. */
function commandTables(of: Map<string, string>) {
  const found: Array<{ page: string; rows: string[] }> = [];
  for (const [page, md] of of) {
    for (const t of tables(md)) {
      const rows = t.rows.map((r) => /^`posture ([^`]+)`$/.exec(r[0])?.[1]).filter((r): r is string => r !== undefined);
      if (t.header[0] === 'Command' && rows.length > 0) found.push({ page, rows: rows.map((r) => r.replace(/\\\|/g, '|')) });
    }
  }
  return found;
}

test('the checks themselves: a bad command, a bad option, a table with a command too many or too few', () => {
  const md = [
    '```sh',
    'npm run posture -- repos lst',
    'npm run posture -- repos list --bogus       # a comment',
    'posture db prune --kep 3',
    'npm run posture -- repos add o/r "a b"',
    '```',
    'Inline: `posture scores show o/r --commit`, `posture jobs render <repo>` (usage, skipped), `npm run posture -- --version`.',
    '```text',
    'posture: this is output, not a command',
    '```',
  ].join('\n');
  const found = commandsOf(md).map((c) => ({ text: c.text, problem: commandProblem(c.argv) }));
  assert.deepEqual(
    found.map((f) => f.text),
    [
      'npm run posture -- repos lst',
      'npm run posture -- repos list --bogus       # a comment',
      'posture db prune --kep 3',
      'npm run posture -- repos add o/r "a b"',
      'posture scores show o/r --commit',
      'npm run posture -- --version',
    ],
  );
  assert.match(found[0].problem ?? '', /no command "repos lst"/);
  assert.match(found[1].problem ?? '', /unknown option '--bogus'/);
  assert.match(found[2].problem ?? '', /--kep is not an option of posture db prune/);
  assert.equal(found[3].problem, null);
  assert.match(found[4].problem ?? '', /--commit/);
  assert.equal(found[5].problem, null);
  assert.equal(commandProblem(['repos', '--help']), null);
  assert.equal(commandProblem(['db', 'prune', '--keep', '3']), null);

  const complete = allCommands.map((c) => c.words.join(' '));
  assert.deepEqual(commandTableProblems(complete), []);
  assert.deepEqual(commandTableProblems([...complete.filter((c) => c !== 'demo'), 'repos frobnicate <x>']), [
    'the table lists posture repos frobnicate, which does not exist',
    'posture demo is missing from the table',
  ]);
});

test('the README asks for the Node version engines says, and every runtime dependency accepts it', () => {
  const m = /On a fresh clone \(Node (\d+(?:\.\d+){0,2}) or newer with npm 11/.exec(readme);
  assert.ok(m, 'the README names the Node version for npm install');
  const readmeMin = version(m[1]);
  const engines = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(pkg.engines.node);
  assert.ok(engines, `engines.node is a minimum: ${pkg.engines.node}`);
  assert.deepEqual(version(engines[1]).slice(0, m[1].split('.').length), readmeMin, 'README and engines name the same minimum');
  assert.equal(lock.packages[''].engines.node, pkg.engines.node, 'package-lock agrees');
  for (const [name, entry] of Object.entries<any>(lock.packages)) {
    if (name === '' || entry.dev || !entry.engines?.node) continue;
    for (const part of String(entry.engines.node)
      .split(/\s*\|\|\s*/)[0]
      .split(/\s+(?=[<>^~])/)) {
      const min = /^(?:>=|\^|~)\s*v?(\d+(?:\.\d+){0,2})/.exec(part.trim());
      if (min) assert.ok(atLeast(readmeMin, version(min[1])), `${name} needs node ${entry.engines.node}; the README allows ${m[1]}`);
    }
  }
  assert.ok(pkg.devDependencies.node.startsWith('^24'), 'npm scripts run on Node 24');
});

test('bin/posture.ts is executable, as npm install would make it', () => {
  assert.ok(statSync(join(root, pkg.bin.posture)).mode & 0o100, 'committed with the executable bit');
});

test('one command table, in docs/use/, lists exactly the commands there are', () => {
  const found = commandTables(pages);
  assert.deepEqual(
    found.map((f) => f.page),
    ['docs/use/cli.md'],
    'exactly one command table, in docs/use/cli.md',
  );
  assert.deepEqual(commandTableProblems(found[0].rows), []);
});

test('every posture command in README.md and docs/ is a real command with valid options', () => {
  const problems: string[] = [];
  const count = new Map<string, number>();
  for (const [page, md] of pages) {
    for (const c of commandsOf(md)) {
      count.set(page, (count.get(page) ?? 0) + 1);
      const p = commandProblem(c.argv);
      if (p) problems.push(`${page}:${c.line}: ${c.text}: ${p}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok((count.get('README.md') ?? 0) >= 5, `README.md shows ${count.get('README.md') ?? 0} commands`);
  for (const page of pages.keys()) {
    if (page.startsWith('docs/use/') && ['cli.md', 'local.md', 'admission.md', 'dashboard.md'].some((p) => page.endsWith(p))) {
      assert.ok((count.get(page) ?? 0) > 0, `${page} shows no command the test could check`);
    }
  }
});

test("the tour's offline admission review denies, as the README says", async () => {
  const argv = commandsOf(readme).find((c) => c.argv[0] === 'admission')?.argv;
  assert.ok(argv, 'the README shows an admission review');
  const abs = argv.map((a) => (a.startsWith('docs/') ? join(root, a) : a));
  const r = await runCliCaptured(abs, {});
  assert.equal(r.code, 4, r.stderr);
  assert.match(JSON.parse(r.stdout).response.status.message, /scores 4 on OpenSSF Scorecard .* below the minimum of 5/);
});
