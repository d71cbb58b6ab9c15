// The harvester function's logic behind handle(): an ApiServerSource event in; a
// score.updated CloudEvent (or a JSON acknowledgement) out. Replies follow Knative's retry
// rules: 2xx done or ignored, 400/422 never retried, 503 retried.
import { CloudEvent } from 'cloudevents';
import { noticeOf } from '../changes/diff.ts';
import { type EventSender, HARVESTER_SOURCE, SCORE_UPDATED_TYPE, scoreChangedEvent, senderFromEnv } from '../changes/events.ts';
import { describeDatabaseError, publicFailure } from '../db/errors.ts';
import { parseJobEvent } from '../events/job-event.ts';
import { type Context, type Handle, reply } from '../function/handle.ts';
import { counter } from '../metrics/index.ts';
import type { PolicySource } from '../policy/file.ts';
import { BatchedJobDeleter, type BatchOptions } from './deletions.ts';
import { HarvestConfigError, type HarvestDeps, harvestJob, type StoredRepo, TransientHarvestError } from './harvest.ts';
import { harvesterPolicies, judgeStored } from './policy.ts';
import { RecentlyHarvested } from './recent.ts';

const outcomes = counter('posture_harvester_events_total', 'Harvester events by outcome', ['outcome']);
const refusals = counter('posture_harvester_api_refusals_total', 'Reads the API server refused the harvester (RBAC or configuration), by HTTP status', [
  'status',
]);

const changes = counter('posture_score_changes_total', 'score.changed events by delivery', ['delivery']);

export interface HarvesterOptions {
  /** Where score.changed goes (default: Knative's K_SINK when set; otherwise the event is logged). */
  sendEvent?: EventSender;
  /** How harvested Jobs are batched for deletion (tests shorten the wait). */
  deletions?: Partial<BatchOptions>;
  /** The Scorecard policies (default: POSTURE_POLICY_FILE). */
  policies?: PolicySource;
}

/** The harvester's handle, and what to do before the process exits. */
export type HarvesterHandle = Handle & {
  /** Sends the harvested Jobs' deletions still waiting for their batch, and waits for them. */
  drain(): Promise<void>;
};

export function createHarvesterHandle(deps: () => Promise<HarvestDeps>, options: HarvesterOptions = {}): HarvesterHandle {
  const sendEvent = options.sendEvent ?? senderFromEnv();
  const harvested = new RecentlyHarvested();
  // Made with the first runtime: it needs the cluster client.
  let deleter: BatchedJobDeleter | undefined;
  const handle: Handle = async (context: Context) => {
    if (!context.cloudevent) {
      outcomes.inc({ outcome: 'malformed' });
      return reply(400, { error: 'expected a CloudEvent from an ApiServerSource (dev.knative.apiserver.resource.*)' });
    }
    const parsed = parseJobEvent(context.cloudevent);
    if (!parsed.ok) {
      outcomes.inc({ outcome: 'malformed' });
      return reply(parsed.status, { error: parsed.reason });
    }
    try {
      const d = await deps();
      deleter ??= new BatchedJobDeleter(d.cluster, d.log, { retries: d.config.kubeRetries, ...options.deletions });
      const r = await harvestJob(parsed.job, { ...d, harvested, deleter });
      if (r.status !== 'stored') outcomes.inc({ outcome: r.status });
      else for (const one of r.repos) outcomes.inc({ outcome: one.failure ? 'stored-failure' : 'stored' });
      if (r.status === 'rejected') return reply(422, { status: r.status, error: r.why });
      if (r.status !== 'stored') return reply(200, r);
      for (const one of r.repos) {
        // The change this result made (its predecessor was found when it was stored).
        const ch = one.change;
        if (!ch?.latest) continue;
        // A new newest result: its verdict under the policies (policy.changed when it changed).
        if (one.score !== null)
          await judgeStored({ db: d.db, log: context.log, policies: options.policies ?? harvesterPolicies(d.config, d.log), sendEvent }, one.repo, one.runId);
        const notice = noticeOf(ch.change, d.config.scoreChangeThreshold);
        if (!notice.notify) continue;
        const event = scoreChangedEvent(HARVESTER_SOURCE, one.repo, one.runId, ch.change, notice);
        let delivery = 'logged';
        if (sendEvent) {
          // The result is stored either way; a lost notice is logged, not retried by failing the harvest.
          delivery = await sendEvent(event).then(
            () => 'sent',
            (err) => {
              context.log.warn({ repo: one.repo, err: (err as Error).message }, 'could not send score.changed');
              return 'failed';
            },
          );
        }
        context.log.info({ repo: one.repo, reasons: notice.reasons, delivery, event: event.type }, 'score changed');
        changes.inc({ delivery });
      }
      return scoreUpdatedEvent(r.job, r.repos);
    } catch (err) {
      if (err instanceof HarvestConfigError) {
        // Not the repository's failure: nothing is stored, the event is retried and the reconcile tries again.
        outcomes.inc({ outcome: 'refused' });
        refusals.inc({ status: String(err.status) });
        context.log.error({ err: err.message }, 'harvest refused by the API server: check the harvester RBAC');
        return reply(503, { error: err.message });
      }
      outcomes.inc({ outcome: 'transient' });
      // The reply says what failed, never the database's target or pg's words; the log says which.
      const message = err instanceof TransientHarvestError ? err.message : `unavailable: ${publicFailure(err)}`;
      const detail = err instanceof TransientHarvestError ? (err.detail ?? err.message) : describeDatabaseError(err);
      context.log.warn({ err: detail }, 'harvest failed; asking for a retry');
      return reply(503, { error: message });
    }
  };
  return Object.assign(handle, { drain: async () => deleter?.drain() });
}

/** What each repository's result says, as score.updated carries it. */
function updateOf(one: StoredRepo) {
  return {
    repo: one.repo,
    score: one.score,
    date: one.date,
    failure: one.failure,
    reason: one.reason,
    flagged: one.flagged,
    runId: one.runId,
    previousScore: one.change?.change.from?.score ?? null,
    delta: one.change?.change.delta ?? null,
  };
}

/**
 * The reply: one score.updated per harvest. A one-repository Job's is about its repository
 * (subject: the repository; id: its run); a shard's lists each repository stored
 * (`results`; subject: the Job; id: its first run), so a consumer dedups on (source, id) either way.
 */
export function scoreUpdatedEvent(job: string, repos: readonly StoredRepo[]): CloudEvent<unknown> {
  if (repos.length === 1) {
    const one = repos[0];
    return new CloudEvent({
      type: SCORE_UPDATED_TYPE,
      source: HARVESTER_SOURCE,
      subject: one.repo,
      // One id per stored run: a consumer dedups on (source, id).
      id: `run-${one.runId}`,
      datacontenttype: 'application/json',
      data: { ...updateOf(one), job },
    });
  }
  return new CloudEvent({
    type: SCORE_UPDATED_TYPE,
    source: HARVESTER_SOURCE,
    subject: job,
    id: `runs-${repos[0].runId}-${repos.length}`,
    datacontenttype: 'application/json',
    data: { job, results: repos.map(updateOf) },
  });
}
