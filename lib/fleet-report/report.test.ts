import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReportRow } from '../db/report.ts';
import { buildReport, parseSince, reportMarkdown } from './report.ts';

const NOW = new Date('2026-03-02T00:00:00Z');
const row = (canonical: string, score: number, baseScore: number | null, weak: string[] = []): ReportRow => ({
  canonical,
  owner: canonical.split('/')[1],
  scoreId: 10,
  score,
  resultDate: NOW,
  failing: false,
  baseId: baseScore === null ? null : 9,
  baseScore,
  weakChecks: weak.map((name) => ({ name, score: 0 })),
});

describe('parseSince', () => {
  for (const [s, want] of [
    ['7d', '2026-02-23T00:00:00.000Z'],
    ['24h', '2026-03-01T00:00:00.000Z'],
    ['2w', '2026-02-16T00:00:00.000Z'],
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
  ] as const)
    it(`${s} → ${want}`, () => assert.equal(parseSince(s, NOW).toISOString(), want));
  for (const bad of ['7', '7x', 'last week', '2026-13-45'])
    it(`refuses ${bad} in one line`, () => assert.throws(() => parseSince(bad, NOW), /^Error: --since takes/));
});

describe('buildReport and reportMarkdown', () => {
  const r = buildReport(
    [row('github.com/a/up', 8, 7), row('github.com/a/down', 5, 7.5, ['Code-Review']), row('github.com/a/new', 6, null), row('github.com/a/same', 4, 4)],
    {
      since: parseSince('7d', NOW),
      now: NOW,
      publicUrl: 'https://p.example',
    },
  );
  it('leads with the biggest drop; counts drops and rises; averages', () => {
    assert.deepEqual(
      r.entries.map((e) => [e.repo, e.delta]),
      [
        ['github.com/a/down', -2.5],
        ['github.com/a/same', 0],
        ['github.com/a/new', null],
        ['github.com/a/up', 1],
      ],
    );
    assert.deepEqual([r.repositories, r.dropped, r.rose, r.averageScore], [4, 1, 1, 5.8]);
  });
  it('a row per repository with its change, failing checks and links', () => {
    const md = reportMarkdown(r);
    assert.match(
      md,
      /\| \[github\.com\/a\/down\]\(https:\/\/github\.com\/a\/down\) \| 5\.0 \| −2\.5 ↓ \| \[Code-Review\]\([^)]+#code-review\) \| \[dashboard\]\(https:\/\/p\.example\/ui\/projects\/github\.com\/a\/down\) · \[diff\]\(https:\/\/p\.example\/ui\/projects\/github\.com\/a\/down\/diff\?from=9&to=10\) \|/,
    );
    assert.match(md, /\| \[github\.com\/a\/new\]\([^)]+\) \| 6\.0 \| new \|/);
    assert.match(md, /\| \+1\.0 ↑ \|/);
  });
  it('no public URL: no dashboard links; no repositories: says so', () => {
    assert.doesNotMatch(reportMarkdown(buildReport([row('github.com/a/b', 5, 6)], { since: NOW, now: NOW })), /dashboard/);
    assert.match(reportMarkdown(buildReport([], { since: NOW, now: NOW, owner: 'acme' })), /repositories of acme[\s\S]*\(no scored repositories\)/);
  });
});
