// Wiring of the admission function: registry, dispatcher, the gate's score cache, and the two
// ways in: the HTTPS server the API server calls, and the functions' handle(context, event).
import type { IncomingHttpHeaders } from 'node:http';
import { type CloudEvent, HTTP } from 'cloudevents';
import { SCORE_UPDATED_TYPE } from '../changes/events.ts';
import type { Config } from '../config/index.ts';
import type { Context, HandlerResult } from '../function/handle.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { PolicyFile, type PolicySource } from '../policy/index.ts';
import { Dispatcher, type HttpResponseLike } from './dispatcher.ts';
import { loadRegistry, type Registry } from './registry.ts';
import { ScoreCache, type ScoreFeed } from './scores.ts';
import { AdmissionServer } from './server.ts';
import type { AdmissionServices } from './services.ts';

export interface AdmissionAppOptions {
  config: Config;
  scoreFeed: ScoreFeed;
  logger?: Logger;
  /** The webhooks folder to load: the admission function hands over its own. */
  webhooksDir: string;
  /** Start the score cache's background refresh (default true). */
  refresh?: boolean;
  /** Where the Scorecard policies come from; default POSTURE_POLICY_FILE, re-read every POSTURE_POLICY_RELOAD_SECONDS. */
  policies?: PolicySource;
}

export interface AdmissionApp {
  config: Config;
  registry: Registry<AdmissionServices>;
  dispatcher: Dispatcher<AdmissionServices>;
  scores: ScoreCache;
  policies: PolicySource;
  /**
   * A score.updated CloudEvent (from the harvester, through a Trigger): a request to pull from the
   * database soon. What the event says about a score is never used: the Service is reachable by
   * more than the Broker (and a NetworkPolicy is the cluster's to enforce), so an event is a hint.
   */
  onScoreEvent(event: Pick<CloudEvent<unknown>, 'type' | 'data'>): boolean;
  /** The functions' contract: an AdmissionReview request or a CloudEvent in, a response out. */
  handle(context: Pick<Context, 'method' | 'path' | 'headers' | 'body' | 'rawBody' | 'cloudevent'>, event?: unknown): Promise<HandlerResult>;
  /** Serves HTTPS with the configured certificate (POSTURE_TLS_CERT_FILE/KEY_FILE unless given). */
  serve(options?: { port?: number; host?: string; certFile?: string; keyFile?: string }): Promise<AdmissionServer>;
  close(): void;
}

export async function createAdmissionApp(o: AdmissionAppOptions): Promise<AdmissionApp> {
  const logger = o.logger ?? silentLogger;
  const registry = await loadRegistry<AdmissionServices>(o.webhooksDir, o.config);
  const policyFile = o.policies ? undefined : new PolicyFile({ path: o.config.policyFile, reloadMs: o.config.policyReloadSeconds * 1000, logger });
  policyFile?.reload();
  const policies: PolicySource = o.policies ?? (policyFile as PolicyFile);
  const scores = new ScoreCache({
    feed: o.scoreFeed,
    expectedEntries: o.config.gateCacheSize,
    refreshMs: o.config.gateRefreshSeconds * 1000,
    staleAfterMs: o.config.gateRefreshSeconds * 10_000,
    logger,
    policies: policies.current(),
  });
  policies.onChange((set) => scores.setPolicies(set));
  if (o.refresh !== false) policyFile?.start();
  if (o.refresh !== false) scores.start();
  const dispatcher = new Dispatcher<AdmissionServices>({ registry, services: { scores }, logger });

  const onScoreEvent = (event: Pick<CloudEvent<unknown>, 'type' | 'data'>): boolean => {
    if (event.type !== SCORE_UPDATED_TYPE) return false;
    scores.notify();
    return true;
  };

  const eventResponse = (accepted: boolean, why?: string): HttpResponseLike =>
    accepted
      ? { statusCode: 202, headers: { 'content-type': 'application/json' }, body: '{"accepted":true}' }
      : {
          statusCode: 400,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: why ?? `expected a ${SCORE_UPDATED_TYPE} CloudEvent` }),
        };

  const onHttpEvent = (headers: IncomingHttpHeaders, body: Buffer): HttpResponseLike => {
    try {
      const ev = HTTP.toEvent({ headers, body: body.toString('utf8') });
      const event = (Array.isArray(ev) ? ev[0] : ev) as CloudEvent<unknown>;
      return eventResponse(onScoreEvent(event));
    } catch (err) {
      return eventResponse(false, `malformed CloudEvent: ${(err as Error).message}`);
    }
  };

  const app: AdmissionApp = {
    config: o.config,
    registry,
    dispatcher,
    scores,
    policies,
    onScoreEvent,
    async handle(context) {
      if (context.cloudevent) {
        const r = eventResponse(onScoreEvent(context.cloudevent));
        return { statusCode: r.statusCode, headers: r.headers, body: r.body };
      }
      const ct = context.headers['content-type'];
      const r = dispatcher.dispatch({
        method: context.method,
        path: context.path,
        contentType: Array.isArray(ct) ? ct[0] : ct,
        body: context.rawBody ?? (context.body as HttpRequestBody),
      });
      return { statusCode: r.statusCode, headers: r.headers, body: r.body };
    },
    async serve(s = {}) {
      const certFile = s.certFile ?? o.config.tlsCertFile;
      const keyFile = s.keyFile ?? o.config.tlsKeyFile;
      if (!certFile || !keyFile) throw new Error('the admission server needs a certificate: set POSTURE_TLS_CERT_FILE and POSTURE_TLS_KEY_FILE');
      const server = new AdmissionServer({
        dispatcher,
        certFile,
        keyFile,
        port: s.port ?? o.config.admissionPort,
        host: s.host,
        maxBodyBytes: o.config.admissionMaxBodyBytes,
        reloadMs: o.config.tlsReloadSeconds * 1000,
        logger,
        onEvent: onHttpEvent,
        // The gate's cache is reported, never a reason to be unready: the gate alone follows its
        // failure policy while scores are missing; the other webhooks must keep answering.
        readiness: () => ({ ready: true, detail: { scores: scores.status(), policy: policies.status() } }),
      });
      await server.start();
      return server;
    },
    close() {
      scores.stop();
      policyFile?.stop();
    },
  };
  return app;
}

type HttpRequestBody = Buffer | string | object | undefined;
