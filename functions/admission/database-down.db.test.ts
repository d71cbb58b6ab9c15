// The Scorecard gate with its database down (issue 40, finding 4): the warning every user creating
// an annotated workload sees, and /readyz on the admission port, say "database unavailable" and
// nothing about the database: no host, port, user, database name, and no password. The operator's
// log says which database failed, redacted. Runs the production feed (the admission function's
// databaseScoreFeed) against a closed port and against the real PostgreSQL refusing a role and a
// database that do not exist, so the errors are pg's own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { createAdmissionApp } from '../../lib/admission/app.ts';
import { admissionReview, object, user } from '../../lib/admission/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { createLogger } from '../../lib/log/index.ts';
import { createCA, issueCert, pem } from '../../test/cluster/pki.ts';
import { databaseScoreFeed, shutdown } from './index.ts';
import { WEBHOOKS_DIR } from './webhooks-dir.ts';

const dir = mkdtempSync(join(tmpdir(), 'posture-gate-db-down-'));
const ca = createCA(dir, 'ca');
const cert = issueCert({ ca, dir, name: 'admission', commonName: 'admission', hosts: ['127.0.0.1'], usage: 'server' });
const agent = new Agent({ ca: pem(ca.cert) });
after(() => {
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function get(port: number, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const targets = [
  {
    name: 'nothing listens on its port',
    url: 'postgres://alicesecretuser:hun@ter2@127.0.0.1:15447/secretdbname?sslpassword=keypass9',
    secrets: ['hun@ter2', 'ter2', 'keypass9'],
    target: ['alicesecretuser', 'secretdbname', '127.0.0.1', '15447'],
  },
  {
    name: 'PostgreSQL refuses the role',
    url: 'postgres://nosuchrolesecret@127.0.0.1:5432/test?password=hunter2',
    secrets: ['hunter2'],
    target: ['nosuchrolesecret', '127.0.0.1', '5432'],
  },
  {
    name: 'PostgreSQL has no such database',
    url: 'postgres://postgres:hunter2@127.0.0.1:5432/nosuchdbsecret',
    secrets: ['hunter2'],
    target: ['nosuchdbsecret', '127.0.0.1', '5432'],
  },
];

for (const t of targets) {
  test(`database down (${t.name}): the gate's warning and /readyz name nothing, the log names it redacted`, async () => {
    const previous = process.env.DATABASE_URL;
    process.env.DATABASE_URL = t.url;
    const logged = new PassThrough();
    let logText = '';
    logged.on('data', (c) => (logText += c));
    const app = await createAdmissionApp({
      config: defaultConfig(),
      scoreFeed: databaseScoreFeed,
      refresh: false,
      webhooksDir: WEBHOOKS_DIR,
      logger: createLogger({ level: 'info', name: 'admission', destination: logged }),
    });
    const server = await app.serve({ certFile: cert.cert, keyFile: cert.key, port: 0, host: '127.0.0.1' });
    try {
      await app.scores.refresh(); // fails: the database is down
      const review = admissionReview({
        operation: 'CREATE',
        object: object('Deployment', 'web', { namespace: 'team', annotations: { 'posture.dev/source-repo': 'github.com/o/r' } }),
        caller: user('jane'),
        uid: 'gate-db-down', // not random: a random uid could hold a port's digits
      });
      const reply = await get(server.port, '/scorecard-gate', JSON.stringify(review));
      const response = JSON.parse(reply).response;
      assert.equal(response.allowed, true, reply); // failurePolicy Ignore: let through, with a warning
      const warning = (response.warnings ?? []).join('\n');
      assert.match(warning, /database unavailable/, reply);
      const ready = await get(server.port, '/readyz');
      assert.match(ready, /database unavailable/);
      for (const [where, text] of [
        ['the review reply', reply],
        ['/readyz', ready],
      ]) {
        for (const s of [...t.secrets, ...t.target]) assert.ok(!text.includes(s), `${where} carries ${JSON.stringify(s)}: ${text}`);
      }
      await new Promise((r) => setImmediate(r));
      assert.match(logText, /pulling scores failed/);
      for (const s of t.secrets) assert.ok(!logText.includes(s), `the log carries ${JSON.stringify(s)}: ${logText}`);
    } finally {
      await server.stop(1000);
      app.close();
      await shutdown();
      if (previous === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = previous;
    }
  });
}
