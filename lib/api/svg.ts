// Charts as inline SVG, drawn on the server from numbers: no script, no build step. Each chart
// has role="img", a <title> and a <desc> that says what it shows in words, text labels in the
// chart itself (not colour alone), and colours with at least 4.5:1 contrast on white.
import { escapeXml } from './render.ts';

export const INK = '#1a1a1a';
export const MUTED = '#595959';
export const BAR = '#1f5fa8';
export const GRID = '#d0d0d0';

/** Text colour of a score: red below 4, amber below 7, green from 7 (all ≥ 4.5:1 on white). */
export function scoreColor(score: number | null | undefined): string {
  if (score === null || score === undefined || score < 0) return MUTED;
  if (score < 4) return '#b3261e';
  if (score < 7) return '#8a5300';
  return '#1e6b30';
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

function frame(width: number, height: number, title: string, desc: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" class="chart" style="max-width:${width}px">` +
    `<title>${escapeXml(title)}</title><desc>${escapeXml(desc)}</desc>${body}</svg>`
  );
}

/** Vertical bars with their value above and their label below (the score histogram). */
export function barChart(
  bars: ReadonlyArray<{ label: string; value: number }>,
  options: { title: string; width?: number; height?: number; unit?: string },
): string {
  const width = options.width ?? 560;
  const height = options.height ?? 220;
  const top = 22;
  const bottom = 30;
  const plot = height - top - bottom;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const slot = width / Math.max(1, bars.length);
  const w = Math.max(4, slot * 0.7);
  let body = `<line x1="0" y1="${top + plot}" x2="${width}" y2="${top + plot}" stroke="${GRID}"/>`;
  bars.forEach((b, i) => {
    const h = Math.round((b.value / max) * plot);
    const x = i * slot + (slot - w) / 2;
    const cx = i * slot + slot / 2;
    body +=
      `<rect x="${x.toFixed(1)}" y="${top + plot - h}" width="${w.toFixed(1)}" height="${h}" fill="${BAR}"><title>${escapeXml(`${b.label}: ${b.value}`)}</title></rect>` +
      `<text x="${cx.toFixed(1)}" y="${top + plot - h - 5}" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(compact(b.value))}</text>` +
      `<text x="${cx.toFixed(1)}" y="${height - 10}" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(b.label)}</text>`;
  });
  const desc = bars.map((b) => `${b.label}: ${b.value}${options.unit ? ` ${options.unit}` : ''}`).join('; ');
  return frame(width, height, options.title, desc, body);
}

/** Horizontal bars of shares (0..1) with the label on the left and the percentage on the right (per-check pass rates). */
export function shareBars(rows: ReadonlyArray<{ label: string; share: number; note?: string }>, options: { title: string; width?: number }): string {
  const width = options.width ?? 560;
  const rowH = 24;
  const labelW = 170;
  const valueW = 60;
  const plotW = width - labelW - valueW;
  const height = rows.length * rowH + 4;
  let body = '';
  rows.forEach((r, i) => {
    const y = i * rowH + 2;
    const w = Math.round(Math.max(0, Math.min(1, r.share)) * plotW);
    body +=
      `<text x="${labelW - 8}" y="${y + 16}" font-size="13" text-anchor="end" fill="${INK}">${escapeXml(r.label)}</text>` +
      `<rect x="${labelW}" y="${y + 4}" width="${plotW}" height="${rowH - 8}" fill="#eef2f7"/>` +
      `<rect x="${labelW}" y="${y + 4}" width="${w}" height="${rowH - 8}" fill="${BAR}"><title>${escapeXml(`${r.label}: ${pct(r.share)}${r.note ? ` ${r.note}` : ''}`)}</title></rect>` +
      `<text x="${width - 4}" y="${y + 16}" font-size="13" text-anchor="end" fill="${INK}">${pct(r.share)}</text>`;
  });
  const desc = rows.map((r) => `${r.label}: ${pct(r.share)}`).join('; ');
  return frame(width, height, options.title, desc, body);
}

/** A score over time (0..10), oldest on the left, with labelled axes and a dot per result. */
export function lineChart(
  points: ReadonlyArray<{ at: Date; value: number; label?: string }>,
  options: { title: string; width?: number; height?: number; yMax?: number },
): string {
  const width = options.width ?? 640;
  const height = options.height ?? 220;
  const left = 34;
  const right = 12;
  const top = 12;
  const bottom = 34;
  const yMax = options.yMax ?? 10;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const sorted = [...points].sort((a, b) => a.at.getTime() - b.at.getTime());
  const t0 = sorted[0]?.at.getTime() ?? 0;
  const t1 = sorted[sorted.length - 1]?.at.getTime() ?? 1;
  const x = (t: number) => left + (t1 === t0 ? pw / 2 : ((t - t0) / (t1 - t0)) * pw);
  const y = (v: number) => top + ph - (Math.max(0, Math.min(yMax, v)) / yMax) * ph;
  let body = '';
  for (const tick of [0, yMax / 2, yMax]) {
    body += `<line x1="${left}" y1="${y(tick)}" x2="${width - right}" y2="${y(tick)}" stroke="${GRID}"/><text x="${left - 6}" y="${y(tick) + 4}" font-size="12" text-anchor="end" fill="${INK}">${fmt(tick)}</text>`;
  }
  if (sorted.length > 0) {
    const d = sorted.map((p, i) => `${i ? 'L' : 'M'}${x(p.at.getTime()).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    body += `<path d="${d}" fill="none" stroke="${BAR}" stroke-width="2"/>`;
    for (const p of sorted) {
      body += `<circle cx="${x(p.at.getTime()).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3.5" fill="${BAR}"><title>${escapeXml(`${day(p.at)}: ${fmt(p.value)}${p.label ? ` ${p.label}` : ''}`)}</title></circle>`;
    }
    body += `<text x="${left}" y="${height - 10}" font-size="12" fill="${INK}">${day(sorted[0].at)}</text>`;
    if (sorted.length > 1)
      body += `<text x="${width - right}" y="${height - 10}" font-size="12" text-anchor="end" fill="${INK}">${day(sorted[sorted.length - 1].at)}</text>`;
  }
  const desc =
    sorted.length === 0
      ? 'no results yet'
      : `${sorted.length} results from ${day(sorted[0].at)} to ${day(sorted[sorted.length - 1].at)}; ${sorted.map((p) => `${day(p.at)} ${fmt(p.value)}`).join(', ')}`;
  return frame(width, height, options.title, desc, body);
}

/** A small line of a check's scores over time (per-check history), with the newest value printed. */
export function sparkline(values: ReadonlyArray<number>, options: { title: string; width?: number; height?: number }): string {
  const width = options.width ?? 120;
  const height = options.height ?? 24;
  const pw = width - 4;
  const ph = height - 6;
  const n = values.length;
  const x = (i: number) => 2 + (n <= 1 ? pw / 2 : (i / (n - 1)) * pw);
  const y = (v: number) => 3 + ph - (Math.max(0, Math.min(10, v)) / 10) * ph;
  const known = values.map((v, i) => [i, v] as const).filter(([, v]) => v >= 0);
  let body = `<line x1="2" y1="${height - 3}" x2="${width - 2}" y2="${height - 3}" stroke="${GRID}"/>`;
  if (known.length) {
    body += `<path d="${known.map(([i, v], k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}" fill="none" stroke="${BAR}" stroke-width="1.5"/>`;
    const [li, lv] = known[known.length - 1];
    body += `<circle cx="${x(li).toFixed(1)}" cy="${y(lv).toFixed(1)}" r="2.5" fill="${BAR}"/>`;
  }
  return frame(width, height, options.title, values.map((v) => (v < 0 ? '?' : String(v))).join(', '), body);
}

export function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function compact(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(n >= 10_000_000 ? 0 : 1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  return String(n);
}

export function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
