// The dashboard in a real browser: Debian's Chromium driven by playwright-core, JavaScript
// off (the pages must not need it), against the api function served over HTTP on a database
// seeded by `posture demo`'s code. Goes fleet → repository → diff, asserts what each page
// shows against the JSON routes, checks the phone layout, and saves the screenshots the
// README shows (docs/dashboard-*.png).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { fleetConfigOf } from '../../lib/api/dashboard.ts';
import { refreshSnapshot } from '../../lib/api/fleet.ts';
import { createApiHandle } from '../../lib/api/handler.ts';
import { fixture06, storeDocument } from '../../lib/api/testing.ts';
import { defaultConfig } from '../../lib/config/index.ts';
import { migrate, replaceAuditFindings } from '../../lib/db/index.ts';
import { createPgliteDatabase, type TestDatabase } from '../../lib/db/testing.ts';
import { seedDemo } from '../../lib/demo/seed.ts';
import { createFunctionServer, listen } from '../../lib/function/server.ts';
import { silentLogger } from '../../lib/log/index.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DOCS = join(import.meta.dirname, '..', '..', 'docs');

let database: TestDatabase;
let server: Server;
let base: string;
let browser: Browser;
let context: BrowserContext;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  database = await createPgliteDatabase();
  await migrate(database.db);
  await seedDemo(database.db, { repos: 12, history: 8 });
  const config = defaultConfig();
  await refreshSnapshot(database.db, fleetConfigOf(config));
  server = createFunctionServer({ name: 'api', handle: createApiHandle(async () => ({ db: database.db, config, log: silentLogger })), log: silentLogger });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  mkdirSync(DOCS, { recursive: true });
});

after(async () => {
  await context?.close();
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await database?.drop();
});

/** WCAG 2 contrast of every piece of text on the page against the background behind it (HTML and SVG); returns the worst few. */
const LOW_CONTRAST = `(() => {
  const rgb = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(',').map(Number); return p.length > 3 && p[3] === 0 ? null : p.slice(0, 3); };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const background = (e) => { for (let n = e; n; n = n.parentElement) { if (n instanceof SVGElement && !(n instanceof SVGSVGElement)) continue; const c = rgb(getComputedStyle(n).backgroundColor); if (c) return c; } return [255, 255, 255]; };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (e.closest('title, desc, style')) continue;
    const fg = e instanceof SVGElement ? rgb(getComputedStyle(e).fill) : rgb(getComputedStyle(e).color);
    if (!fg) continue;
    const r = ratio(fg, background(e));
    if (r < 4.5) bad.push(e.tagName + ' "' + e.textContent.trim().slice(0, 30) + '" ' + r.toFixed(2));
  }
  return bad.slice(0, 5);
})()`;

const json = async (path: string) => (await fetch(base + path)).json() as Promise<any>;

test('fleet → repository → diff, each page showing what the API says, without JavaScript', { timeout: 180_000 }, async () => {
  const page = await context.newPage();

  // Fleet.
  const res = await page.goto(`${base}/ui`);
  assert.equal(res?.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Fleet');
  assert.match((await page.locator('.demo').textContent()) ?? '', /Demo data\..*posture-demo/, 'demo data is labelled');
  for (const state of ['fresh', 'overdue', 'failing', 'never']) {
    const shown = Number(await page.locator(`a[href="/ui/projects?state=${state}"]`).textContent());
    const api = (await json(`/projects?state=${state}&limit=1000`)).count;
    assert.equal(shown, api, `${state}: the page shows what the list route counts`);
  }
  assert.equal(await page.locator('svg[role="img"] > title', { hasText: 'Repositories by newest score' }).count(), 1, 'score histogram');
  assert.equal(await page.locator('svg[role="img"] > title', { hasText: 'passing each check' }).count(), 1, 'per-check pass rates');
  const failing = (await json('/projects?state=failing&limit=1000')).items;
  assert.deepEqual(
    await page.locator('section:has(h2#failures) tbody tr').first().locator('td').allTextContents(),
    ['pod-failed', String(failing.length)],
    'failures of the last day by class',
  );
  const lowestApi = (await json('/projects?sort=score&limit=1')).items[0];
  const lowestLink = page.locator('section:has(h2#lowest) tbody tr').first().locator('a').first();
  assert.equal(await lowestLink.textContent(), lowestApi.repo, 'lowest score first');
  assert.deepEqual(await page.evaluate(LOW_CONTRAST), [], 'fleet: every text at least 4.5:1');
  await page.screenshot({ path: join(DOCS, 'dashboard-fleet.png'), fullPage: true });

  // Repository: follow the lowest score.
  await lowestLink.click();
  await page.waitForURL(/\/ui\/projects\/github\.com\/posture-demo\//);
  assert.equal(await page.locator('h1').evaluate((h) => h.firstChild?.textContent), lowestApi.repo);
  const latest = await json(`/projects/${lowestApi.repo}`);
  assert.equal(await page.locator('.card .big .score').first().textContent(), latest.score.toFixed(1));
  const rows = page.locator('section:has(h2#checks) tbody tr');
  assert.equal(await rows.count(), latest.checks.length, 'every check listed');
  for (const c of latest.checks) assert.equal(await page.locator('section:has(h2#checks) strong', { hasText: new RegExp(`^${c.name}$`) }).count(), 1, c.name);
  const details = page.locator('section:has(h2#checks) details').first();
  assert.equal(await details.locator('pre').isVisible(), false, 'details start folded');
  await details.locator('summary').click();
  assert.equal(await details.locator('pre').isVisible(), true, 'details unfold without JavaScript');
  assert.equal(await page.locator('svg[role="img"] > title', { hasText: `Score of ${lowestApi.repo} over time` }).count(), 1, 'history chart');
  assert.match(
    (await page.locator('#badge-md').textContent()) ?? '',
    /^\[!\[OpenSSF Scorecard\]\(http:\/\/127\.0\.0\.1:\d+\/projects\/github\.com\/posture-demo\/[^/]+\/badge\)\]/,
  );
  const badge = await page.locator('section:has(h2#badge) img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
  assert.ok(badge, 'the badge image loads');
  assert.deepEqual(await page.evaluate(LOW_CONTRAST), [], 'repository: every text at least 4.5:1');
  await page.screenshot({ path: join(DOCS, 'dashboard-repository.png'), fullPage: true });

  // Diff: the compare form, default the last two runs.
  await page.locator('section:has(h2#diff) button[type="submit"]').click();
  await page.waitForURL(/\/diff\?from=\d+&to=\d+$/);
  const url = new URL(page.url());
  const change = await json(`/projects/${lowestApi.repo}/changes?from=${url.searchParams.get('from')}&to=${url.searchParams.get('to')}`);
  assert.match((await page.locator('h1').textContent()) ?? '', new RegExp(`Changes in ${lowestApi.repo.replace(/[.]/g, '\\.')}`));
  const summary = `${change.changed.length} checks changed, ${change.added.length} added, ${change.removed.length} removed, ${change.unchanged} unchanged`;
  assert.equal(await page.locator('.card .muted', { hasText: 'checks changed' }).textContent(), summary);
  const changedRows = page.locator('section:has(h2#changed) tbody tr');
  assert.equal(await changedRows.count(), change.changed.length);
  if (change.changed.length)
    assert.equal(await changedRows.first().locator('td').first().textContent(), change.changed[0].name, 'biggest drop first, as the API orders it');
  assert.deepEqual(await page.evaluate(LOW_CONTRAST), [], 'diff: every text at least 4.5:1');
  await page.screenshot({ path: join(DOCS, 'dashboard-diff.png'), fullPage: true });
  await page.close();
});

test('running workloads below the bar: from the menu, the last audit worst first, each repository linked to its page', { timeout: 120_000 }, async () => {
  // Before any audit the page says so (in a context of its own: pages are cached for a minute).
  const before = await browser.newContext({ javaScriptEnabled: false });
  const empty = await before.newPage();
  await empty.goto(`${base}/ui/workloads`);
  assert.match((await empty.locator('main').textContent()) ?? '', /No audit has run yet/);
  await before.close();
  const page = await context.newPage();
  // An audit's findings, as the auditor saves them (lib/audit/index.ts).
  const low = (await json('/projects?sort=score&limit=1')).items[0];
  await replaceAuditFindings(database.db, new Date(), { fail: 2, warn: 1, error: 1, pass: 7, workloads: 11, namespaces: 3, listed: 20 }, [
    { namespace: 'shop', kind: 'Deployment', name: 'checkout', uid: 'u1', repo: low.repo, score: low.score, result: 'fail', message: 'below' },
    { namespace: 'shop', kind: 'CronJob', name: 'nightly', uid: 'u2', repo: 'github.com/posture-demo/unscored', score: null, result: 'warn', message: 'none' },
    { namespace: 'ops', kind: 'Pod', name: 'debug', uid: 'u3', repo: 'not a repo', score: null, result: 'error', message: 'bad' },
    { namespace: 'ops', kind: 'StatefulSet', name: 'db', uid: 'u4', repo: low.repo, score: low.score, result: 'fail', message: 'below' },
  ]);
  await page.goto(`${base}/ui`);
  await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Workloads' }).click();
  assert.equal(new URL(page.url()).pathname, '/ui/workloads');
  assert.equal(await page.locator('h1').textContent(), 'Running workloads below the bar');
  assert.match(
    (await page.locator('main p').first().textContent()) ?? '',
    /11 workloads declare a repository in 3 namespaces; 2 below the bar, 1 not scored yet, 1 not a repository, 7 pass/,
  );
  const rows = await page
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).textContent.trim())));
  // Not a repository first, then below the bar (lowest score first), then not scored yet.
  assert.deepEqual(
    rows.map((r) => `${r[0]}/${r[1]}/${r[2]}/${r[5]}`),
    ['ops/Pod/debug/not a repository', 'ops/StatefulSet/db/below the bar', 'shop/Deployment/checkout/below the bar', 'shop/CronJob/nightly/not scored yet'],
  );
  assert.equal(rows[1][4], low.score.toFixed(1));
  assert.deepEqual(await page.evaluate(LOW_CONTRAST), []);
  // The repository links to its page.
  await page.locator('tbody tr').nth(1).getByRole('link', { name: low.repo }).click();
  assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/ui/projects/${low.repo}`);
  await page.close();
});

test('on a phone: no sideways scrolling of the page, text at least 12 px', { timeout: 120_000 }, async () => {
  const phone = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
  try {
    const page = await phone.newPage();
    for (const path of ['/ui', '/ui/projects', '/ui/projects/github.com/posture-demo/payments-api', '/ui/workloads']) {
      await page.goto(base + path);
      const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(Number(overflow) <= 0, `${path}: the page is ${overflow}px wider than the phone`);
      const small = await page.evaluate(
        `[...document.querySelectorAll('body *')].filter((e) => e.childNodes.length && [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) && parseFloat(getComputedStyle(e).fontSize) < 12 && !(e instanceof SVGElement)).length`,
      );
      assert.equal(small, 0, `${path}: no HTML text under 12px`);
    }
    await page.goto(`${base}/ui`);
    await page.screenshot({ path: join(DOCS, 'dashboard-phone.png'), fullPage: false });
  } finally {
    await phone.close();
  }
});

test('a bidirectional control in a reason is shown as its escape, and the text reads in the order it is written', { timeout: 60_000 }, async () => {
  // "invoice\u202Egpj.exe" is drawn "invoiceexe.jpg" where the override is obeyed.
  const doc = fixture06();
  doc.repo.name = 'github.com/bidi/widget';
  doc.checks[0].reason = 'found invoice\u202Egpj.exe in the tree';
  await storeDocument(database.db, doc);
  const page = await context.newPage();
  try {
    assert.equal((await page.goto(`${base}/ui/projects/github.com/bidi/widget`))?.status(), 200);
    const text = (await page.locator('body').textContent()) ?? '';
    assert.doesNotMatch(text, /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/, 'no bidi control reaches the page');
    assert.ok(text.includes('found invoice\\u202Egpj.exe in the tree'), 'the control is shown as \\u202E');
    // Where the browser draws the letters: g before j, left to right, as written.
    const x = await page.evaluate(`(() => {
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const i = n.textContent.indexOf('gpj.exe');
        if (i < 0) continue;
        const at = (k) => { const r = document.createRange(); r.setStart(n, k); r.setEnd(n, k + 1); return r.getBoundingClientRect().left; };
        return { g: at(i), j: at(i + 2) };
      }
      return null;
    })()`);
    assert.ok(x && (x as { g: number; j: number }).g < (x as { g: number; j: number }).j, `drawn in written order: ${JSON.stringify(x)}`);
  } finally {
    await page.close();
  }
});

test("a repository's alerts and its failed deliveries, on its page", { timeout: 60_000 }, async () => {
  const { startReceiver } = await import('../../lib/alerts/receiver.ts');
  const { alertDepsOf } = await import('../../lib/alerts/handler.ts');
  const { handleAlert } = await import('../../lib/alerts/service.ts');
  const { checks, inputOf, scoreChanged } = await import('../../lib/alerts/testing.ts');
  const repo = (await database.db('repos').orderBy('key').first()).canonical as string;
  const rx = await startReceiver('browser-secret');
  try {
    const deps = alertDepsOf(
      {
        config: defaultConfig({ alertsWebhookUrl: rx.url, alertsWebhookSecret: 'browser-secret', alertsWebhookAttempts: 2, alertsRepoIntervalSeconds: 0 }),
        db: database.db,
        log: silentLogger,
      },
      { sleep: async () => {} },
    );
    const drop = scoreChanged(900_002, { score: 8, checks: checks(8) }, { score: 5, checks: checks(0) }, repo);
    await handleAlert(deps, inputOf(drop), drop.type);
    rx.failNext(10);
    const further = scoreChanged(900_004, { score: 5, checks: checks(0) }, { score: 3, checks: checks(0) }, repo);
    await handleAlert(deps, inputOf(further), further.type);
  } finally {
    await rx.close();
  }
  let page = await context.newPage();
  const res = await page.goto(`${base}/ui/projects/${repo}`);
  assert.equal(res?.status(), 200);
  const section = page.locator('section[aria-labelledby="alerts"]');
  assert.equal(await section.locator('h2').textContent(), 'Alerts');
  const rows = await section.locator('tbody tr').allTextContents();
  assert.equal(rows.length, 2);
  assert.match(rows[0], /update.*score fell 2\.0 \(5\.0 → 3\.0\).*webhook: failed after 2 attempts \(receiver answered 503\)/);
  assert.match(rows[1], /open.*score fell 3\.0 \(8\.0 → 5\.0\); Code-Review fell to 0.*webhook: delivered/);
  assert.match((await page.locator('#alert-failures').textContent()) ?? '', /1 alert delivery failed after its retries/);
  const html = await page.content();
  assert.doesNotMatch(html, /127\.0\.0\.1:\d+\/hooks|chat-secret|browser-secret/, 'neither the webhook URL nor the secret is on the page');
  assert.deepEqual(await page.evaluate(LOW_CONTRAST), []);
  await page.close();
  // The fleet page lists the failed delivery and links the repository's alerts (a new context:
  // the first test's visit to /ui is in this one's cache).
  const fresh = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  page = await fresh.newPage();
  assert.equal((await page.goto(`${base}/ui`))?.status(), 200);
  const failures = await page.locator('section[aria-labelledby="alert-failures"] tbody tr').allTextContents();
  assert.equal(failures.length, 1);
  assert.match(failures[0], new RegExp(`${repo.toLowerCase().replace(/[.]/g, '\\.')}updatewebhookreceiver answered 503 \\(2 attempts\\)`));
  await page.locator('section[aria-labelledby="alert-failures"] tbody a').click();
  assert.match(page.url(), /\/ui\/projects\/.+#alerts$/);
  assert.deepEqual(await page.evaluate(LOW_CONTRAST), []);
  await fresh.close();
});
