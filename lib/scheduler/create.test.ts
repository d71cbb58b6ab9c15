import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../config/index.ts';
import type { ClaimedRepo } from '../db/index.ts';
import { buildShardJob, jobName, REPOS_ANNOTATION, shardJobName } from '../jobs/spec.ts';
import { KubeError } from '../kube/cluster.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { CREATE_TIME_LIMIT_MS, createFailureKind, groupShards, pastCreateTimeLimit, planClaim } from './create.ts';

const config = defaultConfig({ failureBackoffMaxSeconds: 86_400, leaseSeconds: 7_200 });
const due = new Date('2030-01-01T00:00:00Z');
const repo = (n: string) => (parseRepo(n) as { ok: true; repo: RepoId }).repo;
const claim = (canonical: string, id = 1, priority = 0, claimedDueAt = due): ClaimedRepo => ({
  id,
  key: canonical,
  canonical,
  priority,
  claimedDueAt,
  leaseExpiresAt: due,
});

test('planClaim: a Job for a valid name; an invalid name or a repository still running is parked, refunded, and says why', () => {
  const running = new Set<number>([7]);
  const cases: Array<{
    canonical: string;
    id?: number;
    want: { kind: 'scan'; job: string } | { kind: 'park'; dueInSeconds: number; why: RegExp; error: boolean };
  }> = [
    { canonical: 'github.com/o/fine', want: { kind: 'scan', job: jobName(repo('github.com/o/fine'), due) } },
    { canonical: 'github.com/o/$(evil)', want: { kind: 'park', dueInSeconds: 86_400, why: /invalid repository name/, error: true } },
    { canonical: 'gitlab.example/o/r', want: { kind: 'park', dueInSeconds: 86_400, why: /invalid repository name/, error: true } },
    // Not an error of the repository's: nothing is written on its row.
    { canonical: 'github.com/o/busy', id: 7, want: { kind: 'park', dueInSeconds: 7_200, why: /still running/, error: false } },
  ];
  for (const { canonical, id, want } of cases) {
    const plan = planClaim(claim(canonical, id), config, running);
    assert.equal(plan.kind, want.kind, canonical);
    if (plan.kind === 'scan' && want.kind === 'scan') {
      assert.equal(shardJobName([plan.member]), want.job, canonical);
    } else if (plan.kind === 'park' && want.kind === 'park') {
      assert.equal(plan.dueInSeconds, want.dueInSeconds, canonical);
      assert.match(plan.why, want.why, canonical);
      assert.equal(plan.error, want.error ? plan.why : undefined, canonical);
    }
  }
});

test('createFailureKind: only a refusal certainly created nothing; timeouts, 5xx, 429, resets and 409 may have', () => {
  const cases: Array<[number, 'refused' | 'maybe-created']> = [
    [400, 'refused'],
    [403, 'refused'],
    [404, 'refused'],
    [422, 'refused'],
    [408, 'maybe-created'],
    [409, 'maybe-created'],
    [429, 'maybe-created'],
    [500, 'maybe-created'],
    [503, 'maybe-created'],
    [504, 'maybe-created'],
    [0, 'maybe-created'], // a reset or a timeout: no answer at all
  ];
  for (const [status, want] of cases) assert.equal(createFailureKind(new KubeError(status, `HTTP ${status}`)), want, String(status));
});

test('pastCreateTimeLimit: the creates stop once more than CREATE_TIME_LIMIT_MS have passed since the tick started', () => {
  const started = new Date('2030-01-01T00:00:00Z');
  const cases: Array<[number, boolean]> = [
    [0, false],
    [CREATE_TIME_LIMIT_MS, false],
    [CREATE_TIME_LIMIT_MS + 1, true],
    [3_600_000, true],
    [-1_000, false],
  ];
  for (const [elapsed, want] of cases) assert.equal(pastCreateTimeLimit(started, new Date(started.getTime() + elapsed)), want, `${elapsed} ms`);
});

test('groupShards: claims in claim order, at most the shard size per Job, ceil(claims / size) Jobs', () => {
  const c = (n: number, priority = 0) => ({ claim: claim(`github.com/o/r${n}`, n, priority), member: { repo: repo(`github.com/o/r${n}`), dueWindow: due } });
  const cases: Array<[string, ReturnType<typeof c>[], number, number[][]]> = [
    ['none', [], 10, []],
    ['one per Job (size 1)', [c(1), c(2), c(3)], 1, [[1], [2], [3]]],
    ['full shards and a rest', [1, 2, 3, 4, 5, 6, 7].map((n) => c(n)), 3, [[1, 2, 3], [4, 5, 6], [7]]],
    // Higher priorities first, in the first Job and first in it: no Job more than the claims need.
    ['priorities in claim order', [c(1, 5), c(2, 5), c(3, 0), c(4, 0), c(5, 0)], 2, [[1, 2], [3, 4], [5]]],
    ['fewer than a shard', [c(1), c(2)], 10, [[1, 2]]],
  ];
  for (const [name, planned, size, want] of cases) {
    const got = groupShards(planned, size);
    assert.deepEqual(
      got.map((s) => s.claims.map((x) => x.id)),
      want,
      name,
    );
    for (const s of got) assert.equal(s.name, shardJobName(s.members), name);
  }
});

test('shardJobName: the same claims name the same Job in any order; another window or repository another Job; DNS-safe and at most 63', () => {
  const m = (n: string, d = due) => ({ repo: repo(n), dueWindow: d });
  const a = [m('github.com/o/a'), m('github.com/o/b'), m('github.com/o/c')];
  assert.equal(shardJobName(a).slice(-12), shardJobName([a[2], a[0], a[1]]).slice(-12), 'order does not change the hash');
  assert.notEqual(shardJobName(a), shardJobName([a[0], a[1], m('github.com/o/c', new Date(due.getTime() + 1000))]));
  assert.notEqual(shardJobName(a), shardJobName([a[0], a[1]]));
  assert.equal(shardJobName([a[0]]), jobName(a[0].repo, due), 'a shard of one is the one-repository Job');
  const long = Array.from({ length: 100 }, (_, i) => m(`github.com/${'o'.repeat(39)}/${'n'.repeat(90)}-${i}`));
  for (const name of [shardJobName(a), shardJobName(long)]) {
    assert.ok(name.length <= 63, name);
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, name);
  }
});

test('buildShardJob: --repos in claim order, the annotation lists them, the deadline scales with the size; one repository keeps --repo', () => {
  const cfg = defaultConfig({ jobDeadlineSeconds: 600 });
  const members = ['github.com/o/a', 'github.com/o/b', 'github.com/o/c'].map((n) => ({ repo: repo(n), dueWindow: due }));
  const job = buildShardJob({ members }, cfg);
  const spec = job.spec!;
  assert.deepEqual(spec.template.spec!.containers[0].args!.slice(0, 1), ['--repos=github.com/o/a,github.com/o/b,github.com/o/c']);
  assert.equal(job.metadata!.annotations![REPOS_ANNOTATION], 'github.com/o/a,github.com/o/b,github.com/o/c');
  assert.equal(job.metadata!.annotations!['posture.dev/repo'], undefined);
  assert.equal(spec.activeDeadlineSeconds, 1800);
  assert.equal(spec.template.spec!.activeDeadlineSeconds, 1770);
  assert.equal(job.metadata!.labels!['posture.dev/shard-size'], '3');
  assert.equal(job.metadata!.labels!['posture.dev/job'], job.metadata!.name);
  const one = buildShardJob({ members: [members[0]] }, cfg);
  assert.deepEqual(one.spec!.template.spec!.containers[0].args!.slice(0, 1), ['--repo=github.com/o/a']);
  assert.equal(one.metadata!.annotations!['posture.dev/repo'], 'github.com/o/a');
  assert.equal(one.spec!.activeDeadlineSeconds, 600);
  for (const v of Object.values(job.metadata!.labels!)) assert.ok(v.length <= 63 && /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/i.test(v), v);
});
