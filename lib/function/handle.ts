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
  /** A parameter given more than once has all its values, in order. */
  query: Record<string, string | string[]>;
  /** Parsed JSON body, or the text / bytes when it is not JSON. */
  body?: unknown;
  rawBody?: Buffer;
  /** Set only for CloudEvent requests (binary or structured mode). */
  cloudevent?: CloudEvent<unknown>;
}

export interface StructuredReturn {
  statusCode?: number;
  headers?: Record<string, string>;
  /**
   * A string or Buffer (sent with its length), a Streamed body (written as it is produced, chunked,
   * at the pace the client reads), or anything else (sent as JSON).
   */
  body?: unknown;
}

/** A body produced piece by piece: the server pulls the next piece only once the client took the last. */
export interface Streamed {
  stream: AsyncIterable<string | Buffer>;
}

export function isStreamed(b: unknown): b is Streamed {
  return typeof b === 'object' && b !== null && 'stream' in b && typeof (b as Streamed).stream?.[Symbol.asyncIterator] === 'function';
}

export type HandlerResult = StructuredReturn | CloudEvent<unknown> | undefined;

export type Handle = (context: Context, event?: unknown) => Promise<HandlerResult>;

/** A JSON reply. */
export function reply(statusCode: number, body: unknown): StructuredReturn {
  return { statusCode, headers: { 'content-type': 'application/json; charset=utf-8' }, body };
}
