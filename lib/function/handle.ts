// The function contract of faas-js-runtime and the knative/func templates:
// `handle(context, event)`. The second argument is the CloudEvent for CloudEvent requests and
// the parsed body otherwise; the return value becomes the response.
import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from 'cloudevents';
import type { Logger } from '../log/index.ts';

export interface Context {
  log: Logger;
  method: string;
  /** Request path without the query (faas-js-runtime serves only `/`; our servers route more). */
  path: string;
  headers: IncomingHttpHeaders;
  query: Record<string, string>;
  /** Parsed JSON body, or the text / bytes when it is not JSON. */
  body?: unknown;
  rawBody?: Buffer;
  /** Set only for CloudEvent requests (binary or structured mode). */
  cloudevent?: CloudEvent<unknown>;
}

export interface StructuredReturn {
  statusCode?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type HandlerResult = StructuredReturn | CloudEvent<unknown> | undefined;

export type Handle = (context: Context, event?: unknown) => Promise<HandlerResult>;

/** A JSON reply. */
export function reply(statusCode: number, body: unknown): StructuredReturn {
  return { statusCode, headers: { 'content-type': 'application/json; charset=utf-8' }, body };
}
