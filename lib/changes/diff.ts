// What changed between two Scorecard results of one repository, and whether people should
// hear about it. Pure: the harvester, the changes route and the diff page all use these.

export interface CheckScore {
  name: string;
  /** 0-10, or -1 for inconclusive. */
  score: number;
  reason?: string;
}

export interface ResultRef {
  id: number;
  score: number;
  date: string;
  commit: string;
}

export interface CheckChange {
  name: string;
  from: number;
  to: number;
  /** to − from; null when either side is inconclusive (-1). */
  delta: number | null;
  reasonFrom?: string;
  reasonTo?: string;
}

export interface ScoreChange {
  from: ResultRef | null;
  to: ResultRef;
  /** to.score − from.score, to one decimal; null for a first result. */
  delta: number | null;
  changed: CheckChange[];
  added: CheckScore[];
  removed: CheckScore[];
  unchanged: number;
}

/** Scores have one decimal: compute the delta in tenths so 7.3 − 7.1 is 0.2, not 0.19999999999999929. */
export function scoreDelta(from: number, to: number): number {
  return (Math.round(to * 10) - Math.round(from * 10)) / 10;
}

/** The change from `from` (the earlier result, or null for a first result) to `to`, check by check. */
export function diffResults(from: (ResultRef & { checks: readonly CheckScore[] }) | null, to: ResultRef & { checks: readonly CheckScore[] }): ScoreChange {
  const before = new Map((from?.checks ?? []).map((c) => [c.name, c]));
  const after = new Map(to.checks.map((c) => [c.name, c]));
  const changed: CheckChange[] = [];
  const added: CheckScore[] = [];
  const removed: CheckScore[] = [];
  let unchanged = 0;
  for (const [name, c] of after) {
    const b = before.get(name);
    if (!from) continue;
    if (!b) {
      added.push({ name, score: c.score, ...(c.reason !== undefined ? { reason: c.reason } : {}) });
      continue;
    }
    if (b.score === c.score) {
      unchanged++;
      continue;
    }
    changed.push({
      name,
      from: b.score,
      to: c.score,
      delta: b.score < 0 || c.score < 0 ? null : c.score - b.score,
      ...(b.reason !== undefined ? { reasonFrom: b.reason } : {}),
      ...(c.reason !== undefined ? { reasonTo: c.reason } : {}),
    });
  }
  if (from)
    for (const [name, b] of before) if (!after.has(name)) removed.push({ name, score: b.score, ...(b.reason !== undefined ? { reason: b.reason } : {}) });
  // Biggest drops first, then by name: what needs attention leads.
  changed.sort((a, b) => (a.delta ?? 0) - (b.delta ?? 0) || a.name.localeCompare(b.name));
  added.sort((a, b) => a.name.localeCompare(b.name));
  removed.sort((a, b) => a.name.localeCompare(b.name));
  const strip = (r: ResultRef): ResultRef => ({ id: r.id, score: r.score, date: r.date, commit: r.commit });
  return { from: from ? strip(from) : null, to: strip(to), delta: from ? scoreDelta(from.score, to.score) : null, changed, added, removed, unchanged };
}

export interface Notice {
  notify: boolean;
  /** Why, in words, e.g. "score fell 1.2 (7.5 → 6.3)", "Code-Review fell to 0". */
  reasons: string[];
  /** Checks that fell to 0 from a higher score. */
  fellToZero: string[];
}

/**
 * Whether a change is worth a `score.changed` event: the score moved by at least `threshold`
 * (either way; smaller moves are noise, ossf/scorecard-monitor#88), or a check fell to 0 from a
 * score above 0. A first result never notifies: there is nothing it changed from.
 */
export function noticeOf(change: ScoreChange, threshold: number): Notice {
  const reasons: string[] = [];
  if (change.delta !== null && change.from && Math.abs(change.delta) >= threshold && change.delta !== 0) {
    reasons.push(
      `score ${change.delta < 0 ? 'fell' : 'rose'} ${Math.abs(change.delta).toFixed(1)} (${change.from.score.toFixed(1)} → ${change.to.score.toFixed(1)})`,
    );
  }
  const fellToZero = change.changed.filter((c) => c.to === 0 && c.from > 0).map((c) => c.name);
  for (const name of fellToZero) reasons.push(`${name} fell to 0`);
  return { notify: reasons.length > 0, reasons, fellToZero };
}
