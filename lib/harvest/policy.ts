// After a result is stored: its repository judged under the policies in force, the verdict kept,
// and `dev.posture.policy.changed` sent when it changed. The result is stored whatever happens
// here: a failure is logged and the API's sweep judges the repository later (its verdict is of
// an older result), though no event is sent for that change.
import { type EventSender, HARVESTER_SOURCE, policyChangedEvent } from '../changes/events.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { repoWithLatest } from '../db/listing.ts';
import type { Logger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import { PolicyFile, type PolicySource } from '../policy/file.ts';
import { judgeRepos } from '../policy/judge.ts';

const policyChanges = counter('posture_policy_changes_total', 'policy.changed events by delivery', ['delivery']);

let shared: PolicyFile | undefined;
/** The harvester's policies: POSTURE_POLICY_FILE, read once per process and re-read on its timer. */
export function harvesterPolicies(config: Config, log: Logger): PolicySource {
  if (!shared) {
    shared = new PolicyFile({ path: config.policyFile, reloadMs: config.policyReloadSeconds * 1000, logger: log });
    shared.start();
  }
  return shared;
}

export async function judgeStored(
  o: { db: Db; log: Logger; policies: PolicySource; sendEvent: EventSender | undefined },
  repo: string,
  runId: number,
): Promise<void> {
  const set = o.policies.current();
  if (set.policies.length === 0) return;
  try {
    const found = await repoWithLatest(o.db, repo.toLowerCase());
    if (!found) return;
    for (const c of await judgeRepos(o.db, set, [found.id])) {
      if (c.after.policy === null || c.after.verdict === null || c.before.verdict === null) continue;
      const event = policyChangedEvent(HARVESTER_SOURCE, runId, {
        repo: c.repo,
        policy: c.after.policy,
        verdict: c.after.verdict,
        previousVerdict: c.before.verdict,
        score: c.after.score,
        previousScore: c.before.score,
        failing: c.after.failing,
        nowFailing: c.nowFailing,
        noLongerFailing: c.noLongerFailing,
        reasons: c.after.reasons,
      });
      let delivery = 'logged';
      if (o.sendEvent) {
        delivery = await o.sendEvent(event).then(
          () => 'sent',
          (err) => {
            o.log.warn({ repo: c.repo, err: (err as Error).message }, 'could not send policy.changed');
            return 'failed';
          },
        );
      }
      o.log.info({ repo: c.repo, policy: c.after.policy, from: c.before.verdict, to: c.after.verdict, delivery, event: event.type }, 'policy verdict changed');
      policyChanges.inc({ delivery });
    }
  } catch (err) {
    o.log.warn({ repo, err: (err as Error).message }, 'could not judge the stored result against the policies; the API sweep will');
  }
}
