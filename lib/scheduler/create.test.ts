import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../config/index.ts';
import type { ClaimedRepo } from '../db/index.ts';
import { jobName, repoIdLabel } from '../jobs/spec.ts';
import { KubeError } from '../kube/cluster.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { CREATE_TIME_LIMIT_MS, createFailureKind, pastCreateTimeLimit, planClaim } from './create.ts';

const config = defaultConfig({ failureBackoffMaxSeconds: 86_400, leaseSeconds: 7_200 });
const due = new Date('2030-01-01T00:00:00Z');
const repo = (n: string) => (parseRepo(n) as { ok: true; repo: RepoId }).repo;
const claim = (canonical: string): ClaimedRepo => ({ id: 1, key: canonical, canonical, priority: 0, claimedDueAt: due, leaseExpiresAt: due });

test('planClaim: a Job for a valid name; an invalid name or a repository still running is parked, refunded, and says why', () => {
  const running = new Set<string | undefined>([repoIdLabel(repo('github.com/o/busy'))]);
  const cases: Array<{ canonical: string; want: { kind: 'create'; job: string } | { kind: 'park'; dueInSeconds: number; why: RegExp; error: boolean } }> = [
    { canonical: 'github.com/o/fine', want: { kind: 'create', job: jobName(repo('github.com/o/fine'), due) } },
    { canonical: 'github.com/o/$(evil)', want: { kind: 'park', dueInSeconds: 86_400, why: /invalid repository name/, error: true } },
    { canonical: 'gitlab.example/o/r', want: { kind: 'park', dueInSeconds: 86_400, why: /invalid repository name/, error: true } },
    // Not an error of the repository's: nothing is written on its row.
    { canonical: 'github.com/o/busy', want: { kind: 'park', dueInSeconds: 7_200, why: /still running/, error: false } },
  ];
  for (const { canonical, want } of cases) {
    const plan = planClaim(claim(canonical), '2030-01-01T00:00Z', config, running);
    assert.equal(plan.kind, want.kind, canonical);
    if (plan.kind === 'create' && want.kind === 'create') {
      assert.equal(plan.job.metadata?.name, want.job, canonical);
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
