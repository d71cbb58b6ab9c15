// Table tests of the JSON comparison the webhooks use to tell what an UPDATE changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, metadataChanged, onlyRemovesFinalizers, sameJson } from './labels.ts';

/** `{"a":{"a":...leaf...}}`, `depth` objects deep, built without recursion. */
function nested(depth: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

test('sameJson: equal and different values, key order ignored', () => {
  const cases: Array<[unknown, unknown, boolean]> = [
    [1, 1, true],
    [1, '1', false],
    [null, null, true],
    [null, {}, false],
    [{}, [], false],
    [[], {}, false],
    [[1, 2], [1, 2], true],
    [[1, 2], [2, 1], false],
    [[1], [1, 2], false],
    [{ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }, true],
    [{ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 3 }], a: 1 }, false],
    [{ a: 1 }, { b: 1 }, false],
    [{ a: undefined }, {}, false],
    [{ a: 1, b: 2 }, { a: 1 }, false],
  ];
  for (const [a, b, same] of cases) {
    assert.equal(sameJson(a, b), same, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.equal(sameJson(b, a), same, `${JSON.stringify(b)} vs ${JSON.stringify(a)}`);
  }
});

// The API server decodes up to 10,000 levels; the recursive comparison threw a RangeError from
// about 5,000 on, which protected-objects (failurePolicy Fail) turned into a refusal.
test('sameJson: nesting the API server accepts (up to 10,000 levels) is compared, not thrown on', () => {
  for (const depth of [5_000, 6_000, 9_999]) {
    assert.equal(sameJson(nested(depth), nested(depth)), true, `${depth} levels, equal`);
    assert.equal(sameJson(nested(depth, 1), nested(depth, 2)), false, `${depth} levels, different leaf`);
  }
});

test('sameJson: deeper than MAX_JSON_DEPTH counts as different (the cautious answer), without throwing', () => {
  assert.equal(sameJson(nested(MAX_JSON_DEPTH + 10), nested(MAX_JSON_DEPTH + 10)), false);
  assert.equal(sameJson(nested(200_000), nested(200_000)), false);
  // Shared subtrees are the same value: nothing to walk.
  const shared = nested(200_000);
  assert.equal(sameJson({ x: shared }, { x: shared }), true);
});

test('onlyRemovesFinalizers and metadataChanged on deeply nested objects', () => {
  const at = { deletionTimestamp: '2026-11-26T09:00:00Z' };
  const cm = (finalizers: string[], depth: number) => ({ metadata: { name: 'c', ...at, finalizers, annotations: { a: 'b' } }, spec: nested(depth) });
  assert.equal(onlyRemovesFinalizers(cm(['x/y'], 6_000), cm([], 6_000)), true);
  assert.equal(onlyRemovesFinalizers(cm(['x/y'], 6_000), cm([], 6_001)), false);
  const deepMeta = (v: unknown) => ({ metadata: { name: 'c', annotations: { a: 'b' }, extra: v } });
  assert.equal(metadataChanged(deepMeta(nested(6_000)), deepMeta(nested(6_000))), false);
  assert.equal(metadataChanged(deepMeta(nested(6_000, 1)), deepMeta(nested(6_000, 2))), true);
});
