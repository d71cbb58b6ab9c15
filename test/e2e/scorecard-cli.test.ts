// The real Scorecard CLI (v5.3.0, v5.4.0 and v5.5.0, built from the Go module proxy by
// test/cluster/build-tools.sh):
//  - with no route to GitHub (test/fixtures/scorecard-cli.ts): `--local` on a git repository made
//    here prints the JSON result, then a check runtime error, exit 1; `--repo`: v5.3.0
//    `Error: scorecard.Run: repo unreachable`, exit 1; v5.4.0 and later `Skipping`, exit 0;
//  - against the fake GitHub (test/github/fake.ts, test/fixtures/scorecard-fake-github.ts): a
//    real result for a healthy repository; GitHub's 401, 404 and 502 as each version prints them;
//    a primary rate limit and a secondary one with Retry-After waited out, one without it fatal;
//  - the committed real fixtures are what these binaries print;
//  - each output through `posture results parse` and the classifier, as a kwok pod's log through
//    the harvester, and the `--repo` runs through `posture up`'s local runner, classified as they
//    should be: a real result is stored (flagged: a check hit a runtime error); GitHub out of
//    reach or answering 5xx is `infrastructure` (retried soon, never backed off); a 404 is the
//    repository's own failure.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { WEBHOOKS_DIR } from '../../functions/admission/webhooks-dir.ts';
import { runCliCaptured } from '../../lib/cli/testing.ts';
import { addRepos, latestScore, runByJobName } from '../../lib/db/index.ts';
import { jobName } from '../../lib/jobs/spec.ts';
import { parseRepo, type RepoId } from '../../lib/repo/identity.ts';
import { classify } from '../../lib/scorecard/classify.ts';
import { validateResult } from '../../lib/scorecard/schema.ts';
import { classifyShard, type ShardOutcome } from '../../lib/scorecard/shard.ts';
import { type UpHandle, up } from '../../lib/up/up.ts';
import { SCORECARD_VERSIONS, scorecardBin } from '../cluster/tools.ts';
import { fixturePath } from '../fixtures/scorecard.ts';
import { NO_ROUTE_ENV, realFixture, runScorecard, type ScorecardRun, scoreLocal, withoutDate } from '../fixtures/scorecard-cli.ts';
import {
  FAKE_CASES,
  FAKE_HEAD,
  type FakeCase,
  fakeFixture,
  SHARD_CASES,
  SHARD_VERSIONS,
  SHARD_WANT,
  type ShardCase,
  scoreAgainstFake,
  scoreShardAgainstFake,
  shardCaseRepos,
  shardFixture,
  startScorecardFake,
} from '../fixtures/scorecard-fake-github.ts';
import type { FakeGitHub } from '../github/fake.ts';
import { startPipeline } from './pipeline-kit.ts';
import { useControlPlane } from './plane.ts';

const repo = (s: string): RepoId => (parseRepo(s) as { ok: true; repo: RepoId }).repo;
const scratch = mkdtempSync(join(tmpdir(), 'posture-scorecard-cli-'));
const file = (name: string, text: string) => {
  const p = join(scratch, name);
  writeFileSync(p, text);
  return p;
};

/** What each version prints after the result of a `--local` run whose Fuzzing check cannot reach oss-fuzz. */
const LOCAL_ERROR: Record<string, RegExp> = {
  'v5.3.0': /^Error: check runtime error: Fuzzing: internal error: .*proxyconnect tcp: dial tcp 127\.0\.0\.1:9: connect: connection refused$/m,
  'v5.4.0': /^Error: one or more checks failed during execution$/m,
  'v5.5.0': /^Error: one or more checks failed during execution$/m,
};

const runs = new Map<string, { local: ScorecardRun; remote: ScorecardRun }>();
before(() => {
  for (const v of SCORECARD_VERSIONS) {
    runs.set(v, { local: scoreLocal(v), remote: runScorecard(v, ['--repo=github.com/posture-e2e/unreachable', '--format=json', '--show-details']) });
  }
});

describe('the real Scorecard CLI', () => {
  test('the versions built are the versions tested, and they say so', () => {
    assert.deepEqual(SCORECARD_VERSIONS, ['v5.3.0', 'v5.4.0', 'v5.5.0']);
    for (const v of SCORECARD_VERSIONS) {
      const r = runScorecard(v, ['version']);
      assert.match(r.stdout + r.stderr, new RegExp(`GitVersion:\\s+${v.replace(/\./g, '\\.')}`), `${scorecardBin(v)}: ${r.stdout}${r.stderr}`);
    }
  });

  for (const v of SCORECARD_VERSIONS) {
    test(`${v} --local: one JSON result on stdout, then the runtime error, exit 1; the committed fixtures are what it prints`, () => {
      const { local } = runs.get(v)!;
      assert.equal(local.code, 1, local.stderr);
      const lines = local.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 1, 'one line on stdout');
      const doc = JSON.parse(lines[0]);
      assert.equal(validateResult(doc).ok, true);
      assert.equal(doc.scorecard.version, v);
      assert.deepEqual(doc.repo, { name: 'file://.', commit: 'unknown' });
      assert.match(local.stderr, LOCAL_ERROR[v]);
      const fuzzing = doc.checks.find((c: any) => c.name === 'Fuzzing');
      assert.equal(fuzzing.score, -1);
      assert.match(fuzzing.reason, /^internal error: /);
      // The committed real outputs: the same result (but for the run's date), the same error.
      assert.deepEqual(withoutDate(JSON.parse(readFileSync(fixturePath(realFixture(v, 'local.json')), 'utf8'))), withoutDate(doc));
      assert.match(readFileSync(fixturePath(realFixture(v, 'local.pod-log.txt')), 'utf8'), LOCAL_ERROR[v]);
    });
  }

  test('v5.3.0 --repo with no route to GitHub: "Error: scorecard.Run: repo unreachable", exit 1, nothing on stdout', () => {
    const { remote } = runs.get('v5.3.0')!;
    assert.equal(remote.code, 1);
    assert.equal(remote.stdout, '');
    assert.match(
      remote.stderr,
      /^Error: scorecard\.Run: repo unreachable: Get "https:\/\/api\.github\.com\/repos\/posture-e2e\/unreachable": .*connection refused$/m,
    );
    assert.match(readFileSync(fixturePath(realFixture('v5.3.0', 'repo-unreachable.pod-log.txt')), 'utf8'), /^Error: scorecard\.Run: repo unreachable: /m);
  });

  for (const v of SCORECARD_VERSIONS.filter((x) => x !== 'v5.3.0')) {
    test(`${v} --repo with no route to GitHub: "Skipping <repo>: run: repo unreachable", exit 0, nothing on stdout; one line per repository with --repos`, () => {
      const { remote } = runs.get(v)!;
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(remote.stdout, '');
      assert.match(remote.stderr, /^Skipping github\.com\/posture-e2e\/unreachable: run: repo unreachable: .*connection refused$/m);
      assert.match(
        readFileSync(fixturePath(realFixture(v, 'repo-unreachable.pod-log.txt')), 'utf8'),
        /^Skipping github\.com\/posture-fixtures\/unreachable: run: repo unreachable: /m,
      );
      const many = runScorecard(v, ['--repos=github.com/posture-e2e/a,github.com/posture-e2e/b', '--format=json']);
      assert.equal(many.code, 0, many.stderr);
      assert.equal(many.stdout, '');
      assert.equal([...many.stderr.matchAll(/^Skipping github\.com\/posture-e2e\/(a|b): run: repo unreachable: /gm)].length, 2, many.stderr);
    });
  }
});

describe('the real Scorecard CLI against the fake GitHub (GH_HOST, SSL_CERT_FILE)', () => {
  const fakes: FakeGitHub[] = [];
  const fakeRuns = new Map<string, Awaited<ReturnType<typeof scoreAgainstFake>> & { requests: FakeGitHub['requests'] }>();
  before(async () => {
    // One fake GitHub per version, the versions side by side; within a version one case at a
    // time: a fault is scripted for one run's length, and the request log is the run's own.
    await Promise.all(
      SCORECARD_VERSIONS.map(async (v) => {
        const { fake, token } = await startScorecardFake();
        fakes.push(fake);
        for (const c of FAKE_CASES) {
          fake.clearRequests();
          const run = await scoreAgainstFake(v, fake, token, c);
          fakeRuns.set(`${v} ${c}`, { ...run, requests: [...fake.requests] });
        }
        if (!SHARD_VERSIONS([v]).includes(v)) return;
        for (const c of SHARD_CASES) {
          fake.clearRequests();
          const run = await scoreShardAgainstFake(v, fake, token, c);
          fakeRuns.set(`${v} shard-${c}`, { ...run, requests: [...fake.requests] });
        }
      }),
    );
  });
  after(() => Promise.all(fakes.map((f) => f.close())));
  const get = (v: string, c: FakeCase) => fakeRuns.get(`${v} ${c}`)!;
  const fixture = (v: string, c: FakeCase) => readFileSync(fixturePath(fakeFixture(v, c)), 'utf8');

  /** How a version reports that the first call (the repository's metadata) failed: v5.3.0 an error and exit 1, later ones `Skipping` and exit 0. */
  const firstCallFailed = (v: string, repo: string, answer: string) =>
    v === 'v5.3.0'
      ? new RegExp(`^Error: scorecard\\.Run: repo unreachable: GET https://127\\.0\\.0\\.1:\\d+/api/v3/repos/${repo}: ${answer}$`, 'm')
      : new RegExp(`^Skipping github\\.com/${repo}: run: repo unreachable: GET https://127\\.0\\.0\\.1:\\d+/api/v3/repos/${repo}: ${answer}$`, 'm');
  const firstCallExit = (v: string) => (v === 'v5.3.0' ? 1 : 0);

  /** A healthy run: one valid result for the repository at the fake's head commit; only the checks that need hosts other than GitHub end in a runtime error. */
  const assertScored = (v: string, run: ScorecardRun) => {
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, 'one line on stdout');
    const doc = JSON.parse(lines[0]);
    assert.equal(validateResult(doc).ok, true);
    assert.equal(doc.scorecard.version, v);
    assert.deepEqual(doc.repo, { name: 'github.com/posture-e2e/healthy', commit: FAKE_HEAD });
    const broken = doc.checks.filter((c: any) => c.reason.startsWith('internal error:')).map((c: any) => c.name);
    assert.deepEqual(broken, ['CII-Best-Practices', 'Fuzzing', 'Vulnerabilities'], 'bestpractices.dev, oss-fuzz and osv.dev are out of reach; GitHub is not');
    const byName = Object.fromEntries(doc.checks.map((c: any) => [c.name, c]));
    assert.equal(byName.License.score, 10, byName.License.reason);
    assert.match(byName['Code-Review'].reason, /^Found 0\/3 approved changesets/);
    assert.match(byName['Branch-Protection'].reason, /branch protection not enabled/);
    const c = classify(run.log, { exitCode: run.code });
    assert.equal(c.ok, true, JSON.stringify(c));
    if (c.ok) {
      assert.equal(c.flagged, true);
      assert.equal(c.result.repo, 'github.com/posture-e2e/healthy');
    }
    return doc;
  };

  for (const v of SCORECARD_VERSIONS) {
    test(`${v} healthy: a real result for github.com/posture-e2e/healthy, every GitHub endpoint it called answered, the classifier stores it (flagged)`, () => {
      const run = get(v, 'healthy');
      assertScored(v, run);
      const unanswered = run.requests.filter((r) => r.status >= 400).map((r) => `${r.status} ${r.method} ${r.path}`);
      assert.deepEqual(unanswered, [], 'the fake answers every endpoint Scorecard called');
      assert.ok(run.requests.some((r) => r.api === 'graphql') && run.requests.some((r) => r.api === 'codeload'), 'GraphQL and the tarball were used');
      assert.ok(
        run.requests.every((r) => r.token === 'scorecard'),
        'every request carried the token',
      );
      assert.match(fixture(v, 'healthy'), /^\{"date":.*"repo":\{"name":"github\.com\/posture-e2e\/healthy"/m);
    });

    test(`${v} 401: "401 Bad credentials" on the first call, nothing on stdout; the classifier makes it credentials (the fleet pauses, nobody is blamed)`, () => {
      const run = get(v, 'bad-credentials');
      assert.equal(run.code, firstCallExit(v), run.stderr);
      assert.equal(run.stdout, '');
      const line = firstCallFailed(v, 'posture-e2e/healthy', '401 Bad credentials \\[\\]');
      assert.match(run.stderr, line);
      assert.match(fixture(v, 'bad-credentials'), line);
      assert.deepEqual(
        run.requests.map((r) => [r.status, r.token]),
        [[401, 'unknown token']],
      );
      const c = classify(run.log, { exitCode: run.code });
      assert.equal(c.ok, false);
      if (!c.ok) {
        assert.equal(c.failure, 'credentials', c.reason);
        assert.match(c.reason, /^GitHub refused the token \(401\): .*401 Bad credentials/);
      }
    });

    test(`${v} 404: "404 Not Found" on the first call; the classifier makes it the repository's failure, not infrastructure`, () => {
      const run = get(v, 'not-found');
      assert.equal(run.code, firstCallExit(v), run.stderr);
      assert.equal(run.stdout, '');
      const line = firstCallFailed(v, 'posture-e2e/missing', '404 Not Found \\[\\]');
      assert.match(run.stderr, line);
      assert.match(fixture(v, 'not-found'), line);
      const c = classify(run.log, { exitCode: run.code });
      assert.equal(c.ok, false);
      if (!c.ok) {
        assert.equal(c.failure, v === 'v5.3.0' ? 'pod-failed' : 'no-result', c.reason);
        assert.match(c.reason, /404 Not Found/);
      }
    });

    test(`${v} 5xx: "502 Bad Gateway" on the first call; the classifier makes it infrastructure`, () => {
      const run = get(v, 'server-error');
      assert.equal(run.code, firstCallExit(v), run.stderr);
      assert.equal(run.stdout, '');
      const line = firstCallFailed(v, 'posture-e2e/healthy', '502 Bad Gateway \\[\\]');
      assert.match(run.stderr, line);
      assert.match(fixture(v, 'server-error'), line);
      const c = classify(run.log, { exitCode: run.code });
      assert.equal(c.ok, false);
      if (!c.ok) {
        assert.equal(c.failure, 'infrastructure', c.reason);
        assert.match(c.reason, /502 Bad Gateway/);
      }
    });

    test(`${v} primary rate limit (403, remaining 0, reset 3 s ahead): it waits for the reset, retries, and prints a real result`, () => {
      const run = get(v, 'primary-rate-limit');
      const waiting = /^time="[^"]+" level=info msg="Rate limit exceeded\. Waiting [\d.]+m?s to retry\.\.\."$/m;
      assert.match(run.stderr, waiting);
      assert.match(run.stderr, /^time="[^"]+" level=info msg="Rate limit exceeded\. Retrying\.\.\."$/m);
      assert.ok(run.seconds >= 2, `it waited (${run.seconds} s)`);
      assertScored(v, run);
      assert.deepEqual(
        run.requests.slice(0, 2).map((r) => [r.status, r.path, r.fault ?? null]),
        [
          [403, '/repos/posture-e2e/healthy', 'primary-rate-limit'],
          [200, '/repos/posture-e2e/healthy', null],
        ],
      );
      assert.match(fixture(v, 'primary-rate-limit'), waiting);
    });

    test(`${v} secondary rate limit with Retry-After: it waits as told, retries, and prints a real result`, () => {
      const run = get(v, 'secondary-rate-limit');
      const waiting = /^time="[^"]+" level=info msg="Retry-After header set\. Waiting 1s to retry\.\.\."$/gm;
      assert.equal([...run.stderr.matchAll(waiting)].length, 2, run.stderr);
      assertScored(v, run);
      assert.equal([...fixture(v, 'secondary-rate-limit').matchAll(waiting)].length, 2);
    });

    test(`${v} secondary rate limit without Retry-After: the 403 ends the run; the classifier makes it rate-limited (counted nowhere)`, () => {
      const run = get(v, 'secondary-rate-limit-no-retry-after');
      assert.equal(run.code, firstCallExit(v), run.stderr);
      assert.equal(run.stdout, '');
      // go-github's AbuseRateLimitError in v5.5.0 (go-github v82) no longer prints the error list ` []`.
      const line = firstCallFailed(v, 'posture-e2e/healthy', `403 You have exceeded a secondary rate limit\\. .*\\.${v === 'v5.5.0' ? '' : ' \\[\\]'}`);
      assert.match(run.stderr, line);
      assert.match(fixture(v, 'secondary-rate-limit-no-retry-after'), line);
      const c = classify(run.log, { exitCode: run.code });
      assert.equal(c.ok, false);
      if (!c.ok) assert.equal(c.failure, 'rate-limited', c.reason);
    });
  }

  const shardFixtureText = (v: string, c: ShardCase) => readFileSync(fixturePath(shardFixture(v, c)), 'utf8');
  const kinds = (outcomes: ShardOutcome[]) => outcomes.map((o) => (o.kind === 'failed' ? o.failure : o.kind));
  /** The `Skipping` line each shard case's middle repository gets, as every version from v5.4.0 prints it. */
  const SHARD_SKIP: Record<ShardCase, RegExp | null> = {
    healthy: null,
    'not-found':
      /^Skipping github\.com\/posture-e2e\/missing: run: repo unreachable: GET https:\/\/127\.0\.0\.1:\d+\/api\/v3\/repos\/posture-e2e\/missing: 404 Not Found \[\]$/m,
    'server-error':
      /^Skipping github\.com\/posture-e2e\/second: run: repo unreachable: GET https:\/\/127\.0\.0\.1:\d+\/api\/v3\/repos\/posture-e2e\/second: 502 Bad Gateway \[\]$/m,
    'rate-limited':
      /^Skipping github\.com\/posture-e2e\/second: run: repo unreachable: GET https:\/\/127\.0\.0\.1:\d+\/api\/v3\/repos\/posture-e2e\/second: 403 You have exceeded a secondary rate limit\..*$/m,
  };

  for (const v of SHARD_VERSIONS(SCORECARD_VERSIONS)) {
    for (const c of SHARD_CASES) {
      test(`${v} --repos shard-${c}: one JSON line per scored repository in order, a Skipping line for the failing one; split per repository: ${SHARD_WANT[c].join(', ')}; the committed fixture is what it prints`, () => {
        const run = fakeRuns.get(`${v} shard-${c}`)!;
        const repos = shardCaseRepos(c);
        // Every shard scores at least one healthy repository, whose out-of-reach checks fail: exit 1 at the end.
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, /^Error: one or more checks failed during execution$/m);
        const scored = repos.filter((_, i) => SHARD_WANT[c][i] === 'result');
        const printed = run.stdout
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l));
        assert.deepEqual(
          printed.map((d) => d.repo.name),
          scored,
          'one result line per scored repository, in the order asked',
        );
        for (const d of printed) {
          assert.equal(validateResult(d).ok, true);
          assert.equal(d.scorecard.version, v);
          assert.equal(d.repo.commit, FAKE_HEAD);
        }
        const skip = SHARD_SKIP[c];
        assert.equal([...run.stderr.matchAll(/^Skipping /gm)].length, skip ? 1 : 0, run.stderr);
        if (skip) assert.match(run.stderr, skip);
        // The interleaved log (what the kubelet keeps) split per repository.
        const live = classifyShard(run.interleaved!, repos, { exitCode: run.code });
        assert.deepEqual(kinds(live.outcomes), SHARD_WANT[c], JSON.stringify(live.outcomes.map((o) => ('reason' in o ? o.reason : o.repo))));
        assert.equal(live.ignoredCount, 0);
        // Every request named one of the shard's repositories in the order asked.
        const order = [...new Set(run.requests.map((r) => r.repo).filter((r): r is string => r !== undefined))];
        assert.deepEqual(
          order,
          repos.map((r) => r.slice('github.com/'.length)),
        );
        // The committed fixture: the same lines (but for dates and the port), the same split.
        const committed = shardFixtureText(v, c);
        const committedResults = committed.split('\n').filter((l) => l.startsWith('{'));
        const comparable = (d: any) => JSON.stringify(withoutDate(d)).replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
        assert.deepEqual(
          committedResults.map((l) => comparable(JSON.parse(l))),
          printed.map(comparable),
        );
        if (skip) assert.match(committed, skip);
        const fromFixture = classifyShard(committed, repos, { exitCode: 1 });
        assert.deepEqual(kinds(fromFixture.outcomes), SHARD_WANT[c]);
      });
    }
  }

  test('no fixture holds a token', () => {
    for (const v of SCORECARD_VERSIONS) {
      for (const c of FAKE_CASES) assert.doesNotMatch(fixture(v, c), /ghp_[0-9a-f]{8}|GITHUB_AUTH_TOKEN=/, fakeFixture(v, c));
    }
    for (const v of SHARD_VERSIONS(SCORECARD_VERSIONS)) {
      for (const c of SHARD_CASES) assert.doesNotMatch(shardFixtureText(v, c), /ghp_[0-9a-f]{8}|GITHUB_AUTH_TOKEN=/, shardFixture(v, c));
    }
  });
});

describe('their outputs through `posture results parse`', () => {
  for (const v of SCORECARD_VERSIONS) {
    test(`${v} --local: the result, flagged for the runtime error (exit 0: a result was found)`, async () => {
      const { local } = runs.get(v)!;
      const r = await runCliCaptured(['results', 'parse', file(`${v}-local.log`, local.log)], {});
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.ok, true);
      assert.equal(out.flagged, true);
      assert.equal(out.result.scorecardVersion, v);
      assert.equal(out.result.score, JSON.parse(local.stdout).score);
    });
  }
  // Awaits the `infrastructure` class of helper h12's work (lib/scorecard/classify.ts).
  for (const v of SCORECARD_VERSIONS) {
    test(`${v} --repo unreachable: infrastructure, quoting Scorecard's line`, async () => {
      const { remote } = runs.get(v)!;
      const r = await runCliCaptured(['results', 'parse', file(`${v}-remote.log`, remote.log)], {});
      assert.equal(r.code, 2, r.stdout);
      const out = JSON.parse(r.stdout);
      assert.equal(out.ok, false);
      assert.equal(out.failure, 'infrastructure', out.reason);
      assert.match(out.reason, /repo unreachable/);
    });
  }
});

describe("their outputs as kwok pods' logs, through the harvester", () => {
  const plane = useControlPlane();
  test('the real --local result is stored (flagged), refused verbatim for another repository; GitHub out of reach is infrastructure', {
    timeout: 180_000,
  }, async () => {
    const ns = await plane.cp.createNamespace('sc-cli');
    const p = await startPipeline(plane.cp, ns);
    const core = plane.cp.kc.makeApiClient(k8s.CoreV1Api);
    plane.cleanup(() => p.close());
    plane.cleanup(() => core.deleteNamespace({ name: ns }));
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'posture-github-tokens' }, stringData: { GITHUB_AUTH_TOKEN: 'not-a-real-token' } },
    });
    const DUE = new Date('2026-01-01T00:00:00Z');
    const cases: Array<{ repo: RepoId; log: string; exitCode: number; want: string; version: string; doc?: any }> = [];
    for (const v of SCORECARD_VERSIONS) {
      const { local, remote } = runs.get(v)!;
      const tag = v.replace(/\./g, '-');
      // Verbatim: a `--local` result names `file://.`, not the Job's repository.
      cases.push({ repo: repo(`github.com/posture-e2e/${tag}-verbatim`), log: local.log, exitCode: local.code, want: 'invalid-result', version: v });
      // The same run's output with only repo.name set to the Job's repository (what a --repo run
      // of that repository would print): stored whatever the exit code, flagged.
      const named = repo(`github.com/posture-e2e/${tag}-named`);
      const doc = { ...JSON.parse(local.stdout), repo: { name: named.canonical, commit: 'unknown' } };
      cases.push({ repo: named, log: `${JSON.stringify(doc)}\n${local.stderr}`, exitCode: local.code, want: 'stored', version: v, doc });
      cases.push({ repo: repo(`github.com/posture-e2e/${tag}-unreachable`), log: remote.log, exitCode: remote.code, want: 'infrastructure', version: v });
    }
    await addRepos(
      p.database.db,
      cases.map((c) => ({ repo: c.repo })),
    );
    await p.database.db('repos').update({ next_due_at: DUE });
    for (const c of cases) plane.cp.setPodLog({ namespace: ns, jobName: jobName(c.repo, DUE), content: c.log, exitCode: c.exitCode });
    const tick = await p.ping(new Date());
    assert.equal(tick.body.created, cases.length, JSON.stringify(tick.body));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const done = await p.database.db('runs').whereNot({ outcome: 'pending' }).count('* as n').first();
      if (Number((done as any).n) === cases.length) break;
      if (Date.now() > deadline) throw new Error(`harvested ${(done as any).n} of ${cases.length}\n${plane.cp.diagnostics(5)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const c of cases) {
      const run = await runByJobName(p.database.db, jobName(c.repo, DUE));
      if (c.want === 'stored') {
        assert.equal(run?.failure_class ?? null, null, `${c.repo.canonical}: ${run?.reason}`);
        assert.equal(run?.flagged, true, c.repo.canonical);
        const s = await latestScore(p.database.db, c.repo.key);
        assert.equal(s?.score, c.doc.score);
        assert.equal(s?.scorecardVersion, c.version);
        assert.deepEqual(
          s?.checks.map((x) => [x.name, x.score, x.reason]),
          c.doc.checks.map((x: any) => [x.name, x.score, x.reason]),
        );
      } else {
        assert.equal(run?.failure_class, c.want, `${c.repo.canonical}: ${run?.reason}`);
        if (c.want === 'invalid-result') assert.match(run?.reason ?? '', /the result is for "file:\/\/\."/);
        if (c.want === 'infrastructure') assert.match(run?.reason ?? '', /repo unreachable/);
      }
    }
  });
});

describe('`posture up` with the real CLI on PATH and no route to GitHub', () => {
  const handles: UpHandle[] = [];
  after(async () => {
    for (const h of handles) await h.stop().catch(() => {});
  });
  for (const v of SCORECARD_VERSIONS) {
    test(`${v}: the local runner runs it with the Job's arguments; the repository fails as infrastructure`, { timeout: 120_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), `posture-up-${v}-`));
      mkdirSync(join(dir, 'bin'));
      symlinkSync(scorecardBin(v), join(dir, 'bin', 'scorecard'));
      const env = {
        POSTURE_DATA_DIR: join(dir, 'data'),
        KUBECONFIG: join(dir, 'no-kubeconfig'),
        PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
        GITHUB_AUTH_TOKEN: 'not-a-real-token',
        ...NO_ROUTE_ENV,
      };
      assert.equal((await runCliCaptured(['repos', 'add', 'posture-e2e/unreachable'], env)).code, 0);
      const out = new PassThrough();
      let text = '';
      out.on('data', (d) => (text += d));
      const h = await up({ env, out, apiPort: 0, admissionPort: 0, webhooksDir: WEBHOOKS_DIR });
      handles.push(h);
      assert.equal(h.mode, 'local', text);
      const deadline = Date.now() + 60_000;
      while (!/github\.com\/posture-e2e\/unreachable: failed/.test(text)) {
        if (Date.now() > deadline) throw new Error(`no outcome:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Awaits the `infrastructure` class of helper h12's work.
      assert.match(text, /github\.com\/posture-e2e\/unreachable: failed \(infrastructure\) .*repo unreachable/);
      await h.stop();
    });
  }
});
