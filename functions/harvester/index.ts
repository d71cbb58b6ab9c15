// Knative function: an ApiServerSource Job event → the Job's result stored.

import { loadConfig } from '../../lib/config/index.ts';
import { closeRuntime, sharedRuntime } from '../../lib/function/runtime.ts';
import { createHarvesterHandle } from '../../lib/harvest/handler.ts';
import { harvesterPolicies } from '../../lib/harvest/policy.ts';
import { createLogger } from '../../lib/log/index.ts';
import type { PolicySource } from '../../lib/policy/file.ts';

export const handle = createHarvesterHandle(sharedRuntime('harvester'));

/** /readyz: the policy file's state (why a file was refused), when a file is configured. */
let policies: PolicySource | null | undefined;
export const readiness = () => {
  if (policies === undefined) {
    const config = loadConfig();
    policies = config.policyFile ? harvesterPolicies(config, createLogger({ level: config.logLevel, name: 'harvester' })) : null;
  }
  return policies ? { policy: policies.status() } : undefined;
};

/** On SIGTERM: the harvested Jobs still waiting for their batch are deleted, then the pool closes. */
export async function shutdown(): Promise<void> {
  await handle.drain();
  await closeRuntime();
}
