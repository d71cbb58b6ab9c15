// One Kubernetes API call as a given identity, with the Status, body and warnings read back and
// never thrown: the admission end-to-end tests read what the API server answered a user.
import { type RequestOptions, request } from 'node:https';
import type * as k8s from '@kubernetes/client-node';

export interface Reply {
  status: number;
  body: any;
  warnings: string;
}

/** One API call as the identity of `kc`; never throws on an HTTP error (tests read the Status). `body`: a value, or a Buffer of JSON. */
export async function call(
  kc: k8s.KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const url = new URL(kc.getCurrentCluster()!.server + path);
  const ct = contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
  // A Buffer is JSON already serialised (what JSON.stringify cannot: nesting deeper than its stack).
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body);
  // Node sends no body framing for DELETE by default (no chunked encoding): say its length, or the
  // API server reads no DeleteOptions.
  const length: Record<string, string> = payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(payload)) };
  const opts: RequestOptions = {
    method,
    hostname: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    headers: { 'content-type': ct, accept: 'application/json', ...length, ...headers },
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        const w = res.headers.warning;
        resolve({ status: res.statusCode!, body: parsed, warnings: Array.isArray(w) ? w.join('\n') : (w ?? '') });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** `?dryRun=All`: the API server admits (webhooks included) but stores nothing. */
export const DRY = '?dryRun=All';

/** The message the API server returns when a posture webhook denies a request. */
export const denial = (webhook: string, message: string) => `admission webhook "${webhook}.posture.dev" denied the request: ${message}`;

/**
 * Polls `check` until it holds (webhook configurations and certificates reach the API server
 * with a delay); on timeout the error carries `diagnostics()` (the control plane's log tails).
 */
export async function eventually(what: string, check: () => Promise<boolean>, o: { ms: number; diagnostics: () => string }): Promise<void> {
  const deadline = Date.now() + o.ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${o.ms / 1000} s\n${o.diagnostics()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
