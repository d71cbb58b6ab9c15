// The fleet report (`posture report`), pure: repositories with their score, the change since a
// date, their weak checks and links, as Markdown (like scorecard-monitor's report, for a weekly
// commit or chat post) or JSON.

import { checkDocsUrl, diffUrl } from '../alerts/message.ts';
import { scoreDelta } from '../changes/diff.ts';
import type { ReportRow } from '../db/report.ts';

/** Checks below this score are listed as failing (Scorecard's 0: the practice is absent). */
export const WEAK_BELOW = 1;

export interface ReportEntry {
  repo: string;
  score: number;
  /** Score at the start of the period; null: first scored within it. */
  scoreAtStart: number | null;
  delta: number | null;
  resultDate: string;
  failing: boolean;
  weakChecks: Array<{ name: string; score: number; docs: string }>;
  links: { repository: string; dashboard?: string; diff?: string };
}

export interface Report {
  since: string;
  generatedAt: string;
  owner: string | null;
  repositories: number;
  averageScore: number | null;
  dropped: number;
  rose: number;
  entries: ReportEntry[];
}

/** `7d`, `24h`, `2w` or an ISO date → the start of the period. */
export function parseSince(s: string, now: Date): Date {
  const m = /^(\d{1,4})([hdw])$/.exec(s.trim());
  if (m) return new Date(now.getTime() - Number(m[1]) * { h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 }[m[2] as 'h' | 'd' | 'w']);
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/.test(s.trim())) {
    const d = new Date(s.trim());
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new Error(`--since takes a period (7d, 24h, 2w) or a date (2026-01-31), got ${JSON.stringify(s)}`);
}

export function buildReport(rows: ReportRow[], o: { since: Date; now: Date; owner?: string; publicUrl?: string }): Report {
  const entries = rows.map((r): ReportEntry => {
    const delta = r.baseScore === null ? null : scoreDelta(r.baseScore, r.score);
    const dashboard = diffUrl(o.publicUrl, r.canonical);
    const diff = r.baseId !== null && r.baseId !== r.scoreId ? diffUrl(o.publicUrl, r.canonical, r.baseId, r.scoreId) : undefined;
    return {
      repo: r.canonical,
      score: r.score,
      scoreAtStart: r.baseScore,
      delta,
      resultDate: r.resultDate.toISOString(),
      failing: r.failing,
      weakChecks: r.weakChecks.map((c) => ({ ...c, docs: checkDocsUrl(c.name) })),
      links: { repository: `https://${r.canonical}`, ...(dashboard ? { dashboard } : {}), ...(diff ? { diff } : {}) },
    };
  });
  // Biggest drops first, then the lowest scores: what needs attention leads.
  entries.sort((a, b) => (a.delta ?? 0) - (b.delta ?? 0) || a.score - b.score || a.repo.localeCompare(b.repo));
  const avg = entries.length ? Math.round((entries.reduce((n, e) => n + e.score, 0) / entries.length) * 10) / 10 : null;
  return {
    since: o.since.toISOString(),
    generatedAt: o.now.toISOString(),
    owner: o.owner ?? null,
    repositories: entries.length,
    averageScore: avg,
    dropped: entries.filter((e) => (e.delta ?? 0) < 0).length,
    rose: entries.filter((e) => (e.delta ?? 0) > 0).length,
    entries,
  };
}

const day = (iso: string) => iso.slice(0, 10);
const cell = (s: string) => s.replace(/\|/g, '\\|');
const signed = (d: number | null) => (d === null ? 'new' : d === 0 ? '0' : d > 0 ? `+${d.toFixed(1)} ↑` : `−${Math.abs(d).toFixed(1)} ↓`);

export function reportMarkdown(r: Report): string {
  const scope = r.owner ? `repositories of ${r.owner}` : 'the fleet';
  const lines = [
    `# Security posture report: ${scope}`,
    '',
    `From ${day(r.since)} to ${day(r.generatedAt)}. ${r.repositories} repositories scored${r.averageScore === null ? '' : `, average ${r.averageScore.toFixed(1)}`}; ${r.dropped} dropped, ${r.rose} rose. Scores are [OpenSSF Scorecard](https://scorecard.dev)'s; failing checks score 0.`,
    '',
    `| Repository | Score | Change since ${day(r.since)} | Failing checks | Links |`,
    '| --- | --- | --- | --- | --- |',
  ];
  for (const e of r.entries) {
    const weak = e.weakChecks.length ? e.weakChecks.map((c) => `[${c.name}](${c.docs})`).join(', ') : '';
    const links = [e.links.dashboard ? `[dashboard](${e.links.dashboard})` : '', e.links.diff ? `[diff](${e.links.diff})` : ''].filter(Boolean).join(' · ');
    lines.push(
      `| [${cell(e.repo)}](${e.links.repository}) | ${e.score.toFixed(1)}${e.failing ? ' (last run failed)' : ''} | ${signed(e.delta)} | ${weak} | ${links} |`,
    );
  }
  if (r.entries.length === 0) lines.push('| (no scored repositories) | | | | |');
  return `${lines.join('\n')}\n`;
}
