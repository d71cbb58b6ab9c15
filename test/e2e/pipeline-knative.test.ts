// The pipeline once with Knative's own data plane in place of the stand-in relay: the
// ApiServerSource receive adapter and the PingSource adapter (mtping), built from
// knative.dev/eventing by test/cluster/build-tools.sh, run as processes against the local control
// plane with the settings of knative/base (rendered by real kustomize), sending to the scheduler
// and the harvester served by bin/serve.ts. What they really send must be handled:
//  - ApiServerSource (Resource mode): types, extensions (kind, apiversion, name, namespace),
//    subject, the whole Job as data; nothing for Jobs that existed before it started;
//  - PingSource: its type and source, `ce-time` stamped at send time a moment after the minute,
//    which the scheduler turns into that minute's tick;
//  - the tick's reconcile closes the gaps the adapter leaves (Jobs that finished unseen).
// Not run here: Knative's controllers (the sources' status, which the controllers would write,
// is written by the test) and the Broker (its Trigger's `exact` filter is applied by the
// recording hop between the adapter and the harvester, read from the rendered Trigger).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { addRepos, type Db, latestScore, migrate, runByJobName } from '../../lib/db/index.ts';
import { createPostgresDatabase } from '../../lib/db/testing.ts';
import { cronSlot } from '../../lib/events/ping.ts';
import { jobName } from '../../lib/jobs/spec.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { freePort } from '../cluster/config.ts';
import { apiServerSourceAdapterBin, KNATIVE_EVENTING_VERSION, pingSourceAdapterBin } from '../cluster/tools.ts';
import { FIXTURES, fixturePath } from '../fixtures/scorecard.ts';
import { type KubeObject, renderKustomization } from './deploy-kit.ts';
import { useControlPlane } from './plane.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const base = renderKustomization(join(ROOT, 'knative', 'base'));
const find = (kind: string, name: string): any => {
  const o = base.find((x: KubeObject) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} not in the render`);
  return o;
};
const FIXTURE = JSON.parse(readFileSync(fixturePath(FIXTURES.cliShowDetails), 'utf8'));
const DUE = new Date('2026-01-01T00:00:00Z');
const plane = useControlPlane();
const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;

interface Recorded {
  at: Date;
  headers: Record<string, string>;
  body: string;
  forwarded: boolean;
  status: number;
}

/**
 * One HTTP hop that records every request and forwards those `pass` accepts to `target`,
 * answering with the target's answer (or 202, as a Broker accepts what no Trigger wants).
 */
async function recordingHop(target: string, pass: (h: Record<string, string>) => boolean): Promise<{ url: string; seen: Recorded[]; server: Server }> {
  const seen: Recorded[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const r: Recorded = { at: new Date(), headers, body, forwarded: pass(headers), status: 202 };
    seen.push(r);
    if (!r.forwarded) return void res.writeHead(202).end();
    const fwd: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (k.startsWith('ce-') || k === 'content-type') fwd[k] = v;
    try {
      const answer = await fetch(target, { method: 'POST', headers: fwd, body });
      r.status = answer.status;
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' }).end(await answer.text());
    } catch (err) {
      r.status = 502;
      res.writeHead(502).end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, seen, server };
}

function startProcess(cmd: string, args: string[], env: Record<string, string>, logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  plane.cleanup(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => {
        child.once('exit', r);
        setTimeout(r, 5000);
      });
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  return child;
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 90000, logs: string[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) {
      const tails = logs.map((l) => `--- ${l}\n${readFileSync(l, 'utf8').split('\n').slice(-15).join('\n')}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function harvested(db: Db): Promise<number> {
  const r = await db('runs').whereNot({ outcome: 'pending' }).count('* as n').first();
  return Number((r as { n: number }).n);
}

test(`Knative Eventing ${KNATIVE_EVENTING_VERSION}'s ApiServerSource and PingSource adapters drive the pipeline served by bin/serve.ts`, {
  timeout: 300_000,
}, async () => {
  const cp = plane.cp;
  await cp.installKnativeCrds();
  const ns = await cp.createNamespace('kn');
  const systemNs = await cp.createNamespace('kn-system');
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  const custom = cp.kc.makeApiClient(k8s.CustomObjectsApi);
  plane.cleanup(() => core.deleteNamespace({ name: ns }));
  plane.cleanup(() => core.deleteNamespace({ name: systemNs }));
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'posture-github-tokens' }, stringData: { GITHUB_AUTH_TOKEN: 'not-a-real-token' } },
  });
  // What Knative's install puts in its system namespace and the adapters read at start.
  for (const name of ['config-logging', 'config-observability', 'config-tracing']) {
    await core.createNamespacedConfigMap({ namespace: systemNs, body: { metadata: { name }, data: {} } });
  }
  const logs = mkdtempSync(join(tmpdir(), 'posture-knative-'));
  const logOf = (n: string) => join(logs, `${n}.log`);

  // The scheduler and the harvester, as each Knative Service's container runs them.
  const database = await createPostgresDatabase();
  plane.cleanup(() => database.drop());
  await migrate(database.db);
  const db = database.db;
  const fnEnv = {
    DATABASE_URL: database.url!,
    KUBECONFIG: cp.kubeconfigPath,
    POSTURE_NAMESPACE: ns,
    POSTURE_JITTER_SECONDS: '0',
    POSTURE_GITHUB_TOKEN_COUNT: '0',
    POSTURE_MAX_CONCURRENT_JOBS: '100',
    // One repository per Job: each Job's pod log is scripted by its repository's Job name.
    POSTURE_SHARD_SIZE: '1',
    POSTURE_LOG_LEVEL: 'debug',
    HOST: '127.0.0.1',
  };
  const node = process.execPath;
  const urls: Record<string, string> = {};
  for (const fn of ['scheduler', 'harvester']) {
    const port = await freePort();
    startProcess(node, [join(ROOT, 'bin', 'serve.ts'), fn], { ...fnEnv, PORT: String(port) }, logOf(fn));
    urls[fn] = `http://127.0.0.1:${port}/`;
    await waitFor(`${fn} ready`, async () => (await fetch(`${urls[fn]}readyz`).catch(() => undefined))?.ok, 60000, [logOf(fn)]);
  }

  // Jobs that exist before the ApiServerSource adapter starts: scheduled by a first tick, finished
  // unseen. Knative's adapter sends nothing for them (its informer store ignores the initial list).
  const early = ['github.com/posture-kn/early-0', 'github.com/posture-kn/early-1'].map(repo);
  const late = ['github.com/posture-kn/late-0', 'github.com/posture-kn/late-1', 'github.com/posture-kn/late-2'].map(repo);
  const podLog = (r: RepoId) =>
    `2026/01/01 00:00:01 Starting [Binary-Artifacts]\n${JSON.stringify({ ...FIXTURE, repo: { ...FIXTURE.repo, name: r.canonical } })}\n`;
  for (const r of [...early, ...late]) cp.setPodLog({ namespace: ns, jobName: jobName(r, DUE), content: podLog(r), exitCode: 0 });
  await addRepos(
    db,
    early.map((r) => ({ repo: r })),
  );
  await db('repos').update({ next_due_at: DUE });
  const first = await fetch(urls.scheduler, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-type': 'dev.knative.sources.ping',
      'ce-source': '/test/first-tick',
      'ce-id': 'first',
      'ce-time': new Date().toISOString(),
      'content-type': 'application/json',
    },
    body: '{}',
  });
  assert.equal(first.status, 200, await first.clone().text());
  assert.equal((await first.json()).created, early.length);
  const batch = cp.kc.makeApiClient(k8s.BatchV1Api);
  const finished = (j: k8s.V1Job) => j.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  await waitFor('the early Jobs finished', async () => (await batch.listNamespacedJob({ namespace: ns })).items.filter(finished).length === early.length);

  // The ApiServerSource adapter, configured from the rendered ApiServerSource the way its
  // controller would: K_SOURCE_CONFIG (namespaces, resources with their selectors, mode), sink.
  const source = find('ApiServerSource', 'posture-job-events');
  const trigger = find('Trigger', 'posture-harvester');
  const exact: Record<string, string> = Object.assign({}, ...trigger.spec.filters.map((f: any) => f.exact));
  const broker = await recordingHop(urls.harvester, (h) => Object.entries(exact).every(([k, v]) => h[`ce-${k}`] === v));
  plane.cleanup(() => new Promise((r) => broker.server.close(r)));
  const resources = source.spec.resources.map((r: any) => {
    const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
    assert.equal(r.kind, 'Job');
    const selector = Object.entries(r.selector.matchLabels as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return { gvr: { Group: group, Version: version, Resource: 'jobs' }, selector };
  });
  const sourceConfig = { namespaces: [ns], allNamespaces: false, resources, mode: source.spec.mode };
  const adapterEnv = { KUBECONFIG: cp.kubeconfigPath, NAMESPACE: systemNs, SYSTEM_NAMESPACE: systemNs, K_LOGGING_CONFIG: '{}', K_OBSERVABILITY_CONFIG: '{}' };
  const apiserverAdapter = startProcess(
    apiServerSourceAdapterBin(),
    [],
    {
      ...adapterEnv,
      NAME: source.metadata.name,
      K_SINK: broker.url,
      K_SOURCE_CONFIG: JSON.stringify(sourceConfig),
      PROFILING_PORT: String(await freePort()),
    },
    logOf('apiserversource'),
  );
  // Started when it logs its watches; give it a moment more to have listed.
  await waitFor('the ApiServerSource adapter watching', () => /STARTING --/.test(readFileSync(logOf('apiserversource'), 'utf8')), 60000, [
    logOf('apiserversource'),
  ]);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(apiserverAdapter.exitCode, null, readFileSync(logOf('apiserversource'), 'utf8'));

  // The PingSource adapter: the PingSource CR applied with the schedule of knative/base, its
  // status written as Knative's PingSource controller would (ready, sink resolved to the
  // scheduler, here through a recording hop).
  const ticks = await recordingHop(urls.scheduler, () => true);
  plane.cleanup(() => new Promise((r) => ticks.server.close(r)));
  const ping = find('PingSource', 'posture-tick');
  const created: any = await custom.createNamespacedCustomObject({
    group: 'sources.knative.dev',
    version: 'v1',
    namespace: ns,
    plural: 'pingsources',
    body: {
      apiVersion: ping.apiVersion,
      kind: ping.kind,
      metadata: { name: ping.metadata.name, labels: ping.metadata.labels },
      spec: { ...ping.spec, sink: { uri: ticks.url } },
    },
  });
  const now = new Date().toISOString();
  await custom.replaceNamespacedCustomObjectStatus({
    group: 'sources.knative.dev',
    version: 'v1',
    namespace: ns,
    plural: 'pingsources',
    name: ping.metadata.name,
    body: {
      ...created,
      status: {
        observedGeneration: created.metadata.generation,
        sinkUri: ticks.url,
        conditions: ['Deployed', 'SinkProvided', 'OIDCIdentityCreated', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
      },
    },
  });
  startProcess(pingSourceAdapterBin(), [], { ...adapterEnv, K_NO_SHUTDOWN_AFTER: '0', PROFILING_PORT: String(await freePort()) }, logOf('mtping'));

  // The repositories the PingSource's tick will schedule.
  await addRepos(
    db,
    late.map((r) => ({ repo: r })),
  );
  await db('repos')
    .whereIn(
      'key',
      late.map((r) => r.key),
    )
    .update({ next_due_at: DUE });

  // The ping comes at the next minute of `schedule: * * * * *`.
  const tick = await waitFor('the PingSource tick', () => ticks.seen.find((s) => s.status === 200), 150_000, [logOf('mtping'), logOf('scheduler')]);
  assert.equal(tick.headers['ce-type'], 'dev.knative.sources.ping');
  assert.equal(tick.headers['ce-source'], `/apis/v1/namespaces/${ns}/pingsources/${ping.metadata.name}`);
  assert.equal(tick.headers['ce-specversion'], '1.0');
  assert.match(tick.headers['ce-id'], /^[0-9a-f-]{36}$/, 'a random UUID per tick');
  assert.equal(tick.headers['content-type'], ping.spec.contentType);
  assert.deepEqual(JSON.parse(tick.body), JSON.parse(ping.spec.data));
  // ce-time is stamped at send time, after a random sleep of up to half a second past the minute.
  const time = new Date(tick.headers['ce-time']);
  const intoMinute = time.getTime() % 60000;
  assert.ok(intoMinute < 5000, `ce-time ${tick.headers['ce-time']} is ${intoMinute} ms into its minute`);
  assert.ok(Math.abs(tick.at.getTime() - time.getTime()) < 5000, 'ce-time is the send time');
  const slot = cronSlot(time);
  for (const r of late) assert.equal((await runByJobName(db, jobName(r, DUE)))?.tick_slot, slot, 'the tick is the minute of ce-time');

  // The tick scheduled the late repositories; their Jobs' completions come from the adapter.
  await waitFor('every repository scored', async () => (await harvested(db)) === early.length + late.length, 120_000, [
    logOf('apiserversource'),
    logOf('harvester'),
    logOf('scheduler'),
  ]);
  for (const r of [...early, ...late]) assert.equal((await latestScore(db, r.key))?.score, FIXTURE.score, r.canonical);

  const events = broker.seen.map((s) => ({ ...s, data: JSON.parse(s.body) }));
  // Nothing for the Jobs that existed before the adapter started (not their creation, not their
  // completion): the tick's reconcile scored those, then deleted them, which the adapter does see.
  for (const r of early) {
    const mine = events.filter((e) => e.headers['ce-name'] === jobName(r, DUE));
    assert.deepEqual(
      mine.filter((e) => e.at < tick.at).map((e) => e.headers['ce-type']),
      [],
      `events for ${jobName(r, DUE)} before the reconcile, though it existed before the adapter`,
    );
    for (const e of mine)
      assert.ok(
        e.headers['ce-type'] === 'dev.knative.apiserver.resource.delete' || e.data.metadata.deletionTimestamp,
        `${jobName(r, DUE)}: ${e.headers['ce-type']} that is not its deletion`,
      );
  }
  for (const r of early) assert.equal((await runByJobName(db, jobName(r, DUE)))?.outcome !== 'pending', true, 'closed by the reconcile');
  // Every late Job: add, then updates (one of them its completion), all in Resource mode.
  for (const r of late) {
    const mine = events.filter((e) => e.headers['ce-name'] === jobName(r, DUE));
    assert.ok(mine.length >= 2, `${jobName(r, DUE)}: ${mine.length} events`);
    assert.equal(mine[0].headers['ce-type'], 'dev.knative.apiserver.resource.add');
    assert.ok(
      mine.some((e) => e.headers['ce-type'] === 'dev.knative.apiserver.resource.update' && finished(e.data) && e.forwarded && e.status === 200),
      'its completion reached the harvester and was accepted',
    );
  }
  const cluster = cp.kc.getCurrentCluster()!.server;
  const ids = new Set<string>();
  for (const e of events) {
    assert.ok(
      ['dev.knative.apiserver.resource.add', 'dev.knative.apiserver.resource.update', 'dev.knative.apiserver.resource.delete'].includes(e.headers['ce-type']),
      e.headers['ce-type'],
    );
    assert.equal(e.headers['ce-source'], cluster, 'source: the API server URL');
    assert.equal(e.headers['ce-subject'], `/apis/batch/v1/namespaces/${ns}/jobs/${e.headers['ce-name']}`);
    assert.equal(e.headers['ce-kind'], 'Job');
    assert.equal(e.headers['ce-apiversion'], 'batch/v1');
    assert.equal(e.headers['ce-namespace'], ns);
    assert.match(e.headers['content-type'], /^application\/json/);
    // Resource mode: the whole Job, with its type meta (what the harvester checks).
    assert.equal(e.data.kind, 'Job');
    assert.equal(e.data.apiVersion, 'batch/v1');
    assert.equal(e.data.metadata.name, e.headers['ce-name']);
    assert.equal(e.data.metadata.labels['app.kubernetes.io/managed-by'], 'posture');
    assert.ok(!ids.has(e.headers['ce-id']), 'a new id for every event');
    ids.add(e.headers['ce-id']);
    // The Trigger's filter decides what reaches the harvester: updates only.
    assert.equal(e.forwarded, e.headers['ce-type'] === 'dev.knative.apiserver.resource.update');
    if (e.forwarded) assert.ok(e.status < 300, `harvester answered ${e.status} to ${e.headers['ce-type']} for ${e.headers['ce-name']}`);
  }
});
