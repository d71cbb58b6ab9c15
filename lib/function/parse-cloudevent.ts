// A request's CloudEvent, around the CloudEvents SDK's general parse. Binary-mode CloudEvents 1.0
// with a JSON body, the form every Job event reaches the harvester in (Knative's ApiServerSource
// adapter, the Broker's dispatcher and posture's relay all send it), are read directly; the rest
// goes to the SDK's HTTP.toEvent without the stack traces it throws away. Why: HTTP.toEvent copies
// and lower-cases the headers twice, reads process.env and builds two ValidationErrors (capturing
// their stacks) on every parse, before knowing whether either is needed, and the harvester gets
// several events per scored repository, most of which it only acknowledges: bench/pipeline.ts
// shows it in the harvester's CPU per scored repository, beside a bare harvester's. The direct read
// gives the CloudEvent the SDK's parse gives for the same request (parse-cloudevent.test.ts
// compares the two); any request that is not plainly of this form, or is malformed, is left to the
// SDK, so errors and edge cases keep the SDK's behaviour and messages.
import type { IncomingHttpHeaders } from 'node:http';
import { CloudEvent, HTTP } from 'cloudevents';

/** The attribute each binary-mode header sets (the SDK's v1binaryParsers); other `ce-` headers are extensions. */
const ATTRIBUTE_OF_HEADER: Readonly<Record<string, string>> = {
  'ce-id': 'id',
  'ce-source': 'source',
  'ce-type': 'type',
  'ce-specversion': 'specversion',
  'ce-time': 'time',
  'ce-subject': 'subject',
  'ce-dataschema': 'dataschema',
};

/**
 * Extension names taken as they come: lower-case letters and digits, as the specification
 * requires, and none that names an attribute the event's own fields or data set (an extension
 * header `ce-data` or `ce-datacontenttype` overrides those in the SDK's parse; that rare request
 * goes to the SDK).
 */
const PLAIN_EXTENSION = /^[a-z0-9]{1,20}$/;
const OVERRIDING = new Set(['data', 'datacontenttype', 'datacontentencoding', 'schemaurl']);

/**
 * The CloudEvent of a binary-mode 1.0 request whose content type is JSON and whose body is a JSON
 * object; undefined for anything else (the caller then uses the SDK). Not validated: the caller
 * validates, as it does the SDK's result.
 */
export function parseBinaryJsonEvent(headers: IncomingHttpHeaders, body: string): CloudEvent<unknown> | undefined {
  if (headers['ce-specversion'] !== '1.0') return undefined;
  const contentType = headers['content-type'];
  // The SDK's JSON parser is chosen by these exact content types; it quotes a body that does not
  // start with `{`, `[` or `"`, so only an object is taken here.
  if (contentType !== 'application/json' && contentType !== 'application/json; charset=utf-8') return undefined;
  if (body.charCodeAt(0) !== 0x7b) return undefined;
  // A header named `datacontenttype` sets the content type in the SDK's parse too.
  if (headers.datacontenttype !== undefined) return undefined;
  const attributes: Record<string, unknown> = { datacontenttype: contentType };
  for (const name in headers) {
    if (name.charCodeAt(0) !== 0x63 || name.charCodeAt(1) !== 0x65 || name.charCodeAt(2) !== 0x2d) continue; // "ce-"
    const value = headers[name];
    // The SDK skips an empty attribute header, then reads it again as an extension.
    if (typeof value !== 'string' || value === '') return undefined;
    const attribute = ATTRIBUTE_OF_HEADER[name];
    if (attribute === 'time') {
      // The SDK rewrites the time as ISO 8601 (and an unreadable one as now: left to it).
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) return undefined;
      attributes.time = new Date(ms).toISOString();
    } else if (attribute !== undefined) {
      attributes[attribute] = value;
    } else {
      const extension = name.slice(3);
      if (!PLAIN_EXTENSION.test(extension) || OVERRIDING.has(extension)) return undefined;
      attributes[extension] = value;
    }
  }
  // The SDK tells binary mode by ce-id.
  if (attributes.id === undefined) return undefined;
  try {
    attributes.data = JSON.parse(body);
  } catch {
    return undefined; // the SDK's parse says what is wrong
  }
  return new CloudEvent(attributes, false);
}

/**
 * A request's CloudEvent: parseBinaryJsonEvent's when it gives one, else the SDK's HTTP.toEvent
 * with stack traces off (errors keep their message, which is all a 400 reply uses).
 */
export function parseCloudEvent(headers: IncomingHttpHeaders, body: string): ReturnType<typeof HTTP.toEvent> {
  const direct = parseBinaryJsonEvent(headers, body);
  if (direct) return direct;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return HTTP.toEvent({ headers, body });
  } finally {
    Error.stackTraceLimit = limit;
  }
}
