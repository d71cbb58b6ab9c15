// What to tell people about one change event, given what they were already told. Pure: the
// alerts service reads the repository's alert state, asks this, and stores the next state and
// the messages in one transaction.
//
// One alert per repository covers both causes: a score that fell (past the threshold, or a check
// falling to 0) and a policy that fails. It opens on the first cause, is updated on further
// changes while open, and closes once every cause is gone (the score is back at or above where it
// was before the drop, no check that fell to 0 is still at 0, and the policy passes).
import type { CheckChange, ResultRef } from '../changes/diff.ts';
import { SCORE_CHANGED_TYPE, type ScoreChangedData } from '../changes/events.ts';

export const POLICY_CHANGED_TYPE = 'dev.posture.policy.changed';

export type PolicyOutcome = 'pass' | 'fail';

/** `dev.posture.policy.changed` data (issue 36): the policy's outcome for a repository moved. */
export interface PolicyChangedData {
  repo: string;
  from: PolicyOutcome | null;
  to: PolicyOutcome;
  /** The rules that fail now (empty when it passes). */
  rules: string[];
}

/** The events the alerts function acts on, reduced to what the decisions need. */
export type AlertInput =
  | { kind: 'score'; id: string; repo: string; data: ScoreChangedData }
  | { kind: 'policy'; id: string; repo: string; data: PolicyChangedData };

/** What is open for a repository (null: nothing). Stored as JSON beside the repository. */
export interface OpenAlert {
  /** The score before the drop that opened the score part; null when only the policy is failing. */
  baselineScore: number | null;
  /** Checks that fell to 0 and have not come back. */
  zeroChecks: string[];
  /** The policy fails (its failing rules). */
  failingRules: string[] | null;
  /** The newest score seen (for the message). */
  score: number | null;
}

export type AlertAction = 'open' | 'update' | 'close';

export interface AlertDecision {
  action: AlertAction | 'none';
  /** Why, in words, for the message. */
  reasons: string[];
  next: OpenAlert | null;
}

/** Turns a CloudEvent's type and data into an AlertInput, or a one-line reason it is not one. */
export function alertInputOf(ev: { id?: string; type?: string; data?: unknown }): AlertInput | string {
  const data = ev.data as Record<string, unknown> | undefined;
  if (!ev.id) return 'the event has no id';
  if (!data || typeof data !== 'object') return `${ev.type}: the event has no JSON data`;
  if (typeof data.repo !== 'string' || data.repo === '') return `${ev.type}: data.repo must be a repository name`;
  if (ev.type === SCORE_CHANGED_TYPE) {
    const d = data as unknown as ScoreChangedData;
    if (typeof d.score !== 'number' || !d.to || typeof d.to !== 'object') return `${ev.type}: data.score and data.to are required`;
    if (!Array.isArray(d.changed) || !Array.isArray(d.fellToZero)) return `${ev.type}: data.changed and data.fellToZero must be lists`;
    return { kind: 'score', id: ev.id, repo: d.repo, data: d };
  }
  if (ev.type === POLICY_CHANGED_TYPE) {
    const d = data as unknown as PolicyChangedData;
    if (d.to !== 'pass' && d.to !== 'fail') return `${ev.type}: data.to must be pass or fail`;
    if (d.from !== null && d.from !== undefined && d.from !== 'pass' && d.from !== 'fail') return `${ev.type}: data.from must be pass, fail or null`;
    if (d.rules !== undefined && !(Array.isArray(d.rules) && d.rules.every((r) => typeof r === 'string')))
      return `${ev.type}: data.rules must be a list of rule names`;
    return { kind: 'policy', id: ev.id, repo: d.repo, data: { repo: d.repo, from: d.from ?? null, to: d.to, rules: d.rules ?? [] } };
  }
  return `not an event the alerts act on: ${ev.type} (expected ${SCORE_CHANGED_TYPE} or ${POLICY_CHANGED_TYPE})`;
}

const fmt = (n: number) => n.toFixed(1);

function scoreDecision(open: OpenAlert | null, d: ScoreChangedData, threshold: number): AlertDecision {
  const from: ResultRef | null = d.from;
  const delta = d.delta;
  const dropped = delta !== null && from !== null && delta <= -threshold;
  const reasons: string[] = [];
  if (dropped) reasons.push(`score fell ${fmt(-delta!)} (${fmt(from!.score)} → ${fmt(d.score)})`);
  for (const name of d.fellToZero) reasons.push(`${name} fell to 0`);
  // Checks that came back above 0 leave the set; those that fell join it.
  const back = new Set(d.changed.filter((c: CheckChange) => c.to > 0).map((c) => c.name));
  if (!open) {
    if (reasons.length === 0) return { action: 'none', reasons: [], next: null };
    const baseline = from?.score ?? d.score;
    return { action: 'open', reasons, next: { baselineScore: baseline, zeroChecks: [...new Set(d.fellToZero)].sort(), failingRules: null, score: d.score } };
  }
  const zero = new Set(open.zeroChecks.filter((c) => !back.has(c)));
  for (const c of d.fellToZero) zero.add(c);
  // A score part opened by a policy-only alert starts at this drop's baseline.
  const baselineScore = open.baselineScore ?? (reasons.length > 0 ? (from?.score ?? d.score) : null);
  const next: OpenAlert = { ...open, baselineScore, zeroChecks: [...zero].sort(), score: d.score };
  const scoreRecovered = baselineScore === null || (d.score >= baselineScore && zero.size === 0);
  if (scoreRecovered && baselineScore !== null) {
    reasons.push(`score recovered to ${fmt(d.score)} (was ${fmt(baselineScore)} before the drop)`);
    if (next.failingRules === null) return { action: 'close', reasons, next: null };
    return { action: 'update', reasons, next: { ...next, baselineScore: null, zeroChecks: [] } };
  }
  if (reasons.length === 0) {
    const moved =
      delta === null
        ? `score is ${fmt(d.score)}`
        : `score ${delta < 0 ? 'fell' : 'rose'} ${fmt(Math.abs(delta))} (${fmt(from?.score ?? d.score)} → ${fmt(d.score)})`;
    const back0 = open.zeroChecks.filter((c) => back.has(c));
    reasons.push(moved, ...back0.map((c) => `${c} is above 0 again`));
  }
  return { action: 'update', reasons, next };
}

function policyDecision(open: OpenAlert | null, d: PolicyChangedData): AlertDecision {
  const rules = [...new Set(d.rules)].sort();
  if (d.to === 'fail') {
    const reasons = [`the policy fails${rules.length ? `: ${rules.join(', ')}` : ''}`];
    if (!open) return { action: 'open', reasons, next: { baselineScore: null, zeroChecks: [], failingRules: rules, score: null } };
    // Already failing with the same rules: a redundant event, nothing new to say.
    if (open.failingRules !== null && open.failingRules.join('\n') === rules.join('\n')) return { action: 'none', reasons: [], next: open };
    return { action: 'update', reasons, next: { ...open, failingRules: rules } };
  }
  if (!open || open.failingRules === null) return { action: 'none', reasons: [], next: open };
  const reasons = ['the policy passes again'];
  if (open.baselineScore === null && open.zeroChecks.length === 0) return { action: 'close', reasons, next: null };
  return { action: 'update', reasons, next: { ...open, failingRules: null } };
}

/** The decision for one event; `threshold` is POSTURE_SCORE_CHANGE_THRESHOLD. */
export function decide(open: OpenAlert | null, input: AlertInput, threshold: number): AlertDecision {
  return input.kind === 'score' ? scoreDecision(open, input.data, threshold) : policyDecision(open, input.data);
}
