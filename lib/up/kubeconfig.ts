// Which kubeconfig `posture up` would use, decided as kubectl does ($KUBECONFIG's files, else
// ~/.kube/config, else the in-cluster service account) — but without client-node's last resort,
// a cluster at http://localhost:8080, which is nobody's cluster (and posture's own API port).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type KubeconfigSource = { kind: 'file'; path: string } | { kind: 'in-cluster' } | { kind: 'none'; why: string };

export function findKubeconfig(
  env: Record<string, string | undefined>,
  home: string = env.HOME ?? homedir(),
  exists: (path: string) => boolean = existsSync,
): KubeconfigSource {
  if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== '') {
    const files = env.KUBECONFIG.split(':').filter((f) => f !== '');
    const found = files.find((f) => exists(f));
    if (found) return { kind: 'file', path: found };
    return { kind: 'none', why: `KUBECONFIG names ${files.join(', ')}, which ${files.length > 1 ? 'do' : 'does'} not exist` };
  }
  const defaultFile = join(home, '.kube', 'config');
  if (exists(defaultFile)) return { kind: 'file', path: defaultFile };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return { kind: 'in-cluster' };
  return { kind: 'none', why: 'no KUBECONFIG and no ~/.kube/config' };
}
