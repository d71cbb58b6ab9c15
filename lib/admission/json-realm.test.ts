// parseJson gives what JSON.parse gives, from a context of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJson } from './json-realm.ts';

test('parseJson: the same values, keys and order as JSON.parse, from a context of its own', () => {
  const docs = [
    '{}',
    '[]',
    '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u","object":null,"dryRun":true,"n":-1.5e3}}',
    '{"b":1,"a":2,"10":3,"2":4}', // integer-like keys first, as JSON.parse orders them
    '{"__proto__":{"polluted":true},"constructor":"c"}', // own properties, never the prototype
    '{"s":"caf\\u00e9 \\ud83d\\ude00","big":12345678901234567890,"deep":[[[{"x":[1,2,{"y":null}]}]]]}',
    '"text"',
    '42',
    'null',
  ];
  for (const d of docs) {
    const ours = parseJson(d);
    const theirs = JSON.parse(d);
    assert.equal(JSON.stringify(ours), JSON.stringify(theirs), d);
    if (typeof ours === 'object' && ours !== null && !Array.isArray(ours)) assert.deepEqual(Object.keys(ours), Object.keys(theirs), d);
  }
  const polluted = parseJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
  assert.ok(Object.hasOwn(polluted, '__proto__'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // The point of it: objects built from another context's empty object.
  assert.notEqual(Object.getPrototypeOf(parseJson('{}')), Object.prototype);
  assert.ok(Array.isArray(parseJson('[1]')), 'arrays are arrays across contexts');
  // Its errors are that context's SyntaxError: not instanceof this one's, but with the same message.
  const message = (text: string) => {
    try {
      parseJson(text);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  };
  for (const bad of ['', '{"kind":', '{"a" 1}', 'nope', '[1,]']) {
    let expected: string | undefined;
    try {
      JSON.parse(bad);
    } catch (err) {
      expected = (err as Error).message;
    }
    assert.equal(message(bad), expected, bad);
  }
});
