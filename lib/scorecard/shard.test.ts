import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath } from '../../test/fixtures/scorecard.ts';
import { classify, type PodFacts } from './classify.ts';
import { classifyShard, type ShardOutcome } from './shard.ts';

const OWNER = 'github.com/posture-e2e';
const [A, B, C, D] = ['healthy', 'second', 'third', 'fourth'].map((n) => `${OWNER}/${n}`);
const MISSING = `${OWNER}/missing`;
const SHARD_VERSIONS = ['v5.4.0', 'v5.5.0'];
const read = (file: string) => readFileSync(fixturePath(file), 'utf8');
const shardLog = (v: string, c: string) => read(`real-${v}-fake-github-shard-${c}.pod-log.txt`);

/** The pod facts of a shard Job whose Scorecard went through its list: exit 1 after a check runtime error. */
const CHECKS_FAILED_EXIT: PodFacts = { podPhase: 'Failed', exitCode: 1, terminatedReason: 'Error', jobReason: 'BackoffLimitExceeded' };
const EXIT_0: PodFacts = { podPhase: 'Succeeded', exitCode: 0, terminatedReason: 'Completed', jobReason: 'CompletionsReached' };
const DEADLINE: PodFacts = { podPhase: 'Failed', exitCode: 137, terminatedReason: 'Error', podReason: 'DeadlineExceeded', jobReason: 'DeadlineExceeded' };
const OOM: PodFacts = { podPhase: 'Failed', exitCode: 137, terminatedReason: 'OOMKilled', jobReason: 'BackoffLimitExceeded' };

/** `repo: result` / `repo: <failure>` / `repo: not-reached`: what a table row expects. */
function summary(outcomes: ShardOutcome[]): string[] {
  return outcomes.map((o) => `${o.repo.slice(OWNER.length + 1)}: ${o.kind === 'failed' ? o.failure : o.kind}`);
}
function outcomeOf(outcomes: ShardOutcome[], repo: string): ShardOutcome {
  const o = outcomes.find((x) => x.repo === repo);
  assert.ok(o, repo);
  return o;
}
function assertResultFor(o: ShardOutcome, repo: string): void {
  assert.equal(o.kind, 'result', JSON.stringify(o));
  if (o.kind === 'result') assert.equal(o.result.repo.toLowerCase(), repo.toLowerCase(), 'a result is only ever the repository it names');
}

// The real shard outputs (Scorecard v5.4.0 and v5.5.0, `--repos=` against the fake GitHub):
// stdout and stderr interleaved line by line.
const REAL: Array<{ case: string; repos: string[]; want: string[]; reason?: [string, RegExp] }> = [
  { case: 'healthy', repos: [A, B, C], want: ['healthy: result', 'second: result', 'third: result'] },
  { case: 'not-found', repos: [A, MISSING, C], want: ['healthy: result', 'missing: no-result', 'third: result'], reason: [MISSING, /404 Not Found/] },
  {
    case: 'server-error',
    repos: [A, B, C],
    want: ['healthy: result', 'second: infrastructure', 'third: result'],
    reason: [B, /^GitHub could not be reached: Skipping github\.com\/posture-e2e\/second: .*502 Bad Gateway/],
  },
  {
    case: 'rate-limited',
    repos: [A, B, C],
    want: ['healthy: result', 'second: rate-limited', 'third: result'],
    reason: [B, /secondary rate limit/],
  },
];

for (const v of SHARD_VERSIONS) {
  for (const row of REAL) {
    test(`classifyShard: real ${v} shard-${row.case}: ${row.want.join(', ')}`, () => {
      const log = shardLog(v, row.case);
      for (const facts of [CHECKS_FAILED_EXIT, EXIT_0]) {
        const verdict = classifyShard(log, row.repos, facts);
        assert.deepEqual(summary(verdict.outcomes), row.want);
        assert.equal(verdict.ignoredCount, 0);
        for (const o of verdict.outcomes) {
          if (o.kind !== 'result') continue;
          assertResultFor(o, o.repo);
          assert.equal(o.result.scorecardVersion, v);
          // Only the checks that need hosts other than GitHub ended in a runtime error: flagged.
          assert.equal(o.flagged, true);
          assert.deepEqual(
            o.internalErrors.map((e) => e.split(':')[0]),
            ['CII-Best-Practices', 'Fuzzing', 'Vulnerabilities'],
          );
        }
        if (row.reason) {
          const o = outcomeOf(verdict.outcomes, row.reason[0]);
          assert.equal(o.kind, 'failed');
          if (o.kind === 'failed') {
            assert.match(o.reason, row.reason[1]);
            assert.ok(o.line !== null && /^Skipping /.test(log.split('\n')[o.line - 1]), 'its line is its Skipping line');
          }
        }
      }
    });
  }
}

test('classifyShard: the single-repository classifier refuses a shard log outright (why a shard needs its own split)', () => {
  const c = classify(shardLog('v5.4.0', 'healthy'), CHECKS_FAILED_EXIT);
  assert.equal(c.ok, false);
  if (!c.ok) assert.equal(c.failure, 'invalid-result');
});

// Lines of the real output, to build synthetic shards from.
const real = shardLog('v5.4.0', 'healthy').split('\n');
const resultLine = (repo: string) => {
  const l = real.find((x) => x.startsWith('{') && JSON.parse(x).repo.name === repo);
  if (l) return l;
  // Another repository of the same shape: the real line with its name changed.
  const doc = JSON.parse(real[0]);
  doc.repo.name = repo;
  return JSON.stringify(doc);
};
const checkFailedLines = (repo: string) => real.filter((x) => x.startsWith('Check ')).map((x) => x.replaceAll(A, repo).replaceAll(B, repo).replaceAll(C, repo));
const skipLine = (file: string, repo: string) => {
  const l = read(file)
    .split('\n')
    .find((x) => x.startsWith('Skipping '));
  assert.ok(l, file);
  return l.replace(/^Skipping \S+?: /, `Skipping ${repo}: `);
};
const SKIP_404 = (repo: string) => skipLine('real-v5.4.0-fake-github-not-found.pod-log.txt', repo);
const SKIP_401 = (repo: string) => skipLine('real-v5.4.0-fake-github-bad-credentials.pod-log.txt', repo);
const SKIP_502 = (repo: string) => skipLine('real-v5.4.0-fake-github-server-error.pod-log.txt', repo);
const SKIP_UNREACHABLE = (repo: string) => skipLine('real-v5.4.0-repo-unreachable.pod-log.txt', repo);
const SKIP_SECONDARY = (repo: string) => skipLine('real-v5.4.0-fake-github-secondary-rate-limit-no-retry-after.pod-log.txt', repo);
const WAITING = 'time="2026-12-07T22:40:00Z" level=info msg="Rate limit exceeded. Waiting 42m0s to retry..."';
const LOGRUS = [
  'time="2026-12-07T22:34:14Z" level=info msg="Retry-After header set. Waiting 1s to retry..."',
  'time="2026-12-07T22:34:15Z" level=warning msg="unable to get tarball: 502. Skipping..."',
  '{"level":"info","ts":1765146855.1,"msg":"check finished","check":"Pinned-Dependencies"}',
  '\u001b[33mWARN\u001b[0m colourful stderr line',
  '2026/12/07 22:34:16 some Go log line',
];
const CHECKS_FAILED = [
  'Error: one or more checks failed during execution',
  '2026/12/07 22:35:15 error during command execution: one or more checks failed during execution',
];
const scored = (repo: string) => [...LOGRUS, resultLine(repo), ...checkFailedLines(repo)];
const lines = (...parts: Array<string | string[]>) => `${parts.flat().join('\n')}\n`;

const SYNTHETIC: Array<{
  name: string;
  repos: string[];
  log: string;
  facts?: PodFacts;
  truncated?: boolean;
  want: string[];
  check?: (o: ShardOutcome[]) => void;
  ignored?: number;
}> = [
  {
    name: 'logrus noise, JSON log records, ANSI and Go log lines between results',
    repos: [A, B, C],
    log: lines(scored(A), scored(B), scored(C), LOGRUS, CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: result', 'third: result'],
  },
  {
    name: 'kubectl --timestamps on every line',
    repos: [A, B],
    log: lines([...scored(A), ...scored(B), ...CHECKS_FAILED].map((l, i) => `2026-12-07T22:34:${String(10 + i).padStart(2, '0')}.123456789Z ${l}`)),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: result'],
  },
  {
    name: 'Skipping lines in every wording: 401, network error, 502, 404, secondary rate limit',
    repos: [A, B, C, D, MISSING],
    log: lines(SKIP_401(A), SKIP_UNREACHABLE(B), SKIP_502(C), LOGRUS, SKIP_SECONDARY(D), SKIP_404(MISSING)),
    facts: EXIT_0,
    want: ['healthy: credentials', 'second: infrastructure', 'third: infrastructure', 'fourth: rate-limited', 'missing: no-result'],
  },
  {
    name: "a neighbour's rate-limited check error never becomes the next repository's Skipping class",
    repos: [A, MISSING],
    log: lines(
      resultLine(A),
      `Check Code-Review failed for ${A}: internal error: GET https://api.github.com/repos/x: 403 You have exceeded a secondary rate limit. []`,
      `Check Fuzzing failed for ${A}: repo unreachable: GET https://api.github.com/x: 502 Bad Gateway []`,
      SKIP_404(MISSING),
    ),
    facts: EXIT_0,
    want: ['healthy: result', 'missing: no-result'],
  },
  {
    name: 'a rate-limit wait logged while scanning one repository, then its Skipping for the limit: rate-limited for it only',
    repos: [A, B, C],
    log: lines(scored(A), WAITING, SKIP_SECONDARY(B), scored(C), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: rate-limited', 'third: result'],
  },
  {
    name: 'deadline mid-shard while waiting on the rate limit: rate-limited (with its reset) for the one in progress, not-reached after',
    repos: [A, B, C, D],
    log: lines(scored(A), LOGRUS, WAITING),
    facts: DEADLINE,
    want: ['healthy: result', 'second: rate-limited', 'third: not-reached', 'fourth: not-reached'],
    check: (o) => {
      const b = outcomeOf(o, B);
      assert.equal(b.kind === 'failed' && b.retryAt, '2026-12-07T23:22:00.000Z');
      const c = outcomeOf(o, C);
      assert.match(
        c.kind === 'not-reached' ? c.reason : '',
        /^not attempted: the pod ended \(rate-limited\) while Scorecard was on github\.com\/posture-e2e\/second$/,
      );
    },
  },
  {
    name: 'deadline mid-shard: deadline-exceeded for the one in progress, not-reached for the rest; the done ones keep their lines',
    repos: [A, MISSING, B, C],
    log: lines(scored(A), SKIP_404(MISSING), LOGRUS.slice(1)),
    facts: DEADLINE,
    want: ['healthy: result', 'missing: no-result', 'second: deadline-exceeded', 'third: not-reached'],
  },
  {
    name: 'OOMKilled mid-shard: resource-limit for the one being scanned, not-reached for the rest',
    repos: [A, B, C, D],
    log: lines(scored(A), scored(B), LOGRUS),
    facts: OOM,
    want: ['healthy: result', 'second: result', 'third: resource-limit', 'fourth: not-reached'],
  },
  {
    name: 'the pod crashed mid-shard (exit 2, a panic): pod-failed for the one in progress, not-reached for the rest',
    repos: [A, B, C],
    log: lines(scored(A), 'panic: runtime error: invalid memory address or nil pointer dereference', 'goroutine 1 [running]:'),
    facts: { podPhase: 'Failed', exitCode: 2, terminatedReason: 'Error' },
    want: ['healthy: result', 'second: pod-failed', 'third: not-reached'],
  },
  {
    name: 'exit 1 without the "checks failed" error (a fatal log line mid-shard) is not a finished list',
    repos: [A, B, C],
    log: lines(scored(A), 'time="2026-12-07T22:34:20Z" level=fatal msg="something broke"'),
    facts: { podPhase: 'Failed', exitCode: 1, terminatedReason: 'Error' },
    want: ['healthy: result', 'second: pod-failed', 'third: not-reached'],
  },
  {
    name: 'the pod never started (image pull): infrastructure for the first, not-reached for the rest',
    repos: [A, B, C],
    log: '',
    facts: { podPhase: 'Pending', waitingReason: 'ImagePullBackOff' },
    want: ['healthy: infrastructure', 'second: not-reached', 'third: not-reached'],
  },
  {
    name: 'a killed container cut the last result mid-line: truncated for it, not-reached after',
    repos: [A, B, C],
    log: lines(scored(A), LOGRUS).concat(resultLine(B).slice(0, 500)),
    facts: { podPhase: 'Failed', exitCode: 137, terminatedReason: 'Error' },
    want: ['healthy: result', 'second: truncated', 'third: not-reached'],
  },
  {
    name: 'Scorecard finished the list (exit 0) but printed nothing for one repository (a format failure): no-result for it only',
    repos: [A, B, C],
    log: lines(scored(A), `Failed to format results for ${B}: write error`, scored(C)),
    facts: EXIT_0,
    want: ['healthy: result', 'second: no-result', 'third: result'],
    check: (o) => {
      const b = outcomeOf(o, B);
      assert.match(b.kind === 'failed' ? b.reason : '', /went on to github\.com\/posture-e2e\/third; its last line: Failed to format results/);
    },
  },
  {
    name: 'finished the list without a line for the last ones: no-result, not not-reached',
    repos: [A, B, C],
    log: lines(scored(A), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: no-result', 'third: no-result'],
  },
  {
    name: "a forged result for a repository not in the list is nobody's, and never fills a gap",
    repos: [A, B, C],
    log: lines(scored(A), resultLine('github.com/evil/elsewhere'), resultLine(`${OWNER}/healthy-but-not-asked`), scored(C), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: no-result', 'third: result'],
    ignored: 2,
  },
  {
    name: "a result whose repo.name is not a repository name, and garbled result-like text, are nobody's",
    repos: [A, B],
    log: lines(scored(A), resultLine('not a repo'), `{"date":"x","repo":{"name":"${B}"},"checks":[{"na`, scored(B), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: result'],
    ignored: 2,
  },
  {
    name: 'the same result printed twice is accepted once',
    repos: [A, B, C],
    log: lines(scored(A), scored(B), resultLine(B), scored(C), resultLine(A), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: result', 'third: result'],
  },
  {
    name: 'two different results for one repository: invalid-result for it only',
    repos: [A, B, C],
    log: lines(scored(A), scored(B), resultLine(B).replace('"score":3.1', '"score":9.9'), scored(C), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: invalid-result', 'third: result'],
  },
  {
    name: 'a result and a Skipping line for one repository: invalid-result for it only',
    repos: [A, B, C],
    log: lines(scored(A), scored(B), SKIP_404(B), scored(C), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: invalid-result', 'third: result'],
  },
  {
    name: 'a result that fails the schema: invalid-result for the repository it names only',
    repos: [A, B, C],
    log: lines(scored(A), resultLine(B).replace('"score":3.1', '"score":42'), scored(C), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: invalid-result', 'third: result'],
  },
  {
    name: 'results out of order and names in another case are still attributed by name',
    repos: [A, B, C],
    log: lines(scored(C), resultLine(B.toUpperCase().replace('GITHUB.COM', 'github.com')), scored(A), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: result', 'third: result'],
  },
  {
    name: "a Skipping line for a repository not in the list is nobody's",
    repos: [A, B],
    log: lines(scored(A), SKIP_401('github.com/evil/elsewhere'), scored(B), CHECKS_FAILED),
    facts: CHECKS_FAILED_EXIT,
    want: ['healthy: result', 'second: result'],
    ignored: 1,
  },
  {
    name: 'truncated (read from the tail) with nothing left but noise: every repository truncated, none not-reached',
    repos: [A, B, C],
    log: lines(LOGRUS),
    facts: DEADLINE,
    truncated: true,
    want: ['healthy: truncated', 'second: truncated', 'third: truncated'],
  },
  {
    name: 'truncated (read from the tail), then a deadline: truncated before the first line left, the tail as without a cut',
    repos: [A, B, C, D],
    log: lines(scored(B), LOGRUS),
    facts: DEADLINE,
    truncated: true,
    want: ['healthy: truncated', 'second: result', 'third: deadline-exceeded', 'fourth: not-reached'],
  },
];

for (const row of SYNTHETIC) {
  test(`classifyShard: ${row.name}`, () => {
    const verdict = row.truncated
      ? classifyShard({ text: row.log, bytes: Buffer.byteLength(row.log), truncated: true }, row.repos, row.facts)
      : classifyShard(row.log, row.repos, row.facts);
    assert.deepEqual(summary(verdict.outcomes), row.want, JSON.stringify(verdict, null, 1).slice(0, 3000));
    assert.equal(verdict.ignoredCount, row.ignored ?? 0, verdict.ignored.join('\n'));
    for (const o of verdict.outcomes) {
      if (o.kind === 'result') assertResultFor(o, o.repo);
      if (o.kind !== 'result') assert.ok(o.reason.length > 0 && o.reason.length <= 300 && !/[\u0000-\u001f]/.test(o.reason), o.reason);
    }
    row.check?.(verdict.outcomes);
  });
}

test("classifyShard: a real shard log cut at every line and inside lines (read from the tail) never borrows a neighbour's result", () => {
  const kindOf = (o: ShardOutcome) => (o.kind === 'failed' ? o.failure : o.kind);
  for (const v of SHARD_VERSIONS) {
    for (const c of ['healthy', 'not-found', 'server-error']) {
      const log = shardLog(v, c);
      const repos = c === 'not-found' ? [A, MISSING, C] : [A, B, C];
      const full = classifyShard(log, repos, CHECKS_FAILED_EXIT).outcomes;
      const lineStart = [0, ...[...log.matchAll(/\n/g)].map((m) => m.index + 1)];
      const cuts = [...lineStart, ...lineStart.map((x) => x + 7), ...Array.from({ length: 40 }, (_, k) => Math.floor((log.length * k) / 40))];
      for (const cut of cuts.filter((x) => x <= log.length)) {
        const kept = log.slice(cut);
        const got = classifyShard({ text: kept, bytes: Buffer.byteLength(kept), truncated: cut > 0 }, repos, CHECKS_FAILED_EXIT).outcomes;
        for (let i = 0; i < repos.length; i += 1) {
          const f = full[i];
          const line = f.kind === 'not-reached' ? null : f.line;
          assert.ok(line !== null);
          // Its whole line is left: what the full log says; else truncated, never anything borrowed.
          const want = lineStart[line - 1] >= cut ? kindOf(full[i]) : 'truncated';
          assert.equal(kindOf(got[i]), want, `${v} ${c} cut at ${cut}: ${repos[i]}`);
          if (got[i].kind === 'result') assertResultFor(got[i], repos[i]);
        }
      }
    }
  }
});

test('classifyShard: bad input is a clear error', () => {
  assert.throws(() => classifyShard('', []), /at least one repository/);
  assert.throws(() => classifyShard('', [A, A.toUpperCase().replace('GITHUB.COM', 'github.com')]), /asked for twice/);
  assert.throws(() => classifyShard('', ['not a repo']), /shard repository "not a repo"/);
});

test('classifyShard: many repositories and much noise stay linear (smoke: 2,000 repositories, 100k noise lines)', () => {
  const repos = Array.from({ length: 2000 }, (_, i) => `${OWNER}/r${i}`);
  const parts: string[] = [];
  for (const r of repos) {
    for (let k = 0; k < 50; k += 1) parts.push(LOGRUS[k % LOGRUS.length]);
    parts.push(resultLine(r));
  }
  const v = classifyShard(lines(parts, CHECKS_FAILED), repos, CHECKS_FAILED_EXIT);
  assert.equal(v.outcomes.filter((o) => o.kind === 'result').length, 2000);
});
