// The GitHub-issues target: one open issue per scored repository, found again by a label and a
// hidden marker in its body (so a restart, a replica or a redelivered event never opens a
// second one), commented on further changes (each comment carries its event's marker, so a
// redelivery does not post it twice) and closed on recovery.
//
// IssueTracker is the small interface the alerts service needs; RestIssueTracker implements it
// with plain undici calls to GitHub's REST API. It should move onto the shared GitHub client
// (lib/github, issue 37: POSTURE_GITHUB_API_URL, App auth, rate-limit budget) once that is on main.
import { type Dispatcher, request } from 'undici';
import { eventMarker, issueMarker } from './message.ts';

export const ALERT_LABEL = 'posture-alert';

/** A repository as `owner/name` (the issue's home). */
export interface IssueHome {
  owner: string;
  name: string;
}

export interface TrackedIssue {
  number: number;
  url: string;
}

export interface IssueTracker {
  /** The open issue carrying `marker` and `label`, if any. */
  findOpen(home: IssueHome, label: string, marker: string): Promise<TrackedIssue | undefined>;
  open(home: IssueHome, issue: { title: string; body: string; labels: string[] }): Promise<TrackedIssue>;
  /** Whether a comment on the issue already carries `marker`. */
  hasComment(home: IssueHome, number: number, marker: string): Promise<boolean>;
  comment(home: IssueHome, number: number, body: string): Promise<void>;
  close(home: IssueHome, number: number): Promise<void>;
}

export type IssuesMode = { kind: 'off' } | { kind: 'repository' } | { kind: 'tracker'; home: IssueHome };

/** POSTURE_ALERTS_GITHUB_ISSUES: off | repository | OWNER/NAME. */
export function issuesModeOf(setting: string): IssuesMode {
  if (setting === 'off') return { kind: 'off' };
  if (setting === 'repository') return { kind: 'repository' };
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\/([A-Za-z0-9._-]+)$/.exec(setting);
  if (!m) throw new Error(`POSTURE_ALERTS_GITHUB_ISSUES=${JSON.stringify(setting)} is invalid: expected off, repository or OWNER/NAME`);
  return { kind: 'tracker', home: { owner: m[1], name: m[2] } };
}

/** Where a scored repository's issue lives (`host/owner/name` or `owner/name` in). */
export function homeOf(mode: IssuesMode, repo: string): IssueHome | undefined {
  if (mode.kind === 'off') return undefined;
  if (mode.kind === 'tracker') return mode.home;
  const parts = repo.split('/');
  if (parts.length < 2) return undefined;
  return { owner: parts[parts.length - 2], name: parts[parts.length - 1] };
}

export class GitHubRequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'GitHubRequestError';
    this.status = status;
  }
}

export interface RestIssueTrackerOptions {
  /** https://api.github.com or https://HOST/api/v3. */
  apiUrl: string;
  token?: string;
  dispatcher?: Dispatcher;
  timeoutMs?: number;
}

const seg = encodeURIComponent;

export class RestIssueTracker implements IssueTracker {
  private readonly o: RestIssueTrackerOptions;
  constructor(o: RestIssueTrackerOptions) {
    this.o = { ...o, apiUrl: o.apiUrl.replace(/\/+$/, '') };
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH', pathOrUrl: string, body?: unknown): Promise<{ data: T; next?: string }> {
    const url = pathOrUrl.startsWith('https://') || pathOrUrl.startsWith('http://') ? pathOrUrl : `${this.o.apiUrl}${pathOrUrl}`;
    const res = await request(url, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'posture-alerts',
        ...(this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headersTimeout: this.o.timeoutMs ?? 15_000,
      bodyTimeout: this.o.timeoutMs ?? 15_000,
      ...(this.o.dispatcher ? { dispatcher: this.o.dispatcher } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) {
      let msg = '';
      try {
        msg = (JSON.parse(text) as { message?: string }).message ?? '';
      } catch {}
      // The path names the repository, never the token.
      throw new GitHubRequestError(res.statusCode, `GitHub answered ${res.statusCode} to ${method} ${new URL(url).pathname}${msg ? `: ${msg}` : ''}`);
    }
    const link = String(res.headers.link ?? '');
    const next = /<([^>]+)>;\s*rel="next"/.exec(link)?.[1];
    return { data: (text ? JSON.parse(text) : undefined) as T, ...(next ? { next } : {}) };
  }

  async findOpen(home: IssueHome, label: string, marker: string): Promise<TrackedIssue | undefined> {
    let url: string | undefined = `/repos/${seg(home.owner)}/${seg(home.name)}/issues?state=open&labels=${seg(label)}&per_page=100`;
    while (url) {
      const page: { data: Array<{ number: number; html_url: string; body?: string | null; pull_request?: unknown }>; next?: string } = await this.call(
        'GET',
        url,
      );
      const hit = page.data.find((i) => !i.pull_request && (i.body ?? '').includes(marker));
      if (hit) return { number: hit.number, url: hit.html_url };
      url = page.next;
    }
    return undefined;
  }

  async open(home: IssueHome, issue: { title: string; body: string; labels: string[] }): Promise<TrackedIssue> {
    const { data } = await this.call<{ number: number; html_url: string }>('POST', `/repos/${seg(home.owner)}/${seg(home.name)}/issues`, issue);
    return { number: data.number, url: data.html_url };
  }

  async hasComment(home: IssueHome, number: number, marker: string): Promise<boolean> {
    let url: string | undefined = `/repos/${seg(home.owner)}/${seg(home.name)}/issues/${number}/comments?per_page=100`;
    while (url) {
      const page: { data: Array<{ body?: string | null }>; next?: string } = await this.call('GET', url);
      if (page.data.some((c) => (c.body ?? '').includes(marker))) return true;
      url = page.next;
    }
    return false;
  }

  async comment(home: IssueHome, number: number, body: string): Promise<void> {
    await this.call('POST', `/repos/${seg(home.owner)}/${seg(home.name)}/issues/${number}/comments`, { body });
  }

  async close(home: IssueHome, number: number): Promise<void> {
    await this.call('PATCH', `/repos/${seg(home.owner)}/${seg(home.name)}/issues/${number}`, { state: 'closed', state_reason: 'completed' });
  }
}

/**
 * Applies one alert to a repository's issue, idempotently: opening finds an open issue with the
 * marker first (then comments instead); a comment is skipped when one with the event's marker is
 * there; closing comments (once) then closes. Returns the issue's URL (or why nothing was done).
 */
export async function applyToIssue(
  tracker: IssueTracker,
  home: IssueHome,
  a: { repo: string; eventId: string; action: 'open' | 'update' | 'close'; title: string; markdown: string },
): Promise<string> {
  const marker = issueMarker(a.repo);
  const existing = await tracker.findOpen(home, ALERT_LABEL, marker);
  if (!existing) {
    // Nothing open: a close has nothing to close; an update (its issue closed by hand) opens again.
    if (a.action === 'close') return 'no open issue to close';
    const issue = await tracker.open(home, { title: a.title, body: `${a.markdown}\n${marker}\n`, labels: [ALERT_LABEL] });
    return issue.url;
  }
  // The opening event redelivered: its issue is there (the body carries the event marker too).
  if (a.action === 'open' && (await tracker.findOpen(home, ALERT_LABEL, eventMarker(a.eventId)))?.number === existing.number) return existing.url;
  if (!(await tracker.hasComment(home, existing.number, eventMarker(a.eventId)))) await tracker.comment(home, existing.number, a.markdown);
  if (a.action === 'close') await tracker.close(home, existing.number);
  return existing.url;
}
