// The words of an alert: a one-paragraph `text` for chat tools, and a Markdown body for a GitHub
// issue or comment (check by check what changed, the dashboard's diff page, Scorecard's check docs).
// Pure.
import type { AlertAction, AlertInput } from './decide.ts';

export const SCORECARD_CHECKS_DOCS = 'https://github.com/ossf/scorecard/blob/main/docs/checks.md';

/** The hidden marker that finds a repository's issue again (in the issue body, never shown). */
export function issueMarker(repo: string): string {
  return `<!-- posture-alert repo=${repo.toLowerCase()} -->`;
}

/** The marker of one event in a comment: a redelivered event finds its comment and does not post it twice. */
export function eventMarker(eventId: string): string {
  return `<!-- posture-event id=${eventId.replace(/-->/g, '')} -->`;
}

export interface AlertMessage {
  /** Issue title. */
  title: string;
  /** One paragraph, for chat tools (Slack, Teams, Mattermost and Discord show `text`). */
  text: string;
  /** Markdown, for a GitHub issue body or comment. */
  markdown: string;
  /** The dashboard's page for this change, when POSTURE_PUBLIC_URL is set. */
  link?: string;
}

const pathOf = (repo: string) => repo.split('/').map(encodeURIComponent).join('/');

/** The dashboard's diff page of two results (its repository page without them). */
export function diffUrl(publicUrl: string | undefined, repo: string, from?: number, to?: number): string | undefined {
  if (!publicUrl) return undefined;
  const base = `${publicUrl.replace(/\/+$/, '')}/ui/projects/${pathOf(repo)}`;
  return from !== undefined && to !== undefined ? `${base}/diff?from=${from}&to=${to}` : base;
}

export function checkDocsUrl(check: string): string {
  return `${SCORECARD_CHECKS_DOCS}#${check.toLowerCase()}`;
}

const score = (n: number) => (n < 0 ? '?' : String(n));
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

const VERB: Record<AlertAction, string> = { open: 'dropped', update: 'changed again', close: 'recovered' };

/** The message for one decision about one event. */
export function alertMessage(input: AlertInput, action: AlertAction, reasons: string[], options: { publicUrl?: string } = {}): AlertMessage {
  const repo = input.repo;
  const title = `posture: ${repo} security posture ${input.kind === 'policy' && action === 'open' ? 'fails its policy' : 'dropped'}`;
  const lines: string[] = [];
  let link: string | undefined;
  if (input.kind === 'score') {
    const d = input.data;
    link = diffUrl(options.publicUrl, repo, d.from?.id, d.to.id);
    lines.push(`**${repo}**: Scorecard score ${d.from ? `${d.from.score.toFixed(1)} → ` : ''}${d.score.toFixed(1)}.`, '');
    const rows = d.changed.map(
      (c) =>
        `| [${c.name}](${checkDocsUrl(c.name)}) | ${score(c.from)} | ${score(c.to)} | ${c.delta === null ? '' : c.delta > 0 ? `+${c.delta}` : String(c.delta)} | ${cell(c.reasonTo ?? '')} |`,
    );
    for (const a of d.added) rows.push(`| [${a.name}](${checkDocsUrl(a.name)}) | (new) | ${score(a.score)} | | ${cell(a.reason ?? '')} |`);
    for (const r of d.removed) rows.push(`| [${r.name}](${checkDocsUrl(r.name)}) | ${score(r.score)} | (gone) | | |`);
    if (rows.length) lines.push('| Check | Before | After | Change | Why (Scorecard) |', '| --- | --- | --- | --- | --- |', ...rows, '');
  } else {
    const d = input.data;
    link = diffUrl(options.publicUrl, repo);
    lines.push(`**${repo}**: the policy ${d.to === 'fail' ? 'fails' : 'passes'}${d.from ? ` (was ${d.from})` : ''}.`, '');
    if (d.rules.length) lines.push('Failing rules:', '', ...d.rules.map((r) => `- \`${r}\``), '');
  }
  lines.push(...reasons.map((r) => `- ${r}`), '');
  if (link) lines.push(`[What changed, on the dashboard](${link})`, '');
  lines.push(`<sub>Sent by posture for event \`${input.id}\`.</sub>`, '', eventMarker(input.id));
  const text = `posture: ${repo} ${VERB[action]}: ${reasons.join('; ')}${link ? ` — ${link}` : ''}`;
  return { title, text, markdown: lines.join('\n'), ...(link ? { link } : {}) };
}
