// The harness itself: CRI log encoding, sharing one plane between processes, and cleaning up
// after a crashed test process or a killed supervisor.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HERE, isAlive, nodeBinary, sleep } from './config.ts';
import { getSharedControlPlane, toCriLog } from './harness.ts';

const fixture = path.join(HERE, 'fixtures', 'hold-plane.ts');

test('toCriLog writes CRI lines; a last line without newline is partial', () => {
  const t = Date.parse('2026-01-02T03:04:05.678Z');
  assert.equal(
    toCriLog('a\n\nb', t),
    '2026-01-02T03:04:05.678000000Z stdout F a\n2026-01-02T03:04:05.678000001Z stdout F \n2026-01-02T03:04:05.678000002Z stdout P b\n',
  );
  assert.equal(toCriLog('', t), '');
  assert.equal(toCriLog([{ stream: 'stderr', text: 'x\n' }], t), '2026-01-02T03:04:05.678000000Z stderr F x\n');
});

interface Printed {
  server: string;
  started: boolean;
  stateDir: string;
  supervisorPid: number;
  components: Record<string, { pid: number }>;
}

function runFixture(args: string[]): Promise<{ child: ReturnType<typeof spawn>; printed: Printed }> {
  const child = spawn(nodeBinary(), [fixture, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, printed: JSON.parse(out.slice(0, nl)) as Printed });
    });
    child.on('exit', (code) => reject(new Error(`fixture exited with ${code} before printing`)));
  });
}

async function waitAllDead(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
  return pids.filter(isAlive);
}

test('another process attaches to the same shared plane instead of starting one', async () => {
  const cp = await getSharedControlPlane();
  const { child, printed } = await runFixture(['shared', 'exit']);
  await new Promise((r) => child.on('exit', r));
  assert.equal(printed.server, cp.server);
  assert.equal(printed.started, false);
  assert.equal(printed.supervisorPid, cp.state.supervisorPid);
  assert.ok(isAlive(cp.state.supervisorPid), 'the shared plane outlives the attached process');
  await cp.stop();
});

test('a private plane stops when its test process is SIGKILLed', async () => {
  const { child, printed } = await runFixture([]);
  const pids = [printed.supervisorPid, ...Object.values(printed.components).map((c) => c.pid)];
  assert.equal(pids.length, 6);
  assert.ok(pids.every(isAlive), 'all running');
  child.kill('SIGKILL');
  assert.deepEqual(await waitAllDead(pids, 30000), [], 'supervisor and all components gone');
  assert.ok(existsSync(path.join(printed.stateDir, 'logs', 'kube-apiserver.log')), 'logs are kept for diagnosis');
  rmSync(printed.stateDir, { recursive: true, force: true });
});

test('components die with a SIGKILLed supervisor (parent-death signal)', async () => {
  const { child, printed } = await runFixture([]);
  const pids = Object.values(printed.components).map((c) => c.pid);
  process.kill(printed.supervisorPid, 'SIGKILL');
  assert.deepEqual(await waitAllDead(pids, 10000), [], 'all components gone');
  child.kill('SIGKILL');
  rmSync(printed.stateDir, { recursive: true, force: true });
});
