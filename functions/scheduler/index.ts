// Knative function: a PingSource (or CronJob) event → one scheduler tick.

import { closeRuntime, sharedRuntime } from '../../lib/function/runtime.ts';
import { githubTickSteps } from '../../lib/github/tick-steps.ts';
import { harvestJob } from '../../lib/harvest/harvest.ts';
import { createSchedulerHandle } from '../../lib/scheduler/handler.ts';

const runtime = sharedRuntime('scheduler');

export const handle = createSchedulerHandle(async () => {
  const r = await runtime();
  return { ...r, ...githubTickSteps(r), harvest: (job) => harvestJob(job, r) };
});

export const shutdown = closeRuntime;
