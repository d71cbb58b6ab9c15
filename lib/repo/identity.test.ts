import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRepo } from './identity.ts';
import { parseImportLine } from './import.ts';

test('accepted spellings all map to one canonical name and key', () => {
  const cases: Array<[string, string]> = [
    ['ossf/scorecard', 'github.com/ossf/scorecard'],
    ['github.com/ossf/scorecard', 'github.com/ossf/scorecard'],
    ['https://github.com/ossf/scorecard', 'github.com/ossf/scorecard'],
    ['https://github.com/ossf/scorecard/', 'github.com/ossf/scorecard'],
    ['https://github.com/ossf/scorecard.git', 'github.com/ossf/scorecard'],
    ['http://GitHub.com/ossf/scorecard.git/', 'github.com/ossf/scorecard'],
    ['  OSSF/Scorecard  ', 'github.com/OSSF/Scorecard'],
    ['a/.github', 'github.com/a/.github'],
    ['a-b/c_d.e-f', 'github.com/a-b/c_d.e-f'],
    [`${'x'.repeat(39)}/${'y'.repeat(100)}`, `github.com/${'x'.repeat(39)}/${'y'.repeat(100)}`],
  ];
  for (const [input, canonical] of cases) {
    const r = parseRepo(input);
    assert.ok(r.ok, `${input}: ${!r.ok && r.reason}`);
    assert.equal(r.repo.canonical, canonical, input);
    assert.equal(r.repo.key, canonical.toLowerCase(), input);
  }
});

test('everything else is rejected with its reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['scorecard', /expected owner\/repo/],
    ['a/b/c/d', /expected/],
    ['gitlab.com/a/b', /host gitlab.com is not allowed/],
    ['https://gitlab.com/a/b', /not allowed/],
    ['ftp://github.com/a/b', /unsupported scheme/],
    ['ssh://git@github.com/a/b', /unsupported scheme/],
    ['https://user:pw@github.com/a/b', /credentials/],
    ['https://github.com:443/a/b', /ports/],
    ['a/..', /invalid repository/],
    ['a/.', /invalid repository/],
    ['-a/b', /invalid owner/],
    ['a_b/c', /invalid owner/],
    [`${'x'.repeat(40)}/b`, /invalid owner/],
    [`a/${'y'.repeat(101)}`, /invalid repository/],
    ['a/b c', /whitespace/],
    ['a/b\nc', /whitespace/],
    ['a/$(rm -rf /)', /./],
    ['a/b;ls', /invalid repository/],
    ['a/b?x=1', /query/],
    ['a//b', /empty path segment/],
    ['github.com/a/b/', /./],
    ['x'.repeat(400), /longer than 300/],
  ];
  for (const [input, reason] of cases) {
    const r = parseRepo(input);
    if (input === 'github.com/a/b/') {
      assert.ok(r.ok, 'a trailing slash is fine');
      continue;
    }
    assert.equal(r.ok, false, `${JSON.stringify(input)} accepted`);
    assert.match((r as { reason: string }).reason, reason, input);
  }
});

test('other hosts are accepted only when configured', () => {
  const r = parseRepo('https://gitlab.com/Group/Proj', ['github.com', 'gitlab.com']);
  assert.ok(r.ok);
  assert.equal(r.repo.key, 'gitlab.com/group/proj');
  assert.equal(parseRepo('gitlab.com/a/b', ['gitlab.com']).ok, true);
  assert.equal(parseRepo('a/b', ['gitlab.com']).ok, false, 'owner/repo means github.com, which is not allowed here');
});

test('import lines: plain names, Scorecard CSV, header, comments, blanks, BOM, CRLF, quotes', () => {
  const hosts = ['github.com'];
  const cases: Array<[string, number, string]> = [
    ['repo,metadata', 1, 'skip'],
    ['\ufeffrepo,metadata', 1, 'skip'],
    ['', 2, 'skip'],
    ['# comment', 2, 'skip'],
    ['github.com/intel/linux-sgx,criticality_score:0.484480', 2, 'repo github.com/intel/linux-sgx criticality_score:0.484480'],
    ['ossf/scorecard\r', 2, 'repo github.com/ossf/scorecard null'],
    ['"github.com/a/b","x,y"', 2, 'repo github.com/a/b x,y'],
    ['\ufeffossf/scorecard', 1, 'repo github.com/ossf/scorecard null'],
    ['ossf/scorecard,', 2, 'repo github.com/ossf/scorecard null'],
    ['not a repo', 2, 'invalid'],
    ['"unterminated', 2, 'invalid'],
    [`a/b,${'m'.repeat(5000)}`, 2, 'invalid'],
  ];
  for (const [line, n, want] of cases) {
    const r = parseImportLine(line, n, hosts);
    const got = r.kind === 'repo' ? `repo ${r.repo.canonical} ${r.metadata}` : r.kind;
    assert.equal(got, want, JSON.stringify(line.slice(0, 40)));
  }
});
