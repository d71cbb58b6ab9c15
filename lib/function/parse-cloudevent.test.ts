// parseBinaryJsonEvent gives the CloudEvent the SDK's own parse gives for the same request, or
// leaves the request to the SDK: a table of the requests Job events arrive as and of every edge the
// SDK treats in its own way, each compared with HTTP.toEvent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent, HTTP } from 'cloudevents';
import { parseBinaryJsonEvent, parseCloudEvent } from './parse-cloudevent.ts';

const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'posture-1', namespace: 'posture', uid: 'u1' }, status: { active: 1 } };
const body = JSON.stringify(job);
/**
 * The headers of a Job event as Knative Eventing v0.47.0's ApiServerSource adapter sends it (as
 * captured from the adapter built by test/cluster/build-tools.sh; Node lower-cases the names).
 */
const adapter = {
  host: '10.96.12.7',
  'user-agent': 'Go-http-client/1.1',
  'content-length': String(Buffer.byteLength(body)),
  'ce-apiversion': 'batch/v1',
  'ce-id': 'e1cce91d-b8cd-4465-9d30-ddea2bd058e7',
  'ce-kind': 'Job',
  'ce-name': 'posture-1',
  'ce-namespace': 'posture',
  'ce-source': 'https://127.0.0.1:38557',
  'ce-specversion': '1.0',
  'ce-subject': '/apis/batch/v1/namespaces/posture/jobs/posture-1',
  'ce-time': '2026-12-06T03:53:17.031234008Z',
  'ce-type': 'dev.knative.apiserver.resource.update',
  'content-type': 'application/json',
  'kn-namespace': 'knative-eventing',
  'accept-encoding': 'gzip',
};

/** The SDK's event as a plain object (what a handler can read); the SDK's thrown message otherwise. */
function sdk(headers: Record<string, string>, text: string): Record<string, unknown> | string {
  try {
    return { ...(HTTP.toEvent({ headers, body: text }) as CloudEvent<unknown>) };
  } catch (err) {
    return `throws: ${(err as Error).message}`;
  }
}

test('parseBinaryJsonEvent: Job events in the forms posture receives give the SDK own event', () => {
  const relay = HTTP.binary(
    new CloudEvent({
      type: 'dev.knative.apiserver.resource.add',
      source: '/relay',
      subject: '/apis/batch/v1/namespaces/posture/jobs/posture-1',
      datacontenttype: 'application/json',
      data: job,
      kind: 'Job',
      name: 'posture-1',
      namespace: 'posture',
      apiversion: 'batch/v1',
    }),
  );
  const lower = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const cases: Array<[string, Record<string, string>, string]> = [
    ['the ApiServerSource adapter', adapter, body],
    ['posture relay (the SDK HTTP.binary)', lower(relay.headers), String(relay.body)],
    [
      'no time, no subject, no extensions',
      { 'content-type': 'application/json', 'ce-id': '1', 'ce-source': '/s', 'ce-specversion': '1.0', 'ce-type': 'dev.knative.apiserver.resource.delete' },
      body,
    ],
    ['charset in the content type', { ...adapter, 'content-type': 'application/json; charset=utf-8' }, body],
    ['a time with an offset', { ...adapter, 'ce-time': '2026-12-06T04:00:00+01:00' }, body],
    ['a dataschema', { ...adapter, 'ce-dataschema': 'https://example.com/job.json' }, body],
    [
      'a trace context beside (the Broker adds one)',
      {
        ...adapter,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'ce-traceparent': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      body,
    ],
  ];
  for (const [name, headers, text] of cases) {
    const got = parseBinaryJsonEvent(headers, text);
    assert.ok(got, `${name}: taken directly`);
    assert.ok(got instanceof CloudEvent, name);
    const want = sdk(headers, text);
    if (headers['ce-time'] === undefined) {
      // Both stamp a missing time with now.
      assert.ok(typeof want === 'object');
      assert.ok(Math.abs(Date.parse(String(got.time)) - Date.parse(String(want.time))) < 5000, name);
      assert.deepEqual({ ...got, time: '' }, { ...want, time: '' }, name);
    } else {
      assert.deepEqual({ ...got }, want, name);
    }
    assert.doesNotThrow(() => got.validate(), name);
    // And what the function server hands a handler is that same event.
    const served = { ...(parseCloudEvent(headers, text) as CloudEvent<unknown>) };
    assert.deepEqual(
      headers['ce-time'] === undefined ? { ...served, time: '' } : served,
      headers['ce-time'] === undefined ? { ...got, time: '' } : { ...got },
      name,
    );
  }
});

test('parseBinaryJsonEvent: every request of another form, or malformed, is left to the SDK (which says what is wrong)', () => {
  const without = (k: string) => Object.fromEntries(Object.entries(adapter).filter(([h]) => h !== k));
  const cases: Array<[string, Record<string, string>, string]> = [
    [
      'structured mode',
      { 'content-type': 'application/cloudevents+json' },
      JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: 't', data: job }),
    ],
    ['a batch', { 'content-type': 'application/cloudevents-batch+json' }, '[]'],
    ['CloudEvents 0.3', { ...adapter, 'ce-specversion': '0.3' }, body],
    ['no ce-specversion', without('ce-specversion'), body],
    ['no ce-id (the SDK: no cloud event detected)', without('ce-id'), body],
    ['text data', { ...adapter, 'content-type': 'text/plain' }, 'hello'],
    ['no content type', without('content-type'), body],
    ['octet-stream', { ...adapter, 'content-type': 'application/octet-stream' }, body],
    ['JSON that is not an object (the SDK quotes it)', adapter, '42'],
    ['a JSON array', adapter, '[1,2]'],
    ['an empty body', adapter, ''],
    ['malformed JSON', adapter, '{nope'],
    ['leading white space', adapter, ` ${body}`],
    ['an empty attribute header (the SDK makes it an extension)', { ...adapter, 'ce-subject': '' }, body],
    ['an unreadable time (the SDK stamps now)', { ...adapter, 'ce-time': 'yesterday' }, body],
    ['an extension that sets the data', { ...adapter, 'ce-data': 'x' }, body],
    ['an extension that sets the content type', { ...adapter, 'ce-datacontenttype': 'text/plain' }, body],
    ['an extension name the specification forbids', { ...adapter, 'ce-Trace_Id': 'x', 'ce-trace_id': 'x' }, body],
    ['an extension name past 20 characters', { ...adapter, 'ce-averyveryverylongextension': 'x' }, body],
    ['a header named datacontenttype', { ...adapter, datacontenttype: 'text/plain' }, body],
  ];
  for (const [name, headers, text] of cases) {
    assert.equal(parseBinaryJsonEvent(headers, text), undefined, name);
  }
  // Malformed events still get the SDK's message from the function server's parse.
  assert.throws(() => parseCloudEvent(adapter, '{nope'), /JSON/);
  assert.throws(() => parseCloudEvent(without('ce-id'), body), /no cloud event detected/);
});

test('parseBinaryJsonEvent: an event without a required attribute is the same unvalidated event as the SDK gives, and validation refuses both', () => {
  for (const missing of ['ce-type', 'ce-source']) {
    const headers = Object.fromEntries(Object.entries(adapter).filter(([h]) => h !== missing));
    const got = parseBinaryJsonEvent(headers, body);
    assert.ok(got, missing);
    assert.deepEqual({ ...got }, sdk(headers, body), missing);
    assert.throws(() => got.validate(), /invalid payload/, missing);
  }
});

test('parseBinaryJsonEvent: the event is frozen and its data is the parsed body, as from the SDK', () => {
  const got = parseBinaryJsonEvent(adapter, body)!;
  assert.ok(Object.isFrozen(got));
  assert.deepEqual(got.data, job);
  assert.equal(got.kind, 'Job');
  assert.equal(got.time, '2026-12-06T03:53:17.031Z');
});
