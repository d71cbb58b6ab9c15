// Knative function: the score API (GET /projects/{host}/{owner}/{repo}[/history|/badge]).
import { apiBodyLimit, createApiHandle } from '../../lib/api/index.ts';
import { closeRuntime, sharedDatabaseRuntime } from '../../lib/function/runtime.ts';

export const handle = createApiHandle(sharedDatabaseRuntime('api'));

/** No route takes a body: bin/serve.ts refuses one before reading it. */
export const bodyLimit = apiBodyLimit;

export const shutdown = closeRuntime;
