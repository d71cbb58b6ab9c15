// The README's promises about the command line: its command table names exactly the commands
// that exist, each example runs a real command, and the Node version it asks for agrees with
// package.json's engines and with every runtime dependency's (so `npm install` on that Node
// prints no EBADENGINE warning); bin/posture.ts is executable as committed (npm install would
// otherwise chmod it and git would show a mode change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { allCommands, findCommand, parseCommandArgs } from '../lib/cli/main.ts';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

const version = (v: string) => v.replace(/^v/, '').split('.').map(Number) as [number, number, number];
const atLeast = (a: number[], b: number[]) => a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? (a[1] ?? 0) > (b[1] ?? 0) : (a[2] ?? 0) >= (b[2] ?? 0);

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
    for (const part of String(entry.engines.node).split(/\s*\|\|\s*/)[0].split(/\s+(?=[<>^~])/)) {
      const min = /^(?:>=|\^|~)\s*v?(\d+(?:\.\d+){0,2})/.exec(part.trim());
      if (min) assert.ok(atLeast(readmeMin, version(min[1])), `${name} needs node ${entry.engines.node}; the README allows ${m[1]}`);
    }
  }
  assert.ok(pkg.devDependencies.node.startsWith('^24'), 'npm scripts run on Node 24');
});

test('bin/posture.ts is executable, as npm install would make it', () => {
  assert.ok(statSync(join(root, pkg.bin.posture)).mode & 0o100, 'committed with the executable bit');
});

test('the README command table lists exactly the commands there are', () => {
  const section = readme.slice(readme.indexOf('## The command line'), readme.indexOf('## Score API'));
  const rows = [...section.matchAll(/^\| `posture ([^`]+)` \|/gm)].map((r) => r[1].replace(/\\\|/g, '|'));
  const listed = new Set<string>();
  for (const row of rows) {
    const words = row.split(' ').filter((w) => /^[a-z-]+(\|[a-z-]+)*$/.test(w));
    const [group, sub] = words;
    for (const s of (sub ?? '').split('|')) {
      const argv = s ? [group, s] : [group];
      const found = findCommand(argv);
      if (found && found.command.words.join(' ') === argv.join(' ')) listed.add(argv.join(' '));
      else if (!found) assert.fail(`README lists posture ${argv.join(' ')}, which does not exist`);
    }
  }
  for (const c of allCommands) assert.ok(listed.has(c.words.join(' ')), `posture ${c.words.join(' ')} is missing from the README's table`);
});

test('every `npm run posture -- …` example in the README is a real command with valid options', () => {
  const examples = [...readme.matchAll(/npm run posture -- ([^\n#]+)/g)].map((m) => m[1].trim().replace(/`.*$/, '').trim());
  assert.ok(examples.length >= 8, `${examples.length} examples`);
  for (const e of examples) {
    const argv = e.split(/\s+/).filter((w) => w !== '');
    if (argv.includes('<command>')) continue;
    const found = findCommand(argv);
    assert.ok(found, `no command for: ${e}`);
    assert.doesNotThrow(() => parseCommandArgs(found.command, found.args), e);
  }
});
