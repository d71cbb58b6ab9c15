// The CloudEvents a stored result produces besides its reply: `dev.posture.score.changed`,
// sent when a score moves by at least the threshold or a check falls to 0. The harvester's
// reply can carry one event only (score.updated), so this one goes to an event sink: Knative's
// K_SINK (a SinkBinding or a source's sink pointing at the Broker), or whatever `posture up`
// passes in.
import { CloudEvent, HTTP } from 'cloudevents';
import type { Notice, ScoreChange } from './diff.ts';

export const SCORE_CHANGED_TYPE = 'dev.posture.score.changed';

/** The event the harvester replies with after storing a result (subject: the repository). */
export const SCORE_UPDATED_TYPE = 'dev.posture.score.updated';
/** The source of both events. */
export const HARVESTER_SOURCE = '/posture/harvester';

export type EventSender = (event: CloudEvent<unknown>) => Promise<void>;

export interface ScoreChangedData {
  repo: string;
  score: number;
  previousScore: number | null;
  delta: number | null;
  reasons: string[];
  fellToZero: string[];
  changed: ScoreChange['changed'];
  added: ScoreChange['added'];
  removed: ScoreChange['removed'];
  from: ScoreChange['from'];
  to: ScoreChange['to'];
  /** The run that stored it; null for an imported result (`posture results import`). */
  runId: number | null;
}

/** The source of score.changed for an imported result. */
export const IMPORT_SOURCE = '/posture/import';

export function scoreChangedEvent(
  source: string,
  repo: string,
  runId: number | null,
  change: ScoreChange,
  notice: Notice,
  id?: string,
): CloudEvent<ScoreChangedData> {
  return new CloudEvent<ScoreChangedData>({
    type: SCORE_CHANGED_TYPE,
    source,
    subject: repo,
    // One id per stored run (per stored result for an import), like score.updated: a redelivery is the same event.
    id: id ?? `changed-run-${runId}`,
    datacontenttype: 'application/json',
    data: {
      repo,
      score: change.to.score,
      previousScore: change.from?.score ?? null,
      delta: change.delta,
      reasons: notice.reasons,
      fellToZero: notice.fellToZero,
      changed: change.changed,
      added: change.added,
      removed: change.removed,
      from: change.from,
      to: change.to,
      runId,
    },
  });
}

export const POLICY_CHANGED_TYPE = 'dev.posture.policy.changed';

export interface PolicyChangedData {
  repo: string;
  policy: string;
  verdict: 'pass' | 'fail' | 'unknown';
  previousVerdict: 'pass' | 'fail' | 'unknown';
  /** The policy's own aggregate, now and before. */
  score: number | null;
  previousScore: number | null;
  /** Rule ids failing now (`minimumScore`, `checks.<Check>`). */
  failing: string[];
  /** Rules that started failing, and that stopped. */
  nowFailing: string[];
  noLongerFailing: string[];
  /** Every reason of the new verdict (rule, check, wanted, got, message). */
  reasons: unknown[];
  runId: number;
}

/**
 * Sent when a new result changes a repository's verdict under its policy (not when the policy
 * file changes: a new policy re-judges the fleet at once, and one event per repository then
 * would be a flood; the dashboard shows the new compliance).
 */
export function policyChangedEvent(source: string, runId: number, data: Omit<PolicyChangedData, 'runId'>): CloudEvent<PolicyChangedData> {
  return new CloudEvent<PolicyChangedData>({
    type: POLICY_CHANGED_TYPE,
    source,
    subject: data.repo,
    // One id per stored run and repository: a redelivery is the same event.
    id: `policy-run-${runId}`,
    datacontenttype: 'application/json',
    data: { ...data, runId },
  });
}

/** POSTs events in binary mode to a sink URL (Knative's K_SINK); a non-2xx answer is an error. */
export function httpSender(url: string, timeoutMs = 5000): EventSender {
  return async (event) => {
    const msg = HTTP.binary(event);
    const res = await fetch(url, {
      method: 'POST',
      headers: msg.headers as Record<string, string>,
      body: typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`event sink answered ${res.status}`);
  };
}

/** The sender Knative configures through K_SINK, if any. */
export function senderFromEnv(env: Record<string, string | undefined> = process.env): EventSender | undefined {
  const sink = env.K_SINK;
  return sink && /^https?:\/\//.test(sink) ? httpSender(sink) : undefined;
}
