// Knative function: an ApiServerSource Job event → the Job's result stored.

import { closeRuntime, sharedRuntime } from '../../lib/function/runtime.ts';
import { createHarvesterHandle } from '../../lib/harvest/handler.ts';

export const handle = createHarvesterHandle(sharedRuntime('harvester'));

/** On SIGTERM: the harvested Jobs still waiting for their batch are deleted, then the pool closes. */
export async function shutdown(): Promise<void> {
  await handle.drain();
  await closeRuntime();
}
