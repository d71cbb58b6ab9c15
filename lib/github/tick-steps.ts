// The scheduler's GitHub steps as production wires them (functions/scheduler and `posture up`):
// one client for the process, made on first use from the settings.
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import type { Logger } from '../log/index.ts';
import type { RateLimitReading } from './budget.ts';
import { createGitHubApi, type GitHubApi, hasCredentials } from './client.ts';
import { type SourceRediscovery, sourceRediscovery } from './sources.ts';

export interface GitHubSteps {
  readRateLimits?: () => Promise<RateLimitReading[]>;
  sources: SourceRediscovery;
}

const made = new WeakMap<object, GitHubSteps>();

/** The steps of one runtime (made once per runtime, so an App's installation token is reused across ticks). */
export function githubTickSteps(r: { db: Db; config: Config; log: Logger }): GitHubSteps {
  let steps = made.get(r);
  if (!steps) {
    steps = makeSteps(r);
    made.set(r, steps);
  }
  return steps;
}

function makeSteps(r: { db: Db; config: Config; log: Logger }): GitHubSteps {
  let api: GitHubApi | undefined;
  const client = () => {
    // The tick never sits out a rate limit: a limited discovery is retried after the reset.
    api ??= createGitHubApi(r.config, { maxWaitSeconds: 0, warn: (m) => r.log.warn({ github: m }, 'GitHub client') });
    return api;
  };
  return {
    // Anonymous quota (60 an hour) is not what the Jobs spend: without credentials the fixed estimate stands.
    ...(hasCredentials(r.config) && r.config.githubTokenCount > 0 ? { readRateLimits: () => client().rateLimits() } : {}),
    sources: sourceRediscovery({ db: r.db, config: r.config, log: r.log, api: client }),
  };
}
