import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findKubeconfig } from './kubeconfig.ts';

test('findKubeconfig decides like kubectl, never falling back to localhost:8080', () => {
  const files = new Set(['/k/a', '/home/me/.kube/config']);
  const exists = (p: string) => files.has(p);
  const cases: Array<[Record<string, string>, string, ReturnType<typeof findKubeconfig>]> = [
    [{}, '/nohome', { kind: 'none', why: 'no KUBECONFIG and no ~/.kube/config' }],
    [{ KUBECONFIG: '' }, '/nohome', { kind: 'none', why: 'no KUBECONFIG and no ~/.kube/config' }],
    [{}, '/home/me', { kind: 'file', path: '/home/me/.kube/config' }],
    [{ KUBECONFIG: '/k/missing' }, '/home/me', { kind: 'none', why: 'KUBECONFIG names /k/missing, which does not exist' }],
    [{ KUBECONFIG: '/k/missing:/k/gone' }, '/home/me', { kind: 'none', why: 'KUBECONFIG names /k/missing, /k/gone, which do not exist' }],
    [{ KUBECONFIG: '/k/missing::/k/a' }, '/nohome', { kind: 'file', path: '/k/a' }],
    [{ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, '/nohome', { kind: 'in-cluster' }],
  ];
  for (const [env, home, want] of cases) assert.deepEqual(findKubeconfig(env, home, exists), want, JSON.stringify(env));
});
