#!/usr/bin/env node
// Serves one function the way faas-js-runtime would (`handle(context, event)` on `/`, plus
// health and metrics), on $PORT: what each Knative Service's container runs.
//   node bin/serve.ts scheduler|harvester|api|admission|alerts|auditor
// A function module may export its own `serve()` (admission: HTTPS for the API server).
import { loadConfig } from '../lib/config/index.ts';
import type { Handle } from '../lib/function/handle.ts';
import { createFunctionServer, createMetricsServer, listen } from '../lib/function/server.ts';
import { createLogger } from '../lib/log/index.ts';

const FUNCTIONS = ['scheduler', 'harvester', 'api', 'admission', 'alerts', 'auditor'];
const name = process.argv[2];
if (!name || !FUNCTIONS.includes(name)) {
  process.stderr.write(`usage: serve <${FUNCTIONS.join('|')}>\n`);
  process.exit(1);
}
const config = loadConfig();
const log = createLogger({ level: config.logLevel, name });
const mod = (await import(`../functions/${name}/index.ts`)) as {
  handle: Handle;
  /** Body bytes each request may carry (default: none for GET and HEAD, 10 MiB otherwise). */
  bodyLimit?: (method: string, path: string) => number;
  serve?: () => Promise<void>;
  shutdown?: () => Promise<void>;
  /** What /readyz reports besides readiness (the policy file's state). */
  readiness?: () => Record<string, unknown> | undefined;
};
if (mod.serve) {
  await mod.serve();
} else {
  // The score API is public (Knative exposes PORT): its metrics go on a port the route does not reach.
  const publicApi = name === 'api';
  const server = createFunctionServer({
    name,
    handle: mod.handle,
    log,
    metrics: !publicApi,
    ...(mod.bodyLimit ? { bodyLimit: mod.bodyLimit } : {}),
    ...(mod.readiness ? { readyDetail: mod.readiness } : {}),
  });
  const port = await listen(server, config.port, process.env.HOST ?? '0.0.0.0');
  log.info({ port }, `${name} listening`);
  const metrics = publicApi && config.metricsPort !== 0 ? createMetricsServer() : undefined;
  if (metrics) log.info({ port: await listen(metrics, config.metricsPort, process.env.HOST ?? '0.0.0.0') }, 'metrics listening');
  const stop = () => {
    metrics?.close();
    server.close(() => void mod.shutdown?.().finally(() => process.exit(0)));
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
