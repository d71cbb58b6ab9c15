// Knative function: the score API (GET /projects/{host}/{owner}/{repo}[/history|/badge]).
import { createApiHandle } from '../../lib/api/index.ts';
import { closeRuntime, sharedRuntime } from '../../lib/function/runtime.ts';

export const handle = createApiHandle(sharedRuntime('api'));

export const shutdown = closeRuntime;
