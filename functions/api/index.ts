// Knative function: the score API (GET /projects/{host}/{owner}/{repo}[/history|/badge]).
import { apiBodyLimit, createApiHandle } from '../../lib/api/index.ts';
import { closeRuntime, sharedDatabaseRuntime } from '../../lib/function/runtime.ts';

export const handle = createApiHandle(sharedDatabaseRuntime('api'));

/** /readyz: the policy file's state (why a file was refused, the last sweep), once a file is configured. */
export const readiness = () => {
  const status = handle.policies()?.status();
  return status?.file ? { policy: status } : undefined;
};

/** No route takes a body: bin/serve.ts refuses one before reading it. */
export const bodyLimit = apiBodyLimit;

export const shutdown = closeRuntime;
