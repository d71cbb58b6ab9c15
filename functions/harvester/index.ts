// Knative function: an ApiServerSource Job event → the Job's result stored.
import { createHarvesterHandle } from '../../lib/harvest/handler.ts';
import { closeRuntime, sharedRuntime } from '../../lib/function/runtime.ts';

export const handle = createHarvesterHandle(sharedRuntime('harvester'));

export const shutdown = closeRuntime;
