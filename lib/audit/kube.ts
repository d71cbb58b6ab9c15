// The audit's Kubernetes calls over posture's transport (rate-limited, paged): cluster-wide lists
// of the audited kinds and namespaces (read only), and posture's PolicyReports (the only writes).
import type * as k8s from '@kubernetes/client-node';
import { toKubeError } from '../kube/cluster.ts';
import { sharedTransport, type TransportOptions } from '../kube/transport.ts';
import type { AuditedKind } from './kinds.ts';
import { listPath } from './kinds.ts';
import { MANAGED_BY, type PolicyReport, REPORT_API_VERSION } from './report.ts';
import type { AuditApi, Page } from './run.ts';

const REPORTS = `/apis/${REPORT_API_VERSION}/policyreports`;
const nsReports = (ns: string) => `/apis/${REPORT_API_VERSION}/namespaces/${encodeURIComponent(ns)}/policyreports`;
const SELECTOR = Object.entries(MANAGED_BY)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

interface List<T> {
  items: T[];
  metadata?: { continue?: string };
}

export function kubeAuditApi(kc: k8s.KubeConfig, options: Partial<TransportOptions> = {}): AuditApi {
  const t = sharedTransport(kc, options);
  let calls = 0;
  const json = async <T>(req: Parameters<typeof t.json>[0]): Promise<T> => {
    calls++;
    return t.json<T>(req);
  };
  async function all<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const out: T[] = [];
    let cont: string | undefined;
    do {
      const page = await json<List<T>>({ method: 'GET', path, query: { ...query, limit: 500, ...(cont ? { continue: cont } : {}) } });
      out.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return out;
  }
  return {
    async listWorkloads(kind: AuditedKind, page): Promise<Page<unknown>> {
      const got = await json<List<unknown>>({
        method: 'GET',
        path: listPath(kind),
        query: { limit: page.limit, ...(page.continue ? { continue: page.continue } : {}) },
      });
      return { items: got.items ?? [], continue: got.metadata?.continue || undefined };
    },
    async listNamespaces() {
      const items = await all<{ metadata?: { name?: string; labels?: Record<string, string> } }>('/api/v1/namespaces');
      return items.map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} }));
    },
    async listReports() {
      return all<PolicyReport>(REPORTS, { labelSelector: SELECTOR });
    },
    async apply(a) {
      try {
        if (a.action === 'create') await json({ method: 'POST', path: nsReports(a.report.metadata.namespace), body: a.report });
        else if (a.action === 'replace')
          await json({ method: 'PUT', path: `${nsReports(a.report.metadata.namespace)}/${encodeURIComponent(a.report.metadata.name)}`, body: a.report });
        else await json({ method: 'DELETE', path: `${nsReports(a.namespace)}/${encodeURIComponent(a.name)}` });
      } catch (err) {
        const e = toKubeError(err);
        // Gone already, or its namespace is (or is being) deleted: nothing to report there.
        if (namespaceClosed(e.status, e.message)) return;
        throw e;
      }
    },
    calls: () => calls,
  };
}

/**
 * Whether a report write failed only because its namespace is gone (404) or being deleted (the
 * API server's NamespaceLifecycle refuses new content with 403 "because it is being terminated"):
 * one such namespace must not stop the audit of every other.
 */
export function namespaceClosed(status: number, message: string): boolean {
  return status === 404 || (status === 403 && /because it is being terminated/.test(message));
}
