// A real node whose process dies without stop() (SIGKILL) leaves containerd's shims, a running
// container, mounts, iptables rules and the bridge behind; the next start on the machine puts it
// back from the record the dead one wrote (recoverDeadNode). One node start in this file: the
// child's, which is killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startControlPlane } from '../cluster/harness.ts';
import { BRIDGE, machineSnapshot, NODE_LOCK, NODE_RECORD, nodeProcesses, recoverDeadNode, snapshotDiff } from '../cluster/node.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'crash-node.ts');

test('after the process holding a real node is SIGKILLed, recoverDeadNode removes its processes, mounts, iptables rules, bridge and lock, and restores ip_forward', async (t) => {
  const before = machineSnapshot();
  const cp = await startControlPlane();
  t.after(() => cp.stop());
  const ns = await cp.createNamespace('crash');
  const child = spawn(process.execPath, [FIXTURE, cp.stateDir, ns], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const { dir } = await new Promise<{ dir: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    child.once('exit', (code) => reject(new Error(`crash-node.ts exited (${code}) before its pod ran`)));
  });
  child.kill('SIGKILL');
  await exited;

  // what a dead node leaves: not nothing, or the recovery below proves nothing
  const left = snapshotDiff(before, machineSnapshot());
  assert.ok(left.includes(`link added: ${BRIDGE}`), left.join('\n'));
  assert.ok(
    left.some((l) => l.startsWith('mount added: ')),
    left.join('\n'),
  );
  assert.ok(
    left.some((l) => l.startsWith('ip nat') || l.startsWith('nft added: table ip nat')),
    left.join('\n'),
  );
  assert.ok(left.includes('sysctl net/ipv4/ip_forward: 0 -> 1') || before.sysctls['net/ipv4/ip_forward'] === '1', left.join('\n'));
  assert.ok(nodeProcesses(dir).length > 0, 'the shim and the container outlive their node process');
  assert.ok(existsSync(NODE_LOCK) && existsSync(NODE_RECORD));

  const started = Date.now();
  assert.equal(recoverDeadNode(), true);
  process.stderr.write(`recovered in ${Date.now() - started} ms\n`);
  assert.deepEqual(snapshotDiff(before, machineSnapshot()), []);
  assert.deepEqual(nodeProcesses(dir), []);
  assert.equal(existsSync(NODE_LOCK) || existsSync(NODE_RECORD), false);
  assert.equal(recoverDeadNode(), false, 'nothing left to recover');
});
