// Knative function: the score API (GET /projects/{host}/{owner}/{repo}[/history|/badge]).
import { createApiHandle } from '../../lib/api/index.ts';
import { closeRuntime, sharedDatabaseRuntime } from '../../lib/function/runtime.ts';

export const handle = createApiHandle(sharedDatabaseRuntime('api'));

export const shutdown = closeRuntime;
