// The dashboard's pages: pure functions from data to HTML. Server-rendered, no JavaScript
// (expandable parts are <details>), one inline stylesheet, readable on a phone (fluid grid,
// tables scroll sideways on their own), every figure labelled in text, and every value that
// came from a repository or a Scorecard result escaped.

import type { ScoreChange } from '../changes/diff.ts';
import type { AuditFindingRow, AuditSnapshot } from '../db/audit.ts';
import { DEMO_OWNER, isDemoRepo } from '../repo/demo.ts';
import type { ListQuery } from './dashboard-route.ts';
import { LIST_SORTS, LIST_STATES, LIST_VERDICTS } from './dashboard-route.ts';
import type { FleetLive, FleetSnapshot } from './fleet.ts';
import { CHECK_PASS, sweepOf } from './fleet.ts';
import type { ListItem } from './list.ts';
import type { ApiResult } from './render.ts';
import { escapeXml as esc } from './render.ts';
import { barChart, lineChart, pct, scoreColor, shareBars, sparkline } from './svg.ts';

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff}
header{background:#14213d;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline}
header a{color:#fff;font-weight:600}
header nav{display:flex;gap:1rem;flex-wrap:wrap}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
a{color:#0b57a4}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:1rem}
.card{border:1px solid #c8c8c8;border-radius:6px;padding:.75rem 1rem}
.big{font-size:2rem;font-weight:700;line-height:1.1}
.muted{color:#595959}
.alert{border:2px solid #a40000;border-radius:6px;padding:.5rem 1rem;background:#fff4f4}
.demo{background:#fff4ce;border:1px solid #8a6d00;padding:.5rem 1rem;border-radius:6px;margin-bottom:1rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e0e0e0;vertical-align:top}
th{background:#f3f3f3}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.score{font-weight:700}
.verdict-pass{color:#0a5c0a;font-weight:600}.verdict-fail{color:#a40000;font-weight:600}.verdict-unknown{color:#595959;font-weight:600}
.tag{display:inline-block;font-size:.8rem;border:1px solid #595959;border-radius:3px;padding:0 .3rem;margin-left:.3rem}
details{margin:.2rem 0}
summary{cursor:pointer}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.5rem;font-size:.85rem}
code{overflow-wrap:anywhere}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.9rem}
input,select,button{font:inherit;padding:.3rem}
svg.chart{display:block;height:auto}
.down{color:#b3261e}.up{color:#1e6b30}
:focus-visible{outline:3px solid #0b57a4;outline-offset:2px}
`;

export function layout(title: string, body: string, options: { demo?: boolean } = {}): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${esc(title)} · posture</title><style>${CSS}</style></head><body>` +
    `<header><a href="/ui">posture</a><nav aria-label="main"><a href="/ui">Fleet</a><a href="/ui/projects">Repositories</a><a href="/ui/workloads">Workloads</a><a href="/export/latest.csv">CSV</a><a href="/export/latest.json">JSON</a></nav></header>` +
    `<main>${options.demo ? demoBanner() : ''}${body}</main></body></html>`
  );
}

function demoBanner(): string {
  return `<p class="demo" role="note"><strong>Demo data.</strong> Repositories under <code>${DEMO_OWNER}</code> were made up by <code>posture demo</code>; their scores are not real Scorecard results.</p>`;
}

export function repoHref(repo: string): string {
  return `/ui/projects/${repo.split('/').map(encodeURIComponent).join('/')}`;
}

function repoLink(repo: string): string {
  const demo = isDemoRepo(repo);
  return `<a href="${esc(repoHref(repo))}">${esc(repo)}</a>${demo ? '<span class="tag">demo</span>' : ''}`;
}

export function scoreText(score: number | null | undefined): string {
  if (score === null || score === undefined) return '<span class="muted">–</span>';
  if (score < 0) return '<span class="muted">?</span>';
  return `<span class="score" style="color:${scoreColor(score)}">${score.toFixed(1)}</span>`;
}

function deltaText(delta: number | null | undefined): string {
  if (delta === null || delta === undefined) return '<span class="muted">–</span>';
  if (delta === 0) return '±0';
  return delta < 0 ? `<span class="down">▼ ${Math.abs(delta).toFixed(1)}</span>` : `<span class="up">▲ ${delta.toFixed(1)}</span>`;
}

function duration(seconds: number | null): string {
  if (seconds === null) return 'unknown (nothing scored in the last hour)';
  if (seconds === 0) return 'nothing due';
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

const n = (x: number) => x.toLocaleString('en-US');
/** An ISO time to the minute, as the pages show times (UTC). */
const minute = (iso: string) => iso.slice(0, 16).replace('T', ' ');

function table(head: string[], rows: string[][], numeric: number[] = []): string {
  if (rows.length === 0) return '<p class="muted">None.</p>';
  const th = head.map((h, i) => `<th scope="col"${numeric.includes(i) ? ' class="num"' : ''}>${h}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('');
  return `<div class="scroll"><table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table></div>`;
}

/** What the fleet page shows of the policies in force (absent: none are). */
export interface FleetPolicy {
  policies: string[];
  compliance: { pass: number; fail: number; unknown: number; none: number; pending: number };
  rules: Array<{ policy: string; rule: string; repos: number }>;
}

/** A rule id as people read it: `checks.Code-Review` is Code-Review, `minimumScore` the policy's score. */
export function ruleText(rule: string): string {
  if (rule.startsWith('checks.')) return rule.slice('checks.'.length);
  return rule === 'minimumScore' ? 'minimum score' : rule === 'maxAge' ? 'maximum age' : rule;
}

export function verdictText(v: string): string {
  return `<span class="verdict-${esc(v)}">${esc(v)}</span>`;
}

function policySection(p: FleetPolicy | undefined): string {
  if (!p) return '';
  const c = p.compliance;
  const judged = c.pass + c.fail + c.unknown;
  const card = (label: string, value: number, verdict: string, note: string) =>
    `<div class="card"><div class="muted">${label}</div><div class="big"><a href="/ui/projects?verdict=${verdict}">${n(value)}</a></div><div class="muted">${note}</div></div>`;
  return (
    `<section aria-labelledby="compliance"><h2 id="compliance">Policy compliance</h2><div class="grid">` +
    card('Pass', c.pass, 'pass', judged ? `${pct(c.pass / judged)} of the repositories judged` : 'none judged yet') +
    card('Fail', c.fail, 'fail', 'a rule is broken') +
    card('Unknown', c.unknown, 'unknown', 'a rule cannot be judged, or no result, or too old') +
    `</div><p class="muted">Policies in force: ${p.policies.map(esc).join(', ')}.${c.none ? ` ${n(c.none)} repositories match no policy.` : ''}${c.pending ? ` ${n(c.pending)} not judged under these policies yet.` : ''}</p>` +
    `<h3 id="failing-rules">Rules failing most</h3>` +
    table(
      ['Policy', 'Rule', 'Repositories failing it'],
      p.rules.map((r) => [esc(r.policy), esc(ruleText(r.rule)), n(r.repos)]),
      [2],
    ) +
    `</section>`
  );
}

/** Alert deliveries that failed after their retries (newest first), for the fleet page. */
export type FailedAlertDelivery = { repo: string; target: string; action: string; attempts: number; lastError: string | null; updatedAt: string };

function failedAlertsSection(failed: readonly FailedAlertDelivery[]): string {
  if (failed.length === 0) return '';
  return (
    `<section aria-labelledby="alert-failures"><h2 id="alert-failures">Alert deliveries that failed</h2>` +
    `<p class="alert" role="status">${n(failed.length)} alert deliver${failed.length === 1 ? 'y' : 'ies'} failed after ${failed.length === 1 ? 'its' : 'their'} retries (the newest 20 are listed); each is retried when its change event comes again.</p>` +
    table(
      ['When', 'Repository', 'Alert', 'Target', 'Why'],
      failed.map((f) => [
        esc(minute(f.updatedAt)),
        `<a href="${esc(repoHref(f.repo))}#alerts">${esc(f.repo)}</a>`,
        esc(f.action),
        esc(f.target),
        `${esc((f.lastError ?? '').slice(0, 200))} (${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`,
      ]),
    ) +
    `</section>`
  );
}

export function fleetPage(s: FleetSnapshot, live: FleetLive, now: Date, policy?: FleetPolicy, failedAlerts: readonly FailedAlertDelivery[] = []): string {
  const sweep = sweepOf(s);
  const st = s.states;
  const card = (label: string, value: number, state: string, note: string) =>
    `<div class="card"><div class="muted">${label}</div><div class="big"><a href="/ui/projects?state=${state}">${n(value)}</a></div><div class="muted">${note}</div></div>`;
  const hist = barChart(
    s.histogram.map((v, i) => ({ label: i === 10 ? '10' : `${i}–${i + 1}`, value: v })),
    { title: 'Repositories by newest score', unit: 'repositories' },
  );
  const checks = s.checks.length
    ? shareBars(
        s.checks.map((c) => ({ label: c.name, share: c.scored ? c.passing / c.scored : 0, note: `(${n(c.passing)} of ${n(c.scored)})` })),
        { title: `Share of repositories passing each check (score ${CHECK_PASS} or more)` },
      )
    : '<p class="muted">No checks scored yet.</p>';
  // Said first and plainly: nothing is being scored, and no repository is to blame.
  const paused = live.paused
    ? `<p class="alert" role="alert"><strong>Paused${live.paused.reason === 'credentials' ? ': GitHub refused the token' : ": GitHub's rate limit is spent"}.</strong> ${esc(live.paused.message)}.</p>`
    : '';
  const stuckCount = s.stuck ?? 0;
  const stuck = stuckCount
    ? `<p class="alert" role="status"><a href="/ui/projects?state=stuck">${n(stuckCount)} ${stuckCount === 1 ? 'repository is' : 'repositories are'} stuck</a>: their newest runs failed for reasons not their own (the node, the image, a Secret); they are retried on the failure backoff.</p>`
    : '';
  const body =
    `<h1>Fleet</h1>${paused}${stuck}${failedAlertsSection(failedAlerts)}` +
    `<section aria-labelledby="states"><h2 id="states">Repositories by state</h2><div class="grid">` +
    card('Fresh', st.fresh, 'fresh', 'scored within the interval') +
    card('Overdue', st.overdue, 'overdue', 'newest score older than the interval') +
    card('Failing', st.failing, 'failing', 'newest run failed') +
    card('Never scored', st.never, 'never', 'added, no result yet') +
    `</div><p class="muted">${n(s.total)} repositories. Figures as of ${esc(s.computedAt.replace('T', ' ').slice(0, 19))} UTC (recomputed every minute, or ten times as long as it takes: ${n(s.tookMs)} ms).</p></section>` +
    policySection(policy) +
    `<section aria-labelledby="sweep"><h2 id="sweep">Sweep</h2><div class="grid">` +
    `<div class="card"><div class="muted">Scored within the interval</div><div class="big">${pct(sweep.freshShare)}</div></div>` +
    `<div class="card"><div class="muted">Due now</div><div class="big">${n(s.due)}</div><div class="muted">${n(sweep.ratePerHour)} scored in the last hour, ${n(s.scoredLastDay)} in the last day</div></div>` +
    `<div class="card"><div class="muted">Backlog clears in</div><div class="big">${duration(sweep.etaSeconds)}</div><div class="muted">at the last hour's rate</div></div>` +
    `<div class="card"><div class="muted">Repositories being scored</div><div class="big">${n(live.running)}</div><div class="muted">this hour's GitHub budget: ${n(live.budget.used)} of ${live.budget.perHour === null ? 'unlimited' : n(live.budget.perHour)} runs</div></div>` +
    `</div></section>` +
    `<section aria-labelledby="dist"><h2 id="dist">Score distribution</h2>${hist}</section>` +
    `<section aria-labelledby="checks"><h2 id="checks">Checks across the fleet</h2>${checks}</section>` +
    `<div class="grid">` +
    `<section aria-labelledby="lowest"><h2 id="lowest">Lowest scores</h2>${table(
      ['Repository', 'Score'],
      live.lowest.map((r) => [repoLink(r.repo), scoreText(r.score)]),
      [1],
    )}</section>` +
    `<section aria-labelledby="drops"><h2 id="drops">Biggest recent drops</h2>${table(
      ['Repository', 'Was', 'Now', 'Change'],
      live.drops.map((r) => [
        `${repoLink(r.repo)} <a href="${esc(repoHref(r.repo))}/diff">diff</a>`,
        scoreText(r.previousScore),
        scoreText(r.score),
        deltaText(r.delta),
      ]),
      [1, 2, 3],
    )}</section>` +
    `</div>` +
    `<section aria-labelledby="failures"><h2 id="failures">Failures in the last 24 hours</h2>` +
    table(
      ['Class', 'Runs'],
      (s.failuresByClass ?? []).map((f) => [esc(f.failureClass), n(f.count)]),
      [1],
    ) +
    (live.recentFailures.length
      ? `<details><summary>Latest failed runs</summary>${table(
          ['When', 'Repository', 'Class', 'Reason'],
          live.recentFailures.map((f) => [esc(f.at.slice(0, 16).replace('T', ' ')), repoLink(f.repo), esc(f.failureClass), esc(f.reason.slice(0, 300))]),
        )}</details>`
      : '') +
    `</section>` +
    `<p class="muted">Page drawn ${esc(now.toISOString().slice(0, 19).replace('T', ' '))} UTC. Data: <a href="/projects?sort=score">JSON list</a>, <a href="/export/latest.csv">CSV export</a>.</p>`;
  return layout('Fleet', body, { demo: live.demo });
}

function listHref(q: Partial<ListQuery>, cursor?: string): string {
  const p = new URLSearchParams();
  if (q.owner) p.set('owner', q.owner);
  if (q.min !== undefined) p.set('min', String(q.min));
  if (q.max !== undefined) p.set('max', String(q.max));
  if (q.state) p.set('state', q.state);
  if (q.verdict) p.set('verdict', q.verdict);
  if (q.sort && q.sort !== 'name') p.set('sort', q.sort);
  if (q.limit && q.limit !== 100) p.set('limit', String(q.limit));
  if (cursor) p.set('cursor', cursor);
  const s = p.toString();
  return `/ui/projects${s ? `?${s}` : ''}`;
}

export function listPage(q: ListQuery, items: ListItem[], nextCursor: string | undefined, demo: boolean, policies = false): string {
  const opt = (values: readonly string[], current: string | undefined, any?: string) =>
    (any !== undefined ? `<option value=""${current ? '' : ' selected'}>${any}</option>` : '') +
    values.map((v) => `<option${v === current ? ' selected' : ''}>${v}</option>`).join('');
  const form =
    `<form class="filters" method="get" action="/ui/projects">` +
    `<label>Owner<input name="owner" value="${esc(q.owner ?? '')}" maxlength="39"></label>` +
    `<label>Min score<input name="min" inputmode="decimal" size="4" value="${q.min ?? ''}"></label>` +
    `<label>Max score<input name="max" inputmode="decimal" size="4" value="${q.max ?? ''}"></label>` +
    `<label>State<select name="state">${opt(LIST_STATES, q.state, 'any')}</select></label>` +
    (policies || q.verdict ? `<label>Verdict<select name="verdict">${opt(LIST_VERDICTS, q.verdict, 'any')}</select></label>` : '') +
    `<label>Sort<select name="sort">${opt(LIST_SORTS, q.sort)}</select></label>` +
    `<button type="submit">Show</button></form>`;
  const rows = items.map((i) => [
    repoLink(i.repo),
    i.stuck ? `${esc(i.state)}, <strong>stuck</strong>` : esc(i.state),
    scoreText(i.score),
    deltaText(i.delta),
    i.date
      ? esc(i.date.slice(0, 10)) +
        (i.futureDated ? ` <span class="tag" title="dated after posture stored it: the scorecard pod's clock is ahead">future-dated</span>` : '')
      : '–',
    i.stuck
      ? `0 <span class="muted">not its own: ${esc(i.stuck.slice(0, 80))}</span>`
      : i.failures
        ? `${i.failures}${i.lastError ? ` <span class="muted">${esc(i.lastError.slice(0, 80))}</span>` : ''}`
        : '0',
    ...(policies
      ? [
          i.policy
            ? `${verdictText(i.policy.verdict)} <span class="muted">${esc(i.policy.name)}</span>${i.policy.failing.length ? `: ${i.policy.failing.map((r) => esc(ruleText(r))).join(', ')}` : ''}`
            : '<span class="muted">–</span>',
        ]
      : []),
  ]);
  const next = nextCursor ? `<p><a rel="next" href="${esc(listHref(q, nextCursor))}">Next page</a></p>` : '';
  return layout(
    'Repositories',
    `<h1>Repositories</h1>${form}${table(['Repository', 'State', 'Score', 'Change', 'Result date', 'Failures', ...(policies ? ['Policy'] : [])], rows, [2, 3])}${next}`,
    { demo },
  );
}

export interface RepoPageData {
  repo: string;
  state: string;
  failures: number;
  lastError: string | null;
  nextDueAt: string;
  result?: ApiResult;
  resultId?: number;
  /** The newest result is dated after posture stored it, beyond the tolerance: its date and when it was stored. */
  futureDated?: { date: string; storedAt: string };
  /** Newest stored first; `date` is the result's own, `storedAt` when posture stored it. */
  history: Array<{ id: number; score: number; date: string; storedAt: string; futureDated: boolean; commit: string; delta: number | null }>;
  /** Per check, its scores oldest first over the results in `history` (newest 20). */
  checkHistory: Map<string, number[]>;
  runs: Array<{ id: number; createdAt: string; finishedAt: string | null; outcome: string; failureClass: string | null; reason: string | null }>;
  badgeUrl: string;
  pageUrl: string;
  /** The verdict under the policy that applies (absent: no policy, or not judged yet). */
  policy?: { name: string; verdict: string; score: number | null; reasons: Array<{ verdict: string; rule: string; message: string }> };
  /** Alerts sent (or not) for this repository, newest first, each with its deliveries. */
  alerts?: Array<{
    eventId: string;
    action: string;
    receivedAt: string;
    reasons: string[];
    deliveries: Array<{ target: string; status: string; attempts: number; lastError: string | null; detail: string | null }>;
  }>;
}

function alertsSection(d: RepoPageData): string {
  if (!d.alerts?.length) return '';
  const failed = d.alerts.flatMap((a) => a.deliveries.filter((x) => x.status === 'failed'));
  return (
    `<section aria-labelledby="alerts"><h2 id="alerts">Alerts</h2>` +
    (failed.length
      ? `<p class="alert" role="status" id="alert-failures">${failed.length} alert deliver${failed.length > 1 ? 'ies' : 'y'} failed after ${failed.length > 1 ? 'their' : 'its'} retries; ${failed.length > 1 ? 'they are' : 'it is'} retried when the change event comes again.</p>`
      : '') +
    table(
      ['When', 'Alert', 'Why', 'Delivered to'],
      d.alerts.map((a) => [
        esc(minute(a.receivedAt)),
        esc(a.action),
        esc(a.reasons.join('; ')),
        a.deliveries.length
          ? a.deliveries
              .map((x) =>
                x.status === 'failed'
                  ? `${esc(x.target)}: <strong>failed</strong> after ${x.attempts} attempt${x.attempts === 1 ? '' : 's'}${x.lastError ? ` (${esc(x.lastError.slice(0, 200))})` : ''}`
                  : // Only web links: the issue URL is GitHub's answer.
                    `${esc(x.target)}: ${esc(x.status)}${x.detail && /^https?:\/\//i.test(x.detail) ? ` <a href="${esc(x.detail)}" rel="noopener noreferrer">issue</a>` : ''}`,
              )
              .join('<br>')
          : '<span class="muted">no target configured</span>',
      ]),
    ) +
    `</section>`
  );
}

export function repoPage(d: RepoPageData): string {
  const r = d.result;
  const head =
    `<h1>${esc(d.repo)}${isDemoRepo(d.repo) ? '<span class="tag">demo</span>' : ''}</h1>` +
    `<div class="grid"><div class="card"><div class="muted">Score</div><div class="big">${scoreText(r?.score)}</div><div class="muted">${r ? `Scorecard ${esc(r.scorecard.version)}, ${esc(r.date.slice(0, 10))}, commit <code>${esc(r.repo.commit.slice(0, 12))}</code>` : 'not scored yet'}</div></div>` +
    `<div class="card"><div class="muted">State</div><div class="big">${esc(d.state)}</div><div class="muted">next run due ${esc(d.nextDueAt.slice(0, 16).replace('T', ' '))} UTC${d.failures ? `; ${d.failures} failed run${d.failures > 1 ? 's' : ''} in a row` : ''}</div></div></div>` +
    (d.lastError ? `<p><strong>Last error:</strong> ${esc(d.lastError)}</p>` : '') +
    (d.policy
      ? `<section aria-labelledby="policy"><h2 id="policy">Policy ${esc(d.policy.name)}: ${verdictText(d.policy.verdict)}</h2>` +
        `<p class="muted">Policy score ${scoreText(d.policy.score)}.</p>` +
        table(
          ['Verdict', 'Rule', 'Why'],
          d.policy.reasons.map((r) => [verdictText(r.verdict), esc(ruleText(r.rule)), esc(r.message)]),
        ) +
        `</section>`
      : '') +
    (d.futureDated
      ? `<p class="alert" role="status" id="future-dated">This result is dated ${esc(minute(d.futureDated.date))} UTC, after posture stored it on ${esc(minute(d.futureDated.storedAt))} UTC: the scorecard pod's clock is ahead. Results are ordered by when posture stored them.</p>`
      : '');
  const checks = r
    ? `<section aria-labelledby="checks"><h2 id="checks">Checks</h2>` +
      table(
        ['Check', 'Score', 'History', 'Reason'],
        [...r.checks]
          .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
          .map((c) => {
            const hist = d.checkHistory.get(c.name) ?? [];
            // Only web links: a result's URL is data, and a javascript: or data: link must not become one.
            const doc =
              c.documentation?.url && /^https?:\/\//i.test(c.documentation.url)
                ? ` <a href="${esc(c.documentation.url)}" rel="noopener noreferrer">docs</a>`
                : '';
            const details = c.details?.length
              ? `<details><summary>${c.details.length} detail${c.details.length > 1 ? 's' : ''}</summary><pre>${esc(c.details.join('\n'))}</pre></details>`
              : '';
            const short = c.documentation?.short ? `<div class="muted">${esc(c.documentation.short)}</div>` : '';
            return [
              `<strong>${esc(c.name)}</strong>${doc}${short}`,
              scoreText(c.score),
              hist.length > 1 ? sparkline(hist, { title: `${c.name} over the last ${hist.length} results` }) : '',
              esc(c.reason) + details,
            ];
          }),
        [1],
      ) +
      `</section>`
    : '';
  const chart = d.history.length
    ? `<section aria-labelledby="hist"><h2 id="hist">Score history</h2>${lineChart(
        // Along the stored time: a result's own date can be off (the pod's clock).
        d.history.map((h) => ({ at: new Date(h.storedAt), value: h.score })),
        { title: `Score of ${d.repo} over time` },
      )}</section>`
    : '';
  const options = (selected: number | undefined) =>
    d.history
      .map((h) => `<option value="${h.id}"${h.id === selected ? ' selected' : ''}>${esc(h.date.slice(0, 10))} · ${h.score.toFixed(1)} · #${h.id}</option>`)
      .join('');
  const diffForm =
    d.history.length > 1
      ? `<section aria-labelledby="diff"><h2 id="diff">Compare two runs</h2><form class="filters" method="get" action="${esc(repoHref(d.repo))}/diff">` +
        `<label>From<select name="from">${options(d.history[1].id)}</select></label><label>To<select name="to">${options(d.history[0].id)}</select></label><button type="submit">Compare</button></form>` +
        table(
          ['Date', 'Score', 'Change', 'Commit', ''],
          d.history
            .slice(0, 20)
            .map((h, i) => [
              esc(h.date.slice(0, 10)) +
                (h.futureDated
                  ? ` <span class="tag" title="dated after posture stored it on ${esc(minute(h.storedAt))} UTC: the scorecard pod's clock is ahead">future-dated</span>`
                  : ''),
              scoreText(h.score),
              deltaText(h.delta),
              `<code>${esc(h.commit.slice(0, 12))}</code>`,
              i + 1 < d.history.length ? `<a href="${esc(repoHref(d.repo))}/diff?from=${d.history[i + 1].id}&amp;to=${h.id}">diff</a>` : '',
            ]),
          [1, 2],
        ) +
        `</section>`
      : '';
  const runs =
    `<section aria-labelledby="runs"><h2 id="runs">Runs</h2>` +
    table(
      ['Finished', 'Outcome', 'Failure'],
      d.runs.map((x) => [
        esc((x.finishedAt ?? x.createdAt).slice(0, 16).replace('T', ' ')) + (x.finishedAt ? '' : ' <span class="muted">(started)</span>'),
        esc(x.outcome),
        x.failureClass ? `<strong>${esc(x.failureClass)}</strong> ${esc((x.reason ?? '').slice(0, 300))}` : '',
      ]),
    ) +
    `</section>`;
  const badge =
    `<section aria-labelledby="badge"><h2 id="badge">Badge</h2><p><img src="${esc(d.badgeUrl)}" alt="OpenSSF Scorecard badge of ${esc(d.repo)}"></p>` +
    `<label for="badge-md">Markdown</label><pre id="badge-md">${esc(`[![OpenSSF Scorecard](${d.badgeUrl})](${d.pageUrl})`)}</pre></section>`;
  return layout(d.repo, head + checks + chart + diffForm + alertsSection(d) + runs + badge, { demo: isDemoRepo(d.repo) });
}

export function diffPage(repo: string, c: ScoreChange): string {
  const side = (label: string, r: ScoreChange['from']) =>
    r
      ? `<div class="card"><div class="muted">${label}</div><div class="big">${scoreText(r.score)}</div><div class="muted">${esc(r.date.slice(0, 10))}, result #${r.id}, commit <code>${esc(r.commit.slice(0, 12))}</code></div></div>`
      : `<div class="card"><div class="muted">${label}</div><div class="big muted">–</div><div class="muted">first result: nothing to compare with</div></div>`;
  const body =
    `<h1>Changes in <a href="${esc(repoHref(repo))}">${esc(repo)}</a></h1>` +
    `<div class="grid">${side('From', c.from)}${side('To', c.to)}<div class="card"><div class="muted">Change</div><div class="big">${deltaText(c.delta)}</div><div class="muted">${c.changed.length} checks changed, ${c.added.length} added, ${c.removed.length} removed, ${c.unchanged} unchanged</div></div></div>` +
    `<section aria-labelledby="changed"><h2 id="changed">Checks that changed</h2>` +
    table(
      ['Check', 'From', 'To', 'Change', 'Reason now'],
      c.changed.map((x) => [
        esc(x.name),
        scoreText(x.from),
        scoreText(x.to),
        deltaText(x.delta),
        esc(x.reasonTo ?? '') + (x.reasonFrom ? `<details><summary>before</summary>${esc(x.reasonFrom)}</details>` : ''),
      ]),
      [1, 2, 3],
    ) +
    `</section>` +
    `<section aria-labelledby="added"><h2 id="added">Checks added</h2>${table(
      ['Check', 'Score', 'Reason'],
      c.added.map((x) => [esc(x.name), scoreText(x.score), esc(x.reason ?? '')]),
      [1],
    )}</section>` +
    `<section aria-labelledby="removed"><h2 id="removed">Checks removed</h2>${table(
      ['Check', 'Score then', 'Reason then'],
      c.removed.map((x) => [esc(x.name), scoreText(x.score), esc(x.reason ?? '')]),
      [1],
    )}</section>` +
    `<p><a href="/projects/${repo.split('/').map(encodeURIComponent).join('/')}/changes${c.from ? `?from=${c.from.id}&amp;to=${c.to.id}` : ''}">This diff as JSON</a></p>`;
  return layout(`Changes in ${repo}`, body, { demo: isDemoRepo(repo) });
}

export function errorPage(status: number, message: string): string {
  return layout(
    `Error ${status}`,
    `<h1>${status === 404 ? 'Not found' : 'Cannot show this page'}</h1><p>${esc(message)}</p><p><a href="/ui">Back to the fleet</a></p>`,
  );
}

/** Rows the workloads page shows (the worst first); the PolicyReports and `posture audit` have all. */
export const WORKLOADS_PAGE_ROWS = 500;

const RESULT_TEXT: Record<AuditFindingRow['result'], string> = { fail: 'below the bar', warn: 'not scored yet', error: 'not a repository' };

/** Running workloads below the bar: the last audit's findings that are not passes. */
export function workloadsPage(run: AuditSnapshot | undefined, findings: readonly AuditFindingRow[], now: Date): string {
  if (!run)
    return layout(
      'Running workloads below the bar',
      '<h1>Running workloads below the bar</h1><p>No audit has run yet. The auditor runs every hour in the cluster; <code>posture audit --write</code> runs one now.</p>',
    );
  const s = run.summary as Record<string, number>;
  const age = Math.max(0, Math.round((now.getTime() - run.finishedAt.getTime()) / 60000));
  const rows = findings.map((f) => [
    esc(f.namespace),
    esc(f.kind),
    esc(f.name),
    f.result === 'error' ? `<code>${esc(f.repo)}</code>` : repoLink(f.repo),
    scoreText(f.score),
    `<span class="${f.result === 'warn' ? 'muted' : 'down'}">${RESULT_TEXT[f.result]}</span>`,
  ]);
  const shown =
    findings.length < (s.kept ?? findings.length)
      ? `<p class="muted">The ${n(findings.length)} worst of ${n(s.kept)} are shown; <code>posture audit</code> lists them all.</p>`
      : '';
  return layout(
    'Running workloads below the bar',
    `<h1>Running workloads below the bar</h1>` +
      `<p>Last audit ${minute(run.finishedAt.toISOString())} UTC (${age} min ago): ${n(s.workloads ?? 0)} workloads declare a repository in ${n(s.namespaces ?? 0)} namespaces; ` +
      `<strong>${n(s.fail ?? 0)}</strong> below the bar, ${n(s.warn ?? 0)} not scored yet, ${n(s.error ?? 0)} not a repository, ${n(s.pass ?? 0)} pass.</p>` +
      shown +
      table(['Namespace', 'Kind', 'Name', 'Repository', 'Score', 'Result'], rows, [4]),
  );
}
