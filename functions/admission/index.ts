// Knative function: AdmissionReview in, verdict out (the webhook registry in webhooks/), plus
// score.updated CloudEvents for the Scorecard gate's cache. The API server needs HTTPS, which
// faas-js-runtime does not serve, so `serve()` runs our own TLS server (app.ts) on the same path.

import { type AdmissionApp, createAdmissionApp } from '../../lib/admission/app.ts';
import type { ScoreFeed } from '../../lib/admission/scores.ts';
import { applyAdmissionV8Flags } from '../../lib/admission/v8-flags.ts';
import { type Config, loadConfig } from '../../lib/config/index.ts';
import { scoresChangedPage } from '../../lib/db/scores.ts';
import type { Handle } from '../../lib/function/handle.ts';
import { closeRuntime, sharedDatabaseRuntime } from '../../lib/function/runtime.ts';
import { createLogger, type Logger } from '../../lib/log/index.ts';
import { WEBHOOKS_DIR } from './webhooks-dir.ts';

const runtime = sharedDatabaseRuntime('admission');

/**
 * Scores from the database, opened on first use: the admission path never waits for it, and a
 * database that is down only makes the gate's cache stale (the gate then follows its failure policy).
 */
export const databaseScoreFeed: ScoreFeed = {
  async scoresChangedSince(since, page) {
    return scoresChangedPage((await runtime()).db, since, page);
  },
};

let app: Promise<AdmissionApp> | undefined;

let logger: Logger | undefined;
/** One logger per process: the start-up line and the app's reviews log alike. */
const admissionLogger = (config: Config): Logger => (logger ??= createLogger({ level: config.logLevel, name: 'admission' }));

function sharedApp(config?: Config): Promise<AdmissionApp> {
  app ??= (async () => {
    const c = config ?? loadConfig();
    return createAdmissionApp({ config: c, scoreFeed: databaseScoreFeed, logger: admissionLogger(c), webhooksDir: WEBHOOKS_DIR });
  })().catch((err) => {
    app = undefined;
    throw err;
  });
  return app;
}

export const handle: Handle = async (context, event) => (await sharedApp()).handle(context, event);

/** Starts the HTTPS admission server (what the admission Deployment runs); stops on SIGTERM. */
export async function serve(): Promise<void> {
  // Before the first review, and only here (the other functions keep V8's defaults): see
  // lib/admission/v8-flags.ts.
  const v8 = applyAdmissionV8Flags();
  const config = loadConfig();
  if (v8.length > 0) admissionLogger(config).info({ v8 }, 'V8 flags of the admission server');
  const a = await sharedApp(config);
  const server = await a.serve();
  process.once('SIGTERM', () => {
    void server.stop().then(async () => {
      a.close();
      await closeRuntime();
    });
  });
}

export async function shutdown(): Promise<void> {
  (await app?.catch(() => undefined))?.close();
  app = undefined;
  await closeRuntime();
}
