// Rendering the score API's answers: pure functions from stored rows to JSON or SVG.
//
// A result is rendered in the public Scorecard REST API's shape (ossf/scorecard-webapp's
// ScorecardResult, as served by api.scorecard.dev): `date, repo{name, commit}, scorecard{version,
// commit}, score, checks[{name, score, reason, details, documentation{short, url}}]`, in that key
// order, and `metadata` only when the result carried some. Every value comes from the stored
// Scorecard document when it has it (so a stored API response round-trips exactly), otherwise
// from the stored columns. PostgreSQL's jsonb does not keep key order, hence the explicit order.
import type { HistoryEntry, RepoRef, StoredCheckRow, StoredResult } from './queries.ts';
import type { BadgeStyle } from './route.ts';

export interface ApiCheck {
  name: string;
  score: number;
  reason: string;
  details: string[] | null;
  documentation: { short: string; url: string } | null;
}

export interface ApiResult {
  date: string;
  repo: { name: string; commit: string };
  scorecard: { version: string; commit: string };
  score: number;
  checks: ApiCheck[];
  metadata?: string[] | string;
}

export interface ApiHistory {
  repo: string;
  count: number;
  history: Array<{ date: string; commit: string; score: number; scorecardVersion: string }>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** RFC 3339 in UTC, without fractional seconds when there are none (Scorecard's own format). */
export function rfc3339(d: Date): string {
  const s = d.toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
}

/** True when a stored document's checks can be rendered as they are. */
export function rawHasChecks(raw: unknown): boolean {
  return isObj(raw) && Array.isArray(raw.checks) && raw.checks.every((c) => isObj(c) && typeof c.name === 'string');
}

function renderCheck(c: Obj | StoredCheckRow): ApiCheck {
  const o = c as Obj;
  const doc = isObj(o.documentation) ? o.documentation : null;
  return {
    name: str(o.name) ?? '',
    score: num(o.score) ?? -1,
    reason: str(o.reason) ?? '',
    details: Array.isArray(o.details) ? o.details.filter((d): d is string => typeof d === 'string') : null,
    documentation: doc ? { short: str(doc.short) ?? '', url: str(doc.url) ?? '' } : null,
  };
}

/**
 * One stored result in the public API's shape. `checks` (the stored check rows) is used only when
 * the stored document lacks a usable checks array.
 */
export function renderResult(result: StoredResult, repo: RepoRef, checks?: readonly StoredCheckRow[]): ApiResult {
  const raw: Obj = isObj(result.raw) ? result.raw : {};
  const rawRepo = isObj(raw.repo) ? raw.repo : {};
  const rawScorecard = isObj(raw.scorecard) ? raw.scorecard : {};
  const out: ApiResult = {
    date: str(raw.date) ?? rfc3339(result.resultDate),
    repo: { name: str(rawRepo.name) ?? repo.canonical, commit: str(rawRepo.commit) ?? result.repoCommit },
    scorecard: { version: str(rawScorecard.version) ?? result.scorecardVersion, commit: str(rawScorecard.commit) ?? result.scorecardCommit },
    score: num(raw.score) ?? result.score,
    checks: (rawHasChecks(raw) ? (raw.checks as Obj[]) : (checks ?? [])).map(renderCheck),
  };
  if (Array.isArray(raw.metadata)) out.metadata = raw.metadata.filter((m): m is string => typeof m === 'string');
  else if (typeof raw.metadata === 'string') out.metadata = raw.metadata;
  return out;
}

export function renderHistory(repo: RepoRef, entries: readonly HistoryEntry[]): ApiHistory {
  return {
    repo: repo.canonical,
    count: entries.length,
    history: entries.map((e) => ({ date: rfc3339(e.resultDate), commit: e.repoCommit, score: e.score, scorecardVersion: e.scorecardVersion })),
  };
}

// ---- badge ----------------------------------------------------------------------------------

export const BADGE_LABEL = 'openssf scorecard';

/** shields.io's ossf-scorecard colour scale: <2 red, <5 yellow, <8 yellowgreen, <10 green, 10 brightgreen. */
export function badgeColor(score: number | undefined): string {
  if (score === undefined || !Number.isFinite(score) || score < 0) return '#9f9f9f'; // lightgrey: inconclusive / none
  if (score < 2) return '#e05d44';
  if (score < 5) return '#dfb317';
  if (score < 8) return '#a4a61d';
  if (score < 10) return '#97ca00';
  return '#4c1';
}

/** The badge's value text: `7.5`, `10`, or `inconclusive` for Scorecard's -1. */
export function badgeValue(score: number | undefined): string {
  if (score === undefined || !Number.isFinite(score) || score < 0) return 'inconclusive';
  return String(Number(score.toFixed(1)));
}

// Advance widths of Verdana at 11px (the badge font), enough for the label and values; others 7.
const WIDTHS: Record<string, number> = {
  ' ': 3.87,
  '.': 3.52,
  '-': 4.99,
  '?': 5.97,
  ':': 4.74,
  '0': 7,
  '1': 7,
  '2': 7,
  '3': 7,
  '4': 7,
  '5': 7,
  '6': 7,
  '7': 7,
  '8': 7,
  '9': 7,
  a: 6.65,
  b: 6.82,
  c: 5.72,
  d: 6.82,
  e: 6.59,
  f: 3.77,
  g: 6.82,
  h: 6.96,
  i: 3.01,
  j: 3.78,
  k: 6.51,
  l: 3.01,
  m: 10.7,
  n: 6.96,
  o: 6.66,
  p: 6.82,
  q: 6.82,
  r: 4.69,
  s: 5.72,
  t: 4.33,
  u: 6.96,
  v: 6.51,
  w: 8.98,
  x: 6.51,
  y: 6.51,
  z: 5.77,
};

export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += WIDTHS[ch] ?? 7;
  return Math.round(w);
}

/** Unicode's bidirectional formatting characters: ALM, LRM, RLM, the embeddings and overrides (LRE…RLO), the isolates (LRI…PDI). */
export const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Escapes text for XML (and HTML) content and attribute values. */
export function escapeXml(s: string): string {
  return (
    s
      .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
      // Characters XML 1.0 cannot carry at all.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      // Bidirectional controls shown as their escape (\u202E), never obeyed: a reason or a name
      // holding one would otherwise read in another order than it is written.
      .replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)
  );
}

/** A shields.io-style two-part badge ("openssf scorecard | 7.5"). Every text is escaped. */
export function renderBadge(score: number | undefined, options: { style?: BadgeStyle; label?: string; value?: string } = {}): string {
  const label = options.label ?? BADGE_LABEL;
  const value = options.value ?? badgeValue(score);
  const color = badgeColor(score);
  const lw = textWidth(label);
  const vw = textWidth(value);
  const lRect = lw + 10;
  const vRect = vw + 10;
  const width = lRect + vRect;
  const title = escapeXml(`${label}: ${value}`);
  const l = escapeXml(label);
  const v = escapeXml(value);
  const flat = (options.style ?? 'flat') === 'flat';
  const gradient = flat
    ? '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
    : '';
  const clip = flat ? `<clipPath id="r"><rect width="${width}" height="20" rx="3" fill="#fff"/></clipPath>` : '';
  const group = flat ? '<g clip-path="url(#r)">' : '<g shape-rendering="crispEdges">';
  const shade = flat ? `<rect width="${width}" height="20" fill="url(#s)"/>` : '';
  const text = (x: number, w: number, t: string) =>
    (flat ? `<text aria-hidden="true" x="${x * 10}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${w * 10}">${t}</text>` : '') +
    `<text x="${x * 10}" y="140" transform="scale(.1)" fill="#fff" textLength="${w * 10}">${t}</text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" role="img" aria-label="${title}">` +
    `<title>${title}</title>${gradient}${clip}${group}` +
    `<rect width="${lRect}" height="20" fill="#555"/><rect x="${lRect}" width="${vRect}" height="20" fill="${escapeXml(color)}"/>${shade}</g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">` +
    text(lRect / 2, lw, l) +
    text(lRect + vRect / 2, vw, v) +
    '</g></svg>'
  );
}
