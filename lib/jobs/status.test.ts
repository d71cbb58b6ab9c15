import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Job, V1JobCondition } from '@kubernetes/client-node';
import { jobState } from './status.ts';

const job = (...conditions: Partial<V1JobCondition>[]): V1Job => ({ status: { conditions: conditions as V1JobCondition[] } });
const T = new Date('2030-01-01T00:00:00Z');

test('only Complete or Failed with status True finish a Job', () => {
  const cases: Array<[string, V1Job, string]> = [
    ['no status', {}, 'running'],
    ['no conditions', job(), 'running'],
    ['SuccessCriteriaMet first (1.31+)', job({ type: 'SuccessCriteriaMet', status: 'True' }), 'running'],
    ['FailureTarget first', job({ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded' }), 'running'],
    ['Suspended', job({ type: 'Suspended', status: 'True' }), 'running'],
    ['Complete False', job({ type: 'Complete', status: 'False' }), 'running'],
    ['Complete', job({ type: 'SuccessCriteriaMet', status: 'True' }, { type: 'Complete', status: 'True', lastTransitionTime: T }), 'succeeded Complete'],
    [
      'Failed, deadline',
      job({ type: 'FailureTarget', status: 'True' }, { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', lastTransitionTime: T }),
      'failed DeadlineExceeded',
    ],
    ['Failed, backoff limit', job({ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', lastTransitionTime: T }), 'failed BackoffLimitExceeded'],
  ];
  for (const [name, j, want] of cases) {
    const s = jobState(j);
    const got = s.finished ? `${s.succeeded ? 'succeeded' : 'failed'} ${s.reason}` : 'running';
    assert.equal(got, want, name);
    if (s.finished) assert.equal(s.finishedAt.toISOString(), T.toISOString(), name);
  }
});
