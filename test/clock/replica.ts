// Child process: one scheduler replica, run under libfaketime so its own clock is wrong. It
// answers one PingSource event through the scheduler function's handler (the production clock:
// the database's) on a fake cluster, and prints the reply's body and its own idea of the time.
//   node test/clock/replica.ts <databaseUrl> <configOverridesJson>
import { CloudEvent } from 'cloudevents';
import { defaultConfig } from '../../lib/config/index.ts';
import { openDb } from '../../lib/db/index.ts';
import { FakeCluster } from '../../lib/kube/fake.ts';
import { silentLogger } from '../../lib/log/index.ts';
import { createSchedulerHandle } from '../../lib/scheduler/handler.ts';

const [databaseUrl, overrides] = process.argv.slice(2);
const db = openDb({ databaseUrl });
const cluster = new FakeCluster();
const config = defaultConfig({ githubTokenCount: 0, ...JSON.parse(overrides ?? '{}') });
const handle = createSchedulerHandle(async () => ({ db, cluster, config, log: silentLogger, retryBaseMs: 0 }));
// The ping carries the time of the PingSource's own clock; this replica's is as wrong as the rest of it.
const ping = new CloudEvent({ type: 'dev.knative.sources.ping', source: '/test', time: new Date().toISOString(), data: {} });
const reply = (await handle({ log: silentLogger, method: 'POST', path: '/', headers: {}, query: {}, cloudevent: ping } as never)) as { body: unknown };
process.stdout.write(`${JSON.stringify({ ownClock: new Date().toISOString(), jobs: cluster.jobs.size, body: reply.body })}\n`);
await db.destroy();
