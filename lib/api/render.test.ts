// Pure rendering tests: the public API's shape and key order, fallbacks, badge content and escaping.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repoPage } from './pages.ts';
import type { StoredResult } from './queries.ts';
import { badgeColor, badgeValue, escapeXml, renderBadge, renderHistory, renderResult, rfc3339 } from './render.ts';
import { FIXTURE_06_TEXT, fixture06 } from './testing.ts';

const REPO = { id: 1, canonical: 'github.com/ossf/scorecard', key: 'github.com/ossf/scorecard' };

/** Reorders keys like PostgreSQL's jsonb does (shorter keys first, then bytewise). */
function jsonbOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(jsonbOrder);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(keys.map((k) => [k, jsonbOrder((v as Record<string, unknown>)[k])]));
  }
  return v;
}

function stored(raw: unknown, over: Partial<StoredResult> = {}): StoredResult {
  return {
    scoreId: 1,
    score: 9.7,
    scorecardVersion: 'v5.3.0',
    scorecardCommit: 'c22063e786c11f9dd714d777a687ff7c4599b600',
    repoCommit: '80ee3ecfedf8b19ab8991713a9fdb2e7dcd7262e',
    resultDate: new Date('2025-11-15T02:10:48Z'),
    storedAt: new Date(),
    raw,
    ...over,
  };
}

test('fixture 06 renders byte-identical to the public API response, even from jsonb key order', () => {
  const fx = fixture06();
  const out = renderResult(stored(jsonbOrder(fx)), REPO);
  assert.deepEqual(out, fx);
  assert.equal(JSON.stringify(out), JSON.stringify(fx), 'same key order as the public API');
  assert.equal(`${JSON.stringify(out, null, 2)}\n`, FIXTURE_06_TEXT.endsWith('\n') ? FIXTURE_06_TEXT : `${FIXTURE_06_TEXT}\n`);
});

test('a CLI document (metadata null, CLI key order, annotations) renders in the API shape without metadata', () => {
  const fx = fixture06();
  const cli = {
    date: fx.date,
    repo: fx.repo,
    scorecard: fx.scorecard,
    score: fx.score,
    checks: fx.checks.map((c: any) => ({
      details: c.details,
      score: c.score,
      reason: c.reason,
      name: c.name,
      documentation: { url: c.documentation.url, short: c.documentation.short },
      annotations: ['x'],
    })),
    metadata: null,
  };
  assert.equal(JSON.stringify(renderResult(stored(cli), REPO)), JSON.stringify(fx));
});

test('metadata is kept when the result carried some', () => {
  const fx = fixture06();
  assert.deepEqual(renderResult(stored({ ...fx, metadata: ['criticality:0.9'] }), REPO).metadata, ['criticality:0.9']);
  assert.equal(renderResult(stored({ ...fx, metadata: 'm' }), REPO).metadata, 'm');
});

test('values missing from the document come from the stored columns and check rows', () => {
  const checks = [{ name: 'Fuzzing', score: -1, reason: 'internal error: boom', details: ['d'], documentation: null }];
  const out = renderResult(stored({ weird: true }, { score: 4.5 }), REPO, checks);
  assert.deepEqual(out, {
    date: '2025-11-15T02:10:48Z',
    repo: { name: 'github.com/ossf/scorecard', commit: '80ee3ecfedf8b19ab8991713a9fdb2e7dcd7262e' },
    scorecard: { version: 'v5.3.0', commit: 'c22063e786c11f9dd714d777a687ff7c4599b600' },
    score: 4.5,
    checks: [{ name: 'Fuzzing', score: -1, reason: 'internal error: boom', details: ['d'], documentation: null }],
  });
  assert.deepEqual(Object.keys(out.checks[0]), ['name', 'score', 'reason', 'details', 'documentation']);
});

test('a date-only (pre-v4.10.3) date is passed through as stored', () => {
  assert.equal(renderResult(stored({ ...fixture06(), date: '2022-01-31' }), REPO).date, '2022-01-31');
});

test('rfc3339 drops zero milliseconds only', () => {
  assert.equal(rfc3339(new Date('2025-11-15T02:10:48Z')), '2025-11-15T02:10:48Z');
  assert.equal(rfc3339(new Date('2025-11-15T02:10:48.123Z')), '2025-11-15T02:10:48.123Z');
});

test('history is compact', () => {
  const e = {
    scoreId: 2,
    score: 7.5,
    scorecardVersion: 'v5.3.0',
    repoCommit: 'a'.repeat(40),
    resultDate: new Date('2025-11-15T00:00:00Z'),
    storedAt: new Date(),
  };
  assert.deepEqual(renderHistory(REPO, [e]), {
    repo: 'github.com/ossf/scorecard',
    count: 1,
    history: [{ date: '2025-11-15T00:00:00Z', commit: 'a'.repeat(40), score: 7.5, scorecardVersion: 'v5.3.0' }],
  });
});

const colors: Array<[number | undefined, string, string]> = [
  [-1, 'inconclusive', '#9f9f9f'],
  [undefined, 'inconclusive', '#9f9f9f'],
  [Number.NaN, 'inconclusive', '#9f9f9f'],
  [0, '0', '#e05d44'],
  [1.9, '1.9', '#e05d44'],
  [2, '2', '#dfb317'],
  [4.9, '4.9', '#dfb317'],
  [5, '5', '#a4a61d'],
  [7.5, '7.5', '#a4a61d'],
  [8, '8', '#97ca00'],
  [9.7, '9.7', '#97ca00'],
  [10, '10', '#4c1'],
];
for (const [score, value, color] of colors) {
  test(`badge for ${score}: "${value}" in ${color}`, () => {
    assert.equal(badgeValue(score), value);
    assert.equal(badgeColor(score), color);
    const svg = renderBadge(score);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="20" role="img" aria-label="openssf scorecard: [^"]+">/);
    assert.ok(svg.includes(`<title>openssf scorecard: ${value}</title>`));
    assert.ok(svg.includes(`fill="${color}"`));
    assert.equal((svg.match(new RegExp(`>${value.replace('.', '\\.')}</text>`, 'g')) ?? []).length, 2, 'value text and its shadow');
    assert.ok(svg.endsWith('</svg>'));
  });
}

test('badge geometry: wider value, wider badge; flat-square has square corners and no gradient', () => {
  const w = (s: string) => Number(/width="(\d+)"/.exec(s)![1]);
  assert.ok(w(renderBadge(10)) > w(renderBadge(7)));
  assert.ok(w(renderBadge(-1)) > w(renderBadge(10)));
  const sq = renderBadge(7.5, { style: 'flat-square' });
  assert.ok(!sq.includes('rx="3"') && !sq.includes('linearGradient') && sq.includes('crispEdges'));
  assert.ok(renderBadge(7.5).includes('rx="3"'));
});

test('badge escapes every text', () => {
  const evil = `"><script>alert('x')</script>&\u0000`;
  const svg = renderBadge(5, { label: evil });
  assert.ok(!svg.includes('<script>'));
  assert.ok(!svg.includes('\u0000'));
  assert.ok(svg.includes('&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;&amp;'));
  assert.ok(svg.includes('aria-label="&quot;&gt;&lt;script&gt;'));
  assert.equal(escapeXml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
});

test('bidirectional controls are shown as their escapes, never obeyed, in every text a page or badge shows', () => {
  // "invoice\u202Egpj.exe" would read "invoiceexe.jpg"; each control of the set becomes visible text.
  assert.equal(escapeXml('invoice\u202Egpj.exe'), 'invoice\\u202Egpj.exe');
  for (const c of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
    const out = escapeXml(`a${c}b`);
    assert.equal(out, `a\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}b`);
  }
  assert.equal(escapeXml('שלום עולם'), 'שלום עולם', 'right-to-left text itself is untouched');
  const page = repoPage({
    repo: 'github.com/acme/widget',
    state: 'failing',
    failures: 1,
    lastError: 'clone failed: \u202Etxt.exe',
    nextDueAt: '2030-01-01T00:00:00.000Z',
    history: [],
    checkHistory: new Map(),
    runs: [{ id: 1, createdAt: '2030-01-01T00:00:00.000Z', finishedAt: null, outcome: 'failed', failureClass: 'repo', reason: 'see \u2067evil\u2069' }],
    badgeUrl: 'http://x/b',
    pageUrl: 'http://x/p',
  });
  assert.doesNotMatch(page, /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/, 'no bidi control reaches the page');
  assert.ok(page.includes('clone failed: \\u202Etxt.exe') && page.includes('see \\u2067evil\\u2069'));
});
