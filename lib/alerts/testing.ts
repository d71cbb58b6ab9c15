// Test helpers: score.changed events made the way the harvester makes them (diffResults,
// noticeOf, scoreChangedEvent), so the alerts are tested on the real event shape.
import type { CloudEvent } from 'cloudevents';
import { type CheckScore, diffResults, noticeOf } from '../changes/diff.ts';
import { HARVESTER_SOURCE, type ScoreChangedData, scoreChangedEvent } from '../changes/events.ts';
import { type AlertInput, alertInputOf, POLICY_CHANGED_TYPE, type PolicyChangedData } from './decide.ts';

export const REPO = 'github.com/acme/widget';

/** The score.changed event of run `runId` (result id = runId) after run `runId - 1`. */
export function scoreChanged(
  runId: number,
  from: { score: number; checks: CheckScore[] } | null,
  to: { score: number; checks: CheckScore[] },
  repo = REPO,
  threshold = 0.5,
): CloudEvent<ScoreChangedData> {
  const at = (id: number) => ({ id, date: `2026-02-${String(id).padStart(2, '0')}T00:00:00Z`, commit: String(id % 10).repeat(40) });
  const change = diffResults(from ? { ...at(runId - 1), ...from } : null, { ...at(runId), ...to });
  return scoreChangedEvent(HARVESTER_SOURCE, repo, runId, change, noticeOf(change, threshold));
}

export function policyChanged(id: string, data: PolicyChangedData): { id: string; type: string; data: PolicyChangedData } {
  return { id, type: POLICY_CHANGED_TYPE, data };
}

export function inputOf(ev: { id?: string; type?: string; data?: unknown }): AlertInput {
  const i = alertInputOf(ev);
  if (typeof i === 'string') throw new Error(i);
  return i;
}

/** Checks named A..: scores in order. */
export const checks = (...scores: number[]): CheckScore[] =>
  scores.map((score, i) => ({ name: ['Code-Review', 'Maintained', 'Pinned-Dependencies', 'Token-Permissions'][i], score, reason: `reason ${score}` }));
