import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROJECT_FIXTURES } from '../../test/fixtures/scorecard.ts';
import { checkStructure, parseScorecardDate, validateResult } from './schema.ts';
import { loadFixtures } from './testing.ts';

const fixtures = loadFixtures();
const base = () => structuredClone(fixtures[0].value) as any;

test("schema: every fixture passes (the project's own, and the shared corpus when present)", () => {
  assert.ok(fixtures.filter((f) => f.path.startsWith(PROJECT_FIXTURES)).length >= 8, 'the project keeps its own fixtures');
  for (const fx of fixtures) {
    const v = validateResult(JSON.parse(fx.text));
    assert.equal(v.ok, true, `${fx.file}: ${v.ok ? '' : v.error}`);
  }
});

test('schema: shapes real Scorecard versions print are accepted', () => {
  const cases: Array<[string, (d: any) => void]> = [
    [
      'metadata absent (REST API)',
      (d) => {
        delete d.metadata;
      },
    ],
    [
      'metadata as a list (--metadata=a,b)',
      (d) => {
        d.metadata = ['a', 'b'];
      },
    ],
    [
      'metadata as a string (REST API spec)',
      (d) => {
        d.metadata = 'x';
      },
    ],
    [
      'details absent',
      (d) => {
        delete d.checks[0].details;
      },
    ],
    [
      'documentation null',
      (d) => {
        d.checks[0].documentation = null;
      },
    ],
    [
      'documentation absent',
      (d) => {
        delete d.checks[0].documentation;
      },
    ],
    [
      'annotations (--show-annotations)',
      (d) => {
        d.checks[0].annotations = ['reviewed'];
      },
    ],
    [
      'aggregate -1.0 when no check scored',
      (d) => {
        d.score = -1;
      },
    ],
    [
      'aggregate 10',
      (d) => {
        d.score = 10;
      },
    ],
    [
      'aggregate 0',
      (d) => {
        d.score = 0;
      },
    ],
    [
      'check scores -1 and 10',
      (d) => {
        d.checks[0].score = -1;
        d.checks[1].score = 10;
      },
    ],
    [
      'RFC3339 with offset and nanoseconds',
      (d) => {
        d.date = '2026-01-31T23:59:59.123456789+05:30';
      },
    ],
    [
      'repo.commit of an empty repository',
      (d) => {
        d.repo.commit = 'no commits found';
      },
    ],
    [
      '--local repository name',
      (d) => {
        d.repo.name = 'file:///src/repo';
      },
    ],
    [
      'a key from a future version',
      (d) => {
        d.newThing = { nested: [1, 2, 3] };
      },
    ],
    [
      'a check from a future version',
      (d) => {
        d.checks.push({ name: 'SBOM', score: 0, reason: 'no SBOM', details: null, documentation: { url: 'https://x.dev/sbom', short: 's' } });
      },
    ],
  ];
  for (const [name, mutate] of cases) {
    const d = base();
    mutate(d);
    const v = validateResult(d);
    assert.equal(v.ok, true, `${name}: ${v.ok ? '' : v.error}`);
  }
});

test('schema: hostile documents are refused with one short, precise reason', () => {
  const deep = (n: number) => {
    let v: unknown = 1;
    for (let i = 0; i < n; i += 1) v = [v];
    return v;
  };
  const cases: Array<[string, (d: any) => { replace: unknown } | undefined, RegExp]> = [
    ['not an object', () => ({ replace: [] }), /^\(root\) must be object \(got an array of 0\)$/],
    ['null', () => ({ replace: null }), /^\(root\) must be object \(got null\)$/],
    [
      'missing checks',
      (d) => {
        delete d.checks;
      },
      /^\(root\) must have required property 'checks'$/,
    ],
    [
      'missing repo',
      (d) => {
        delete d.repo;
      },
      /required property 'repo'/,
    ],
    [
      'missing repo.commit',
      (d) => {
        delete d.repo.commit;
      },
      /^\/repo must have required property 'commit'$/,
    ],
    [
      'missing scorecard.version',
      (d) => {
        delete d.scorecard.version;
      },
      /^\/scorecard must have required property 'version'$/,
    ],
    [
      'empty checks',
      (d) => {
        d.checks = [];
      },
      /^\/checks must NOT have fewer than 1 items/,
    ],
    [
      'checks as a string',
      (d) => {
        d.checks = 'NaN';
      },
      /^\/checks must be array \(got "NaN"\)$/,
    ],
    [
      'aggregate 11',
      (d) => {
        d.score = 11;
      },
      /^\/score must be <= 10 \(got 11\)$/,
    ],
    [
      'aggregate 5.55',
      (d) => {
        d.score = 5.55;
      },
      /^\/score must be multiple of 0.1 \(got 5.55\)$/,
    ],
    [
      'aggregate -0.5',
      (d) => {
        d.score = -0.5;
      },
      /^\/score must be -1 or between 0 and 10 \(got -0.5\)$/,
    ],
    [
      'aggregate -2',
      (d) => {
        d.score = -2;
      },
      /must be >= -1/,
    ],
    [
      'aggregate "NaN"',
      (d) => {
        d.score = 'NaN';
      },
      /^\/score must be number \(got "NaN"\)$/,
    ],
    [
      'aggregate "Infinity"',
      (d) => {
        d.score = 'Infinity';
      },
      /must be number/,
    ],
    [
      'aggregate "5.1"',
      (d) => {
        d.score = '5.1';
      },
      /must be number/,
    ],
    [
      'aggregate null',
      (d) => {
        d.score = null;
      },
      /must be number \(got null\)/,
    ],
    [
      'check score 11',
      (d) => {
        d.checks[2].score = 11;
      },
      /^\/checks\/2\/score must be <= 10 \(got 11\)$/,
    ],
    [
      'check score 5.5',
      (d) => {
        d.checks[2].score = 5.5;
      },
      /^\/checks\/2\/score must be integer/,
    ],
    [
      'check score -2',
      (d) => {
        d.checks[2].score = -2;
      },
      /must be >= -1/,
    ],
    [
      'check score "10"',
      (d) => {
        d.checks[2].score = '10';
      },
      /must be integer/,
    ],
    [
      'check score true',
      (d) => {
        d.checks[2].score = true;
      },
      /must be integer \(got true\)/,
    ],
    [
      'check without a name',
      (d) => {
        delete d.checks[0].name;
      },
      /required property 'name'/,
    ],
    [
      'check name with a newline',
      (d) => {
        d.checks[0].name = 'A\nB';
      },
      /\/checks\/0\/name must match pattern/,
    ],
    [
      'duplicate check',
      (d) => {
        d.checks.push(structuredClone(d.checks[0]));
      },
      /has the check Binary-Artifacts twice/,
    ],
    [
      'details as a string',
      (d) => {
        d.checks[0].details = 'Warn: x';
      },
      /^\/checks\/0\/details must be array,null \(got "Warn: x"\)$/,
    ],
    [
      'details holding numbers',
      (d) => {
        d.checks[0].details = [1];
      },
      /^\/checks\/0\/details\/0 must be string \(got 1\)$/,
    ],
    [
      'documentation without url',
      (d) => {
        delete d.checks[0].documentation.url;
      },
      /required property 'url'/,
    ],
    [
      'javascript: documentation url',
      (d) => {
        d.checks[0].documentation.url = 'javascript:alert(1)';
      },
      /^\/checks\/0\/documentation\/url must match pattern/,
    ],
    [
      'date Feb 30',
      (d) => {
        d.date = '2022-02-30';
      },
      /^\/date must be a date \(YYYY-MM-DD\) or an RFC3339 timestamp \(got "2022-02-30"\)$/,
    ],
    [
      'date without zone',
      (d) => {
        d.date = '2023-04-20T23:25:12';
      },
      /\/date must be a date/,
    ],
    [
      'date as a number',
      (d) => {
        d.date = 1700000000;
      },
      /\/date must be string/,
    ],
    [
      'repo.name empty',
      (d) => {
        d.repo.name = '';
      },
      /\/repo\/name must NOT have fewer than 1 characters/,
    ],
    [
      'repo.name with control characters',
      (d) => {
        d.repo.name = 'github.com/o/r\u001b[2J';
      },
      /\/repo\/name must match pattern/,
    ],
    [
      'scorecard.version as a number',
      (d) => {
        d.scorecard.version = 5;
      },
      /\/scorecard\/version must be string/,
    ],
    [
      '65 checks',
      (d) => {
        d.checks = Array.from({ length: 65 }, (_, i) => ({ ...d.checks[0], name: `C${i}` }));
      },
      /\/checks must NOT have more than 64 items/,
    ],
    [
      'a million details',
      (d) => {
        d.checks[0].details = new Array(1_000_001).fill('x');
      },
      /more than 1000000 values/,
    ],
    [
      '100001 details',
      (d) => {
        d.checks[0].details = new Array(100_001).fill('x');
      },
      /must NOT have more than 100000 items/,
    ],
    [
      '__proto__ at the root',
      (d) => ({ replace: JSON.parse(JSON.stringify(d).replace('{', '{"__proto__":{"polluted":true},')) }),
      /^\(root\) has forbidden key "__proto__"$/,
    ],
    [
      '__proto__ in a check',
      (d) => ({ replace: JSON.parse(JSON.stringify(d).replace('{"details"', '{"__proto__":{},"details"')) }),
      /^\/checks\/0 has forbidden key "__proto__"$/,
    ],
    [
      'constructor in documentation',
      (d) => {
        d.checks[1].documentation.constructor = { prototype: {} };
      },
      /forbidden key "constructor"/,
    ],
    [
      'prototype deep in an unknown key',
      (d) => {
        d.extra = { a: [{ b: { prototype: 1 } }] };
      },
      /^\/extra\/a\/0\/b has forbidden key "prototype"$/,
    ],
    [
      'a 100k-character reason',
      (d) => {
        d.checks[0].reason = 'r'.repeat(100_000);
      },
      /^\/checks\/0\/reason is longer than 65536 characters$/,
    ],
    [
      'a 100k-character detail',
      (d) => {
        d.checks[0].details = ['ok', 'd'.repeat(100_000)];
      },
      /^\/checks\/0\/details\/1 is longer than 65536 characters$/,
    ],
    [
      'a huge string in an unknown key',
      (d) => {
        d.extra = 'x'.repeat(1_000_000);
      },
      /^\/extra is longer than 65536 characters$/,
    ],
    [
      'deeply nested junk in an unknown key',
      (d) => {
        d.junk = deep(100_000);
      },
      /nested deeper than 16 levels/,
    ],
  ];
  for (const [name, mutate] of cases) {
    const d = base();
    const out = mutate(d);
    const v = validateResult(out ? out.replace : d);
    assert.equal(v.ok, false, name);
    if (!v.ok) {
      assert.match(v.error, want(cases, name), name);
      assert.ok(v.error.length <= 200 && !/[\u0000-\u001f]/.test(v.error), `${name}: ${v.error}`);
    }
  }
  assert.equal(({} as any).polluted, undefined);
});

function want(cases: Array<[string, unknown, RegExp]>, name: string): RegExp {
  return cases.find((c) => c[0] === name)![2];
}

test('schema: parseScorecardDate accepts days and RFC3339, and only real instants', () => {
  const cases: Array<[string, string | null]> = [
    ['2022-04-11', '2022-04-11T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2023-02-29', null],
    ['1900-02-29', null],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['2022-13-01', null],
    ['2022-04-31', null],
    ['2023-04-20T23:25:12Z', '2023-04-20T23:25:12.000Z'],
    ['2023-04-20t23:25:12z', '2023-04-20T23:25:12.000Z'],
    ['2023-04-20T23:25:12.5-02:30', '2023-04-21T01:55:12.500Z'],
    ['2023-04-20T24:00:00Z', null],
    ['2023-04-20T23:59:60Z', null],
    ['2023-04-20T23:25:12+25:00', null],
    ['2023-04-20 23:25:12Z', null],
    ['2023-04-20T23:25Z', null],
    [' 2023-04-20', null],
    ['20230420', null],
    ['', null],
  ];
  for (const [input, expected] of cases) assert.equal(parseScorecardDate(input), expected, input);
});

test('schema: checkStructure is iterative and bounded', () => {
  let deep: unknown = {};
  for (let i = 0; i < 1_000_000; i += 1) deep = { a: deep };
  assert.match(checkStructure(deep) ?? '', /nested deeper than 16 levels/);
  assert.equal(checkStructure({ a: [1, { b: 'c' }] }), null);
  assert.match(checkStructure(new Array(10).fill(0), { maxDepth: 5, maxNodes: 5, maxStringChars: 10 }) ?? '', /more than 5 values/);
});
