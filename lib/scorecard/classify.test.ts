import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FIXTURES } from '../../test/fixtures/scorecard.ts';
import { type Classification, classify, normalizeResult, type PodFacts } from './classify.ts';
import { classifyPodLog } from './index.ts';
import type { ScorecardResultDocument } from './schema.ts';
import { largestFixture, loadFixtures, noisyLog, STDERR_LINES } from './testing.ts';

const fixtures = loadFixtures();
const stderr = STDERR_LINES.join('\n');
const line08 = fixtures.find((f) => f.file === FIXTURES.cliShowDetails)!.line;
const line01 = fixtures[0].line;

function assertSafeReason(c: Classification, context: string): void {
  if (c.ok) return;
  assert.ok(c.reason.length > 0 && c.reason.length <= 300, `${context}: ${c.reason.length} characters`);
  assert.ok(
    !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(c.reason),
    `${context}: control characters in ${JSON.stringify(c.reason)}`,
  );
}

const successFacts: Array<[string, PodFacts | undefined]> = [
  ['no pod facts (CLI)', undefined],
  ['exit 0, Succeeded', { podPhase: 'Succeeded', exitCode: 0, terminatedReason: 'Completed', jobReason: 'CompletionsReached' }],
  // A check runtime error prints the full JSON and exits 1 (Scorecard ≥ PR #2133): stored.
  ['exit 1 after printing the result', { podPhase: 'Failed', exitCode: 1, terminatedReason: 'Error', jobReason: 'BackoffLimitExceeded' }],
];

for (const fx of fixtures) {
  test(`classify: ${fx.file} is a stored result, whatever the exit code`, () => {
    for (const [name, facts] of successFacts) {
      for (const log of [fx.text, `${stderr}\n${fx.line}\n${stderr}\n`, `\ufeff${fx.line}\r\n`]) {
        const c = classify(log, facts);
        assert.equal(c.ok, true, `${name}: ${c.ok ? '' : c.reason}`);
        if (!c.ok) continue;
        const r = c.result;
        assert.equal(r.repo, fx.value.repo.name);
        assert.equal(r.commit, fx.value.repo.commit);
        assert.equal(r.scorecardVersion, fx.value.scorecard.version);
        assert.equal(r.scorecardCommit, fx.value.scorecard.commit);
        assert.equal(r.score, fx.value.score);
        assert.equal(r.date, new Date(fx.value.date.length === 10 ? `${fx.value.date}T00:00:00Z` : fx.value.date).toISOString());
        assert.deepEqual(
          r.checks.map((x) => [x.name, x.score, x.reason, x.details]),
          fx.value.checks.map((x) => [x.name, x.score, x.reason, x.details]),
        );
        assert.ok(r.checks.every((x) => x.documentation?.url.startsWith('https://')));
        assert.deepEqual(r.raw, fx.value);
        // Only a reason starting "internal error:" marks a runtime error (06: Branch-Protection).
        const internal = fx.value.checks.filter((x) => x.reason.startsWith('internal error:')).map((x) => x.name);
        assert.equal(c.flagged, internal.length > 0);
        assert.deepEqual(
          c.internalErrors.map((e) => e.split(':')[0]),
          internal,
        );
      }
    }
  });
}

/** Classifies `log` and checks it fails with `failure` and a reason matching `reason`. */
function expectFailure(name: string, log: Parameters<typeof classify>[0], facts: Parameters<typeof classify>[1], failure: string, reason: RegExp) {
  const c = classify(log, facts);
  assert.equal(c.ok, false, name);
  if (c.ok) return undefined;
  assert.equal(c.failure, failure, `${name}: ${c.reason}`);
  assert.match(c.reason, reason, name);
  return c;
}

test('classify: a check runtime error is stored and flagged, with a short reason per check', () => {
  const doc = structuredClone(fixtures[0].value);
  doc.checks[3].score = -1;
  doc.checks[3].reason = `internal error: error during GetBranch(main): GET https://api.github.com/...: 403 You have exceeded a secondary rate limit\u001b[0m${' x'.repeat(500)}`;
  const c = classify(`${JSON.stringify(doc)}\nError: check runtime error: one or more checks failed during execution\n`, { exitCode: 1, podPhase: 'Failed' });
  assert.equal(c.ok, true);
  if (!c.ok) return;
  assert.equal(c.flagged, true);
  assert.equal(c.internalErrors.length, 1);
  assert.match(c.internalErrors[0], /^CII-Best-Practices: internal error: error during GetBranch/);
  assert.ok(c.internalErrors[0].length <= 300 && !c.internalErrors[0].includes('\u001b'));
});

test('classify: every failure class, with the reason that explains it', () => {
  const bad = JSON.parse(line01);
  bad.score = 11;
  const otherRepo = line01.replace(fixtures[0].value.repo.name, 'github.com/o/other');
  const polluted = line01.replace('{', '{"__proto__":{"polluted":true},');
  const cases: Array<[string, string | { text: string; bytes: number; truncated: boolean }, PodFacts | undefined, string, RegExp]> = [
    // no-result
    [
      'v5.4+ Skipping with exit 0',
      'Starting [Binary-Artifacts]\nSkipping github.com/o/gone: repo unreachable: 404 Not Found\n',
      { exitCode: 0, podPhase: 'Succeeded' },
      'no-result',
      /^Scorecard skipped the repository: Skipping github\.com\/o\/gone: repo unreachable: 404 Not Found$/,
    ],
    ['empty log', '', undefined, 'no-result', /^no Scorecard result in 0 log lines$/],
    ['BOM and blank lines only', '\ufeff\r\n\r\n  \n', undefined, 'no-result', /^no Scorecard result in 3 log lines$/],
    ['stderr only', `${stderr}\nerror: something odd\n`, undefined, 'no-result', /no Scorecard result in 9 log lines; last error: error: something odd$/],
    [
      'logger JSON only',
      '{"level":"error","msg":"cannot clone","error":"EOF"}\n{"level":"info","msg":"bye"}\n',
      undefined,
      'no-result',
      /last error: cannot clone: EOF$/,
    ],
    ['JSON that is not a result', '{}\n[]\nnull\n{"repo":"x"}\n', undefined, 'no-result', /^no Scorecard result in 4 log lines$/],
    ['no pod left, Job complete', '', { podMissing: true, jobReason: 'CompletionsReached' }, 'no-result', /\(no pod found\)/],
    // pod-failed
    [
      'exit 1, no JSON (≤ v5.3 failure)',
      '2026/01/01 00:00:00 error during command execution: repo unreachable: 404\n',
      { exitCode: 1, podPhase: 'Failed', terminatedReason: 'Error' },
      'pod-failed',
      /^pod failed: phase Failed, exit code 1, Error; last error: error during command execution: repo unreachable: 404$/,
    ],
    [
      'OOMKilled',
      'Starting [Vulnerabilities]\n',
      { exitCode: 137, podPhase: 'Failed', terminatedReason: 'OOMKilled' },
      'resource-limit',
      /^the pod went over its memory limit: phase Failed, exit code 137 \(SIGKILL\), OOMKilled; raise the Job's memory$/,
    ],
    // resource-limit: the kubelet's local-storage eviction of a pod over its own limit (no DisruptionTarget).
    [
      'evicted for its own ephemeral storage',
      '',
      { podPhase: 'Failed', podReason: 'Evicted', podMessage: 'Pod ephemeral local storage usage exceeds the total limit of containers 4Gi. ' },
      'resource-limit',
      /^the pod went over its own limit and was evicted: Pod ephemeral local storage usage exceeds the total limit of containers 4Gi\./,
    ],
    [
      'evicted for its own emptyDir',
      '',
      { podPhase: 'Failed', podReason: 'Evicted', podMessage: 'Usage of EmptyDir volume "tmp" exceeds the limit "2Gi". ' },
      'resource-limit',
      /EmptyDir volume "tmp" exceeds the limit/,
    ],
    ['evicted, no message', '', { podPhase: 'Failed', podReason: 'Evicted' }, 'resource-limit', /evicted: Evicted/],
    // infrastructure: the node ran short, whatever the pod did.
    [
      'evicted by node pressure (message, no condition)',
      '',
      { podPhase: 'Failed', podReason: 'Evicted', podMessage: 'The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 512Mi. ' },
      'infrastructure',
      /^the pod was evicted by the node: The node was low on resource: ephemeral-storage/,
    ],
    [
      'evicted by node pressure (DisruptionTarget)',
      '',
      { podPhase: 'Failed', podReason: 'Evicted', podMessage: 'The node was low on resource: memory.', disrupted: true },
      'infrastructure',
      /DisruptionTarget/,
    ],
    [
      'no pod, backoff limit',
      '',
      { podMissing: true, jobReason: 'BackoffLimitExceeded', jobMessage: 'Job has reached the specified backoff limit' },
      'pod-failed',
      /^pod failed: no pod found, BackoffLimitExceeded, "Job has reached the specified backoff limit"$/,
    ],
    // deadline-exceeded
    [
      'Job deadline, rate-limited',
      'Rate limit exceeded. Waiting 59m59s to retry...\n',
      { jobReason: 'DeadlineExceeded', jobMessage: 'Job was active longer than specified deadline' },
      'rate-limited',
      /^Job exceeded its deadline waiting on GitHub's rate limit; last rate-limit message: Rate limit exceeded\. Waiting 59m59s to retry\.\.\.$/,
    ],
    [
      'Job deadline with a partial result',
      `${stderr}\n${line08.slice(0, 5000)}`,
      { jobReason: 'DeadlineExceeded' },
      'deadline-exceeded',
      /^Job exceeded its deadline/,
    ],
    [
      'Job deadline even with a whole result',
      `${line08}\n`,
      { jobReason: 'DeadlineExceeded', exitCode: 143 },
      'deadline-exceeded',
      /exit code 143 \(SIGTERM\)/,
    ],
    ['pod deadline', '', { podReason: 'DeadlineExceeded', podPhase: 'Failed' }, 'deadline-exceeded', /^Job exceeded its deadline/],
    // truncated
    [
      'cut by the byte cap',
      { text: `${stderr}\n${line08.slice(0, 1000)}`, bytes: 1500, truncated: true },
      undefined,
      'truncated',
      /^log is longer than the byte cap and its first part of 1500 bytes holds no complete result; a result starting at line 9 is cut off$/,
    ],
    ['cut by the byte cap before any result', { text: stderr, bytes: 700, truncated: true }, undefined, 'truncated', /holds no complete result$/],
    ['cut flag from pod facts', stderr, { truncated: true }, 'truncated', /^log is longer than the byte cap/],
    ['log ends inside the result', `${stderr}\n${line08.slice(0, 5000)}`, undefined, 'truncated', /^log ends inside a result starting at line 9$/],
    ['pretty result cut', JSON.stringify(JSON.parse(line08), null, 2).slice(0, 3000), { exitCode: 0 }, 'truncated', /starting at line 1$/],
    // invalid-result
    ['score 11', `${stderr}\n${JSON.stringify(bad)}\n`, undefined, 'invalid-result', /^result fails the schema: line 9: \/score must be <= 10 \(got 11\)$/],
    ['not JSON', `${line01.slice(0, -1)},}\n`, undefined, 'invalid-result', /^line 1: result-like text is not valid JSON/],
    ['prototype pollution', `${polluted}\n`, undefined, 'invalid-result', /forbidden key "__proto__"/],
    [
      'two different results',
      `${line01}\n${otherRepo}\n`,
      undefined,
      'invalid-result',
      /^2 different Scorecard results in one log \(lines 1, 2\); refusing to pick one$/,
    ],
    ['exit 1 with a broken result', `${JSON.stringify(bad)}\n`, { exitCode: 1, podPhase: 'Failed' }, 'invalid-result', /score must be <= 10/],
  ];
  for (const [name, log, facts, failure, reason] of cases) {
    const c = expectFailure(name, log, facts, failure, reason);
    if (!c) continue;
    assertSafeReason(c, name);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('classify: a valid result wins over broken result-like text and over a cap cut after it', () => {
  const bad = line01.replace(`"score":${fixtures[0].value.score}`, '"score":55');
  const cases: Array<[string, string | { text: string; bytes: number; truncated: boolean }]> = [
    ['broken copy before', `${bad}\n${line01}\n`],
    ['unparsable copy after', `${line01}\n${line01.slice(0, 900)}\n`],
    ['cap cut after the result', { text: `${line01}\n${stderr}`, bytes: 9000, truncated: true }],
  ];
  for (const [name, log] of cases) assert.equal(classify(log).ok, true, name);
});

test('classify: too many different results is refused, not guessed', () => {
  const many = Array.from({ length: 9 }, (_, i) => line01.replace(`"score":${fixtures[0].value.score}`, `"score":${i}`)).join('\n');
  const c = classify(many);
  assert.equal(!c.ok && c.failure, 'invalid-result');
  assert.match(!c.ok ? c.reason : '', /^more than 8 different Scorecard results/);
});

test('classify: hostile text in the log never reaches a reason unsanitised', () => {
  const nasty = `Skipping github.com/o/r: \u001b[31mred\u001b[0m \u202eevil\u202c \u0000\u0007 tab\there ${'long '.repeat(5000)}`;
  const c = classify(`${nasty}\n`);
  assert.equal(!c.ok && c.failure, 'no-result');
  assertSafeReason(c, 'nasty');
  assert.match(!c.ok ? c.reason : '', /^Scorecard skipped the repository: Skipping github\.com\/o\/r: red evil tab here long long/);
  assert.ok(!c.ok && c.reason.endsWith('…'));
});

test('normalizeResult: dates become ISO instants; missing optional parts become null', () => {
  const doc = structuredClone(fixtures[0].value) as unknown as ScorecardResultDocument;
  delete doc.checks[0].documentation;
  delete doc.checks[1].details;
  const r = normalizeResult(doc);
  assert.equal(r.date, '2022-04-11T00:00:00.000Z');
  assert.equal(r.checks[0].documentation, null);
  assert.equal(r.checks[1].details, null);
  assert.throws(() => normalizeResult({ ...doc, date: 'yesterday' }), /not a validated Scorecard result/);
});

test('classifyPodLog: reading under the cap and classifying is one step', async () => {
  const cases: Array<[string, string[], number, PodFacts | undefined, string]> = [
    ['whole log', [stderr, '\n', line08.slice(0, 100), line08.slice(100), '\n'], 1 << 20, undefined, 'ok'],
    ['result past the cap', [stderr, '\n', line08, '\n'], 2048, undefined, 'truncated'],
    ['runtime error exit 1', [line08, '\n'], 1 << 20, { exitCode: 1 }, 'ok'],
  ];
  for (const [name, chunks, capBytes, facts, want] of cases) {
    const v = await classifyPodLog(chunks, facts, { capBytes });
    assert.equal(v.classification.ok ? 'ok' : v.classification.failure, want, name);
    assert.equal(v.truncated, want === 'truncated', name);
  }
});

test('classify: 50 MB logs take bounded memory (the child runs with a capped heap)', async () => {
  // Run in a child with a small heap: the 50 MB log itself plus 32 MiB is all it may use.
  const script = `
    import { classify } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
    import { largestFixture, noisyLog } from ${JSON.stringify(new URL('./testing.ts', import.meta.url).href)};
    const out = {};
    for (const [name, result] of [['garbage', undefined], ['result at the end', largestFixture().line]]) {
      globalThis.gc();
      const log = noisyLog(50 * 1024 * 1024, result);
      const t0 = performance.now();
      const c = classify(log);
      out[name] = { ms: performance.now() - t0, outcome: c.ok ? 'ok' : c.failure, chars: log.length };
    }
    console.log(JSON.stringify(out));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=82', '--expose-gc', '--input-type=module', '-e', script], {
    maxBuffer: 1 << 20,
  });
  const out = JSON.parse(stdout);
  assert.equal(out.garbage.outcome, 'no-result');
  assert.equal(out['result at the end'].outcome, 'ok');
  assert.ok(out.garbage.chars >= 50 * 1024 * 1024 - 200);
  // How fast is bench/parse.ts's business: a wall-clock limit here fails on a busy machine.
});

test('classifyPodLog: a 50 MB log stream under the default 10 MiB cap', async () => {
  // Generated as it is read, like a pod log stream: nothing holds the whole 50 MB.
  const result = largestFixture().line;
  function* podLog(): Generator<string> {
    const block = noisyLog(64 * 1024);
    for (let sent = 0; sent < 50 * 1024 * 1024; sent += block.length) yield block;
    yield `${result}\n`;
  }
  const head = await classifyPodLog(podLog());
  assert.equal(head.truncated, true);
  assert.equal(head.bytes, 10 * 1024 * 1024);
  assert.equal(!head.classification.ok && head.classification.failure, 'truncated', 'the head never reaches a result at the end of 50 MB');
  const tail = await classifyPodLog(podLog(), undefined, { keep: 'tail' });
  assert.equal(tail.truncated, true);
  assert.ok(tail.bytes <= 10 * 1024 * 1024);
  assert.equal(tail.classification.ok, true, 'the tail keeps the result');
});

test('classify: the largest fixture classifies in well under 5 ms', () => {
  const log = `${stderr}\n${largestFixture().line}\n`;
  for (let i = 0; i < 20; i += 1) classify(log);
  const times: number[] = [];
  for (let i = 0; i < 50; i += 1) {
    const t0 = performance.now();
    classify(log);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  assert.ok(times[25] < 5, `median ${times[25].toFixed(3)} ms`);
});

test("classify: infrastructure failures are told from the repository's own (real Scorecard outputs)", () => {
  const url = 'https://api.github.com/repos/ossf/scorecard';
  const cases: Array<[string, string, PodFacts, string, RegExp]> = [
    [
      'v5.3.0 without DNS (exit 1)',
      `Error: scorecard.Run: repo unreachable: Get "${url}": dial tcp: lookup api.github.com on 10.96.0.10:53: no such host\n`,
      { exitCode: 1, podPhase: 'Failed' },
      'infrastructure',
      /^GitHub could not be reached: Error: scorecard\.Run: repo unreachable: .*no such host/,
    ],
    [
      'v5.4.0 without DNS (Skipping, exit 0)',
      `Skipping github.com/ossf/scorecard: run: repo unreachable: Get "${url}": dial tcp: lookup api.github.com: no such host\n`,
      { exitCode: 0, podPhase: 'Succeeded' },
      'infrastructure',
      /^GitHub could not be reached: Skipping github\.com\/ossf\/scorecard: run: repo unreachable/,
    ],
    [
      'connection refused',
      `Error: scorecard.Run: repo unreachable: Get "${url}": dial tcp 140.82.112.6:443: connect: connection refused\n`,
      { exitCode: 1 },
      'infrastructure',
      /connection refused/,
    ],
    ['GitHub 502', `Error: scorecard.Run: repo unreachable: GET ${url}: 502 Bad Gateway []\n`, { exitCode: 1 }, 'infrastructure', /502 Bad Gateway/],
    [
      'rate limit exhausted',
      `Error: scorecard.Run: repo unreachable: GET ${url}: 403 API rate limit exceeded for installation ID 1. []\n`,
      { exitCode: 1 },
      'rate-limited',
      /^GitHub's rate limit: Error: scorecard\.Run: repo unreachable: .*403 API rate limit exceeded/,
    ],
    [
      'v5.3.0 bad credentials (exit 1)',
      `Error: scorecard.Run: repo unreachable: GET ${url}: 401 Bad credentials []\n`,
      { exitCode: 1, podPhase: 'Failed' },
      'credentials',
      /^GitHub refused the token \(401\): Error: scorecard\.Run: repo unreachable: GET .*: 401 Bad credentials \[\]; fix the token Secret$/,
    ],
    [
      'v5.4.0 bad credentials (Skipping, exit 0)',
      `Skipping github.com/ossf/scorecard: run: repo unreachable: GET ${url}: 401 Bad credentials []\n`,
      { exitCode: 0, podPhase: 'Succeeded' },
      'credentials',
      /401 Bad credentials/,
    ],
    [
      'GraphQL 401',
      'Error: check runtime error: non-200 OK status code: 401 Unauthorized body: "{\\"message\\":\\"Bad credentials\\"}"\n',
      { exitCode: 1 },
      'credentials',
      /401 Unauthorized/,
    ],
    [
      'a Job that waited on the rate limit, then went on, is not rate-limited',
      'time="2026-12-07T18:00:00Z" level=info msg="Rate limit exceeded. Waiting 2s to retry..."\ntime="2026-12-07T18:00:02Z" level=info msg="Rate limit exceeded. Retrying..."\nSkipping github.com/o/gone: repo unreachable: 404 Not Found\n',
      { exitCode: 0 },
      'no-result',
      /Skipping github\.com\/o\/gone/,
    ],
    [
      "GitHub 404 stays the repository's",
      `Error: scorecard.Run: repo unreachable: GET https://api.github.com/repos/ossf/nope: 404 Not Found []\n`,
      { exitCode: 1, podPhase: 'Failed' },
      'pod-failed',
      /404 Not Found/,
    ],
    [
      "v5.4.0 404 stays the repository's",
      `Skipping github.com/ossf/nope: run: repo unreachable: GET https://api.github.com/repos/ossf/nope: 404 Not Found []\n`,
      { exitCode: 0 },
      'no-result',
      /Skipping github\.com\/ossf\/nope/,
    ],
    ['pod disrupted (DisruptionTarget)', '', { podPhase: 'Failed', disrupted: true, jobReason: 'PodFailurePolicy' }, 'infrastructure', /DisruptionTarget/],
    [
      'Job failed by the podFailurePolicy rule',
      '',
      { jobReason: 'PodFailurePolicy', jobMessage: 'Container scorecard for pod posture/x was terminated; pod has condition DisruptionTarget' },
      'infrastructure',
      /DisruptionTarget/,
    ],
    [
      'image pull failed, then the deadline',
      '',
      { waitingReason: 'ImagePullBackOff', jobReason: 'DeadlineExceeded' },
      'infrastructure',
      /image could not be pulled.*ImagePullBackOff/,
    ],
    [
      'missing token Secret, then the deadline',
      '',
      { waitingReason: 'CreateContainerConfigError', jobReason: 'DeadlineExceeded' },
      'infrastructure',
      /missing Secret/,
    ],
    // A real job controller deletes the waiting pod at the deadline: only its Events say why.
    [
      'missing token Secret, pod gone, read from its Events',
      '',
      {
        podMissing: true,
        jobReason: 'DeadlineExceeded',
        jobMessage: 'Job was active longer than specified deadline',
        startFailure: { kind: 'config', detail: 'Failed: Error: secret "posture-github" not found' },
      },
      'infrastructure',
      /^the container could not be configured \(a missing Secret or ConfigMap\): Failed: Error: secret "posture-github" not found \(from the pod's Events\); no pod found, DeadlineExceeded/,
    ],
    [
      'unpullable image, pod gone, read from its Events',
      '',
      { podMissing: true, jobReason: 'DeadlineExceeded', startFailure: { kind: 'image', detail: 'Failed: Failed to pull image "x:v9": not found' } },
      'infrastructure',
      /^the Scorecard image could not be pulled or started: Failed: Failed to pull image "x:v9"/,
    ],
    [
      'never scheduled, pod gone',
      '',
      { podMissing: true, jobReason: 'DeadlineExceeded', startFailure: { kind: 'schedule', detail: 'FailedScheduling: 0/1 nodes are available' } },
      'infrastructure',
      /^the pod could not be scheduled: FailedScheduling/,
    ],
    ['preempted', '', { podPhase: 'Failed', podReason: 'Preempting' }, 'infrastructure', /Preempting/],
    ['a plain deadline stays deadline-exceeded', 'still scanning\n', { jobReason: 'DeadlineExceeded' }, 'deadline-exceeded', /^Job exceeded its deadline/],
  ];
  for (const [name, log, facts, failure, reason] of cases) expectFailure(name, log, facts, failure, reason);
  // A valid result always wins, even beside an unreachable line for a sub-request.
  const ok = classify(`Error: repo unreachable: Get "${url}": dial tcp: i/o timeout\n${line01}\n`, { exitCode: 1 });
  assert.equal(ok.ok, true);
});

test('classify: a deadline spent waiting on the rate limit says when the limit resets; a bare rate-limit error does not guess', () => {
  const log = 'time="2026-12-07T18:00:00Z" level=info msg="Rate limit exceeded. Waiting 59m30s to retry..."\n';
  const c = classify(log, { podMissing: false, jobReason: 'DeadlineExceeded' });
  assert.equal(c.ok, false);
  if (c.ok) return;
  assert.equal(c.failure, 'rate-limited');
  assert.equal(c.retryAt, '2026-12-07T18:59:30.000Z');
  const bare = classify('Error: scorecard.Run: repo unreachable: GET https://api.github.com/repos/o/r: 403 You have exceeded a secondary rate limit []\n', {
    exitCode: 1,
  });
  assert.equal(bare.ok, false);
  if (bare.ok) return;
  assert.equal(bare.failure, 'rate-limited');
  assert.equal(bare.retryAt, undefined);
});

test("classify: only Scorecard's own framing of a 401 is a refused token; a repository's text saying it is not", () => {
  const c = classify('Error: check runtime error: Pinned-Dependencies: parse docs/401 Bad credentials.yml: unexpected token\n', { exitCode: 1 });
  assert.equal(c.ok, false);
  if (!c.ok) assert.notEqual(c.failure, 'credentials', c.reason);
});
