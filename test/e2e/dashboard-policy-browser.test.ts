// The dashboard's policy views in a real browser (Debian's Chromium, JavaScript off), on a
// database seeded by `posture demo`'s code and judged by the API's own sweep under a policy:
// the fleet page's compliance and the rules failing most agree with the JSON routes and the
// database, the Fail card leads to the list filtered by verdict with each repository's failing
// rules, and a failing repository's page says which rules it breaks and why. Saves the
// screenshots docs/use/policy.md shows (docs/dashboard-policy-*.png).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { fleetConfigOf } from '../../lib/api/dashboard.ts';
import { refreshSnapshot } from '../../lib/api/fleet.ts';
import { createApiHandle } from '../../lib/api/handler.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { migrate, mostFailingRules } from '../../lib/db/index.ts';
import { createPgliteDatabase, type TestDatabase } from '../../lib/db/testing.ts';
import { seedDemo } from '../../lib/demo/seed.ts';
import { createFunctionServer, listen } from '../../lib/function/server.ts';
import { silentLogger } from '../../lib/log/index.ts';
import { parsePolicies, staticPolicies } from '../../lib/policy/index.ts';

// As test/e2e/dashboard-browser.test.ts (importing a test file would run its tests here too).
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const POLICY = `apiVersion: posture.dev/v1alpha1
kind: ScorecardPolicy
metadata: {name: production}
spec:
  repositories: ["github.com/posture-demo/*"]
  minimumScore: 6
  weights: {Fuzzing: 0}
  checks:
    Dangerous-Workflow: {minimum: 10}
    Code-Review: {minimum: 7}
    Branch-Protection: {minimum: 5}
`;

let database: TestDatabase;
let server: Server;
let base: string;
let browser: Browser;
let context: BrowserContext;
let digest: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  database = await createPgliteDatabase();
  await migrate(database.db);
  await seedDemo(database.db, { repos: 16, history: 6 });
  const config = defaultConfig();
  await refreshSnapshot(database.db, fleetConfigOf(config));
  const parsed = parsePolicies(POLICY);
  assert.ok(parsed.ok);
  digest = parsed.set.digest;
  const handle = createApiHandle(async () => ({ db: database.db, config, log: silentLogger }), { policies: staticPolicies(parsed.set), sweep: false });
  server = createFunctionServer({ name: 'api', handle, log: silentLogger });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
  // The first request starts the policies; the sweep judges every repository.
  await fetch(`${base}/projects?limit=1`);
  await handle.policies()?.sweep();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await context?.close();
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await database?.drop();
});

const json = async (path: string) => (await fetch(base + path)).json() as Promise<any>;

test('fleet compliance and the rules failing most → the failing repositories → one of them', { timeout: 180_000 }, async () => {
  const page = await context.newPage();
  assert.equal((await page.goto(`${base}/ui`))?.status(), 200);
  const counts: Record<string, number> = {};
  for (const verdict of ['pass', 'fail', 'unknown']) {
    counts[verdict] = Number(await page.locator(`section:has(h2#compliance) a[href="/ui/projects?verdict=${verdict}"]`).textContent());
    const api = (await json(`/projects?verdict=${verdict}&limit=1000`)).items;
    assert.equal(counts[verdict], api.length, `${verdict}: the page shows what the list route counts`);
  }
  assert.equal(counts.pass + counts.fail + counts.unknown, 16, 'every demo repository judged');
  assert.ok(counts.fail > 0 && counts.pass > 0, `the demo fleet has both (pass ${counts.pass}, fail ${counts.fail})`);
  const rules = await mostFailingRules(database.db, digest, 10);
  const shown = await page
    .locator('section:has(h2#compliance) tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(
    shown,
    rules.map((r) => ['production', r.rule === 'minimumScore' ? 'minimum score' : r.rule.replace(/^checks\./, ''), String(r.repos)]),
    'rules failing most, as the database counts them',
  );
  await page.locator('section:has(h2#compliance)').screenshot({ path: join(DOCS, 'dashboard-policy-fleet.png') });

  // The Fail card: the list filtered by verdict, each row with its failing rules.
  await page.locator('section:has(h2#compliance) a[href="/ui/projects?verdict=fail"]').click();
  await page.waitForURL(/\/ui\/projects\?verdict=fail$/);
  const failing = (await json('/projects?verdict=fail&limit=1000')).items;
  const rows = page.locator('tbody tr');
  assert.equal(await rows.count(), failing.length);
  const first = failing[0];
  const cell = await rows.first().locator('td').last().textContent();
  assert.equal(
    cell,
    `fail production: ${first.policy.failing.map((r: string) => (r === 'minimumScore' ? 'minimum score' : r.replace(/^checks\./, ''))).join(', ')}`,
  );
  assert.equal(await page.locator('select[name="verdict"] option[selected]').textContent(), 'fail');
  await page.screenshot({ path: join(DOCS, 'dashboard-policy-list.png'), fullPage: true });

  // One failing repository: its verdict and each broken rule with what it wanted and got.
  await rows.first().locator('a').first().click();
  await page.waitForURL(/\/ui\/projects\/github\.com\/posture-demo\//);
  assert.equal(await page.locator('h2#policy').textContent(), 'Policy production: fail');
  const reasons = await page.locator('section:has(h2#policy) tbody tr td:last-child').allTextContents();
  assert.ok(reasons.length >= first.policy.failing.length);
  for (const r of reasons) assert.match(r, /below the (required|minimum)|inconclusive|missing|internal error/);
  await page.locator('section:has(h2#policy)').screenshot({ path: join(DOCS, 'dashboard-policy-repository.png') });
  await page.close();
});
