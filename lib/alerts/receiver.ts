// A webhook receiver for tests (and the shape of one for people: docs/use/alerts.md): checks the
// signature of every delivery, rejects stale and unsigned ones, counts each alert id once, and can
// be told to fail its next N deliveries.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isFresh, SIGNATURE_HEADER, verifySignature } from './sign.ts';
import type { WebhookBody } from './webhook.ts';

export interface TestReceiver {
  url: string;
  /** Every delivery that arrived, in order. */
  deliveries: Array<{ signatureOk: boolean; body: WebhookBody | undefined; status: number; headers: Record<string, string | string[] | undefined> }>;
  /** The alerts accepted, once per id. */
  alerts: Map<string, WebhookBody>;
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

export async function startReceiver(secret: string, path = '/hooks/posture?token=chat-secret'): Promise<TestReceiver> {
  let failing = 0;
  let failStatus = 503;
  const deliveries: TestReceiver['deliveries'] = [];
  const alerts = new Map<string, WebhookBody>();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const signatureOk = verifySignature(secret, raw, req.headers[SIGNATURE_HEADER] as string | undefined);
    let body: WebhookBody | undefined;
    try {
      body = JSON.parse(raw.toString('utf8')) as WebhookBody;
    } catch {}
    let status = 204;
    if (!signatureOk || !body || !isFresh(body.sentAt, new Date())) status = 401;
    else if (failing > 0) {
      failing--;
      status = failStatus;
    } else if (!alerts.has(body.id)) alerts.set(body.id, body);
    deliveries.push({ signatureOk, body, status, headers: req.headers });
    res.writeHead(status);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    deliveries,
    alerts,
    failNext(n, status = 503) {
      failing = n;
      failStatus = status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
