// Onboarding at scale, against the fake GitHub over HTTPS and PostgreSQL on loopback: discovering
// an organisation of BENCH_ONBOARD_REPOS repositories (100 a page), discovering it again unchanged
// (every page a 304: no quota), rediscovering it as a source after one repository was added and
// one archived; and `results import` of BENCH_ONBOARD_RESULTS real results as NDJSON, then the
// same file again (all duplicates). Wall time, GitHub calls spent, and time per result.
import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defaultConfig } from '../lib/config/index.ts';
import { migrate } from '../lib/db/index.ts';
import { addSource } from '../lib/db/sources.ts';
import { createPostgresDatabase } from '../lib/db/testing.ts';
import { createGitHubApi } from '../lib/github/client.ts';
import { discoverOrg, sourceRediscovery } from '../lib/github/sources.ts';
import { importResults } from '../lib/harvest/import.ts';
import { silentLogger } from '../lib/log/index.ts';
import { fixturePath } from '../test/fixtures/scorecard.ts';
import { FakeGitHub } from '../test/github/fake.ts';

const REPOS = Number(process.env.BENCH_ONBOARD_REPOS ?? 10_000);
const RESULTS = Number(process.env.BENCH_ONBOARD_RESULTS ?? 5_000);
const ORG = 'bench-org';
const TOKEN = 'ghp_benchOnboardToken0000000000000000000001';

const fake = await FakeGitHub.start({ rateLimit: 1_000_000 });
fake.addToken(TOKEN, { identity: 'bench' });
for (let i = 0; i < REPOS; i++) fake.addRepo({ owner: ORG, name: `repo-${i}`, archived: i % 50 === 0, fork: i % 97 === 1 });
const pg = await createPostgresDatabase();
const db = pg.db;
await migrate(db);
const config = defaultConfig({ githubApiUrl: fake.restBase, githubCaFile: fake.caFile, githubToken: TOKEN, sourcesIntervalSeconds: 60 });
const api = createGitHubApi(config);
const deps = { db, api, log: silentLogger, host: 'github.com', now: () => new Date() };
const filter = { includeArchived: false, includeForks: false, topic: null };

const rows: Array<[string, string, string]> = [];
async function timed(label: string, f: () => Promise<string>): Promise<void> {
  const before = fake.remaining('bench');
  const t0 = performance.now();
  const note = await f();
  const ms = performance.now() - t0;
  rows.push([label, `${(ms / 1000).toFixed(2)} s`, `${before - fake.remaining('bench')} calls; ${note}`]);
}

try {
  const { source } = await addSource(db, { host: 'github.com', name: ORG, ...filter });
  await timed(`discover ${REPOS.toLocaleString('en')} repositories (first time)`, async () => {
    const r = await discoverOrg(ORG, filter, deps, { sourceId: source.id });
    return `${r.fetched} pages fetched, ${r.added.length} added`;
  });
  await timed('discover again, unchanged', async () => {
    const r = await discoverOrg(ORG, filter, deps, { sourceId: source.id });
    return `${r.notModified} pages 304, ${r.fetched} fetched`;
  });
  fake.addRepo({ owner: ORG, name: 'repo-new' });
  fake.repos.get(`${ORG}/repo-5`.toLowerCase())!.archived = true;
  await db('sources').update({ next_due_at: new Date(0) });
  await timed("the tick's rediscovery: 1 added, 1 archived", async () => {
    const r = await sourceRediscovery({ db, config, log: silentLogger, api: () => api }).rediscover(new Date());
    return `${r.notModified} pages 304, ${r.fetched} fetched; added ${r.added}, retired ${r.retired}`;
  });

  // NDJSON of real v5.5.0 results, each for its own repository.
  const line = readFileSync(fixturePath('real-v5.5.0-fake-github-healthy.pod-log.txt'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('{"date"'))!;
  const doc = JSON.parse(line);
  const dir = mkdtempSync(join(tmpdir(), 'posture-bench-onboard-'));
  const file = join(dir, 'results.ndjson');
  writeFileSync(
    file,
    `${Array.from({ length: RESULTS }, (_, i) => JSON.stringify({ ...doc, repo: { ...doc.repo, name: `github.com/imported/r${i}` } })).join('\n')}\n`,
  );
  const importConfig = defaultConfig();
  for (const pass of ['first', 'again (all duplicates)']) {
    await timed(`results import ${RESULTS.toLocaleString('en')} results, ${pass}`, async () => {
      const t0 = performance.now();
      const r = await importResults(createInterface({ input: createReadStream(file) }), { db, config: importConfig, log: silentLogger });
      const per = (performance.now() - t0) / RESULTS;
      return `${r.stored} stored, ${r.duplicates} duplicates; ${per.toFixed(2)} ms a result`;
    });
  }
  console.log(`\n| what | wall time | GitHub calls spent; what it did |\n| --- | --- | --- |`);
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
} finally {
  await pg.drop();
  await fake.close();
}
