// The floor of a harvester, for bench/pipeline.ts (BENCH_PIPELINE_BARE=1): the least any
// harvester must do per Job event, with none of posture's code. Every event is read and parsed
// (ApiServerSource sends the whole Job); for a finished Job it lists the Job's pods, reads the
// pod's log, deletes the Job and closes its run with one statement, then answers. No CloudEvents SDK,
// no validation, no classification, no score or checks stored, no metrics, no logging, no retries:
// what it costs per scored repository is what the platform (HTTP, TLS, the API server's replies,
// PostgreSQL's protocol) costs, the figure posture's harvester is read against.
//
//   PORT, KUBECONFIG, POSTURE_NAMESPACE, DATABASE_URL as bin/serve.ts harvester takes them.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import pg from 'pg';
import { Agent, request } from 'undici';

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const cluster = kc.getCurrentCluster()!;
const user = kc.getCurrentUser()!;
const read = (file?: string, data?: string) => (file ? readFileSync(file) : data ? Buffer.from(data, 'base64') : undefined);
const agent = new Agent({
  connect: { ca: read(cluster.caFile, cluster.caData), cert: read(user.certFile, user.certData), key: read(user.keyFile, user.keyData), keepAlive: true },
  allowH2: true,
  connections: 8,
});
const server = cluster.server.replace(/\/+$/, '');
const ns = process.env.POSTURE_NAMESPACE!;
const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });

async function call(method: string, path: string, body?: string): Promise<string> {
  const r = await request(server + path, {
    dispatcher: agent,
    method: method as 'GET',
    body,
    headers: body ? { 'content-type': 'application/json', accept: 'application/json' } : { accept: 'application/json' },
    ...(body && method === 'DELETE' ? { reset: false } : {}),
  });
  const text = await r.body.text();
  if (r.statusCode >= 300 && r.statusCode !== 404) throw new Error(`${method} ${path}: ${r.statusCode}`);
  return text;
}

interface Job {
  metadata: { name: string; uid: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

async function harvest(job: Job): Promise<void> {
  const name = job.metadata.name;
  const pods = JSON.parse(await call('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${name}`)}`)) as {
    items: Array<{ metadata: { name: string } }>;
  };
  const pod = pods.items[0]?.metadata.name;
  if (pod) await call('GET', `/api/v1/namespaces/${ns}/pods/${pod}/log?container=scorecard&limitBytes=1048577`);
  await call(
    'DELETE',
    `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
    JSON.stringify({ propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid } }),
  );
  // One statement closes the run and gives the repository back to the schedule (as posture's
  // harvest does), so the scheduler sees the same database either way.
  await db.query(
    `WITH run AS (UPDATE runs SET outcome = 'succeeded', finished_at = now() WHERE job_name = $1 AND outcome = 'pending' RETURNING repo_id)
     UPDATE repos SET next_due_at = now() + interval '7 days', lease_owner = NULL, lease_expires_at = NULL, claim_budget_hour = NULL, last_finished_at = now()
       FROM run WHERE repos.id = run.repo_id`,
    [name],
  );
}

const done = new Set<string>();
// Events received, for bench/pipeline.ts when Knative's adapter (not an in-process relay) sends them.
let received = 0;
const http = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(req.url === '/events-received' ? String(received) : 'ok');
    return;
  }
  received++;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Job;
    const finished = (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    if (!finished || done.has(job.metadata.uid)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ignored"}');
      return;
    }
    done.add(job.metadata.uid);
    harvest(job).then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"stored"}');
      },
      (err: Error) => {
        done.delete(job.metadata.uid);
        res.writeHead(503);
        res.end(err.message);
      },
    );
  });
});
http.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => {
  http.close();
  void db.end().finally(() => process.exit(0));
});
