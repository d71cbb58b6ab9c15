// The pod-script binder, run inside the supervisor. For every new pod that belongs to a Job (label
// batch.kubernetes.io/job-name) or names a script key (annotation posture.test/script-key), it
//   1. reads the script <scriptsDir>/<encodeURIComponent(namespace/job)>.json, if a test wrote one
//      (harness.setPodScript / setPodLog), else uses the defaults (exit 0, run 0 s, empty log);
//   2. creates a kwok `Logs` object named after the pod (owned by it) that maps its containers to
//      the CRI-format log files of the script;
//   3. annotates the pod with exit code, hold and run time. Only then does our kwok completion stage
//      (stages.ts) select the pod, so the outcome never races the binder.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ANN_EXIT_CODE, ANN_HOLD, ANN_RUN_FOR, ANN_SCRIPT, ANN_SCRIPT_KEY } from './stages.ts';

export interface PodScript {
  /** exit code of the pod's containers; an array gives one per attempt (pod) in creation order, the last repeating */
  exitCode?: number | number[];
  /** the pod stays Running until deleted */
  hold?: boolean;
  /** how long the pod runs before it terminates */
  runForMs?: number;
  /** container name -> absolute CRI log file; '*' is every other container */
  logs?: Record<string, string>;
}

export function scriptKeyFile(scriptsDir: string, key: string): string {
  return path.join(scriptsDir, `${encodeURIComponent(key)}.json`);
}

export function podScriptKey(pod: k8s.V1Pod): string | undefined {
  const m = pod.metadata;
  if (!m?.namespace) return undefined;
  const explicit = m.annotations?.[ANN_SCRIPT_KEY];
  if (explicit) return explicit.includes('/') ? explicit : `${m.namespace}/${explicit}`;
  const job = m.labels?.['batch.kubernetes.io/job-name'] ?? m.labels?.['job-name'];
  return job ? `${m.namespace}/${job}` : undefined;
}

export interface BinderOptions {
  scriptsDir: string;
  podLogsDir: string;
  log: (s: string) => void;
  onError: (e: unknown) => void;
}

export async function startBinder(kc: k8s.KubeConfig, o: BinderOptions): Promise<() => void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const emptyLog = path.join(o.podLogsDir, 'empty.log');
  if (!existsSync(emptyLog)) writeFileSync(emptyLog, '');
  const handled = new Set<string>();
  const attempts = new Map<string, number>();
  let stopped = false;

  async function bind(pod: k8s.V1Pod): Promise<void> {
    const uid = pod.metadata?.uid;
    if (!uid || handled.has(uid) || pod.metadata?.deletionTimestamp) return;
    if (pod.metadata?.annotations?.[ANN_EXIT_CODE] !== undefined) return;
    const key = podScriptKey(pod);
    if (!key) return;
    handled.add(uid);
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const file = scriptKeyFile(o.scriptsDir, key);
    let script: PodScript = {};
    let version = 'none';
    if (existsSync(file)) {
      version = String(statSync(file).mtimeMs);
      try {
        script = JSON.parse(readFileSync(file, 'utf8')) as PodScript;
      } catch (e) {
        o.onError(`bad script ${file}: ${e}`);
      }
    }
    // attempts count per script version, so a rewritten script starts again at attempt 0
    const attemptKey = `${key}@${version}`;
    const attempt = attempts.get(attemptKey) ?? 0;
    attempts.set(attemptKey, attempt + 1);
    const codes = Array.isArray(script.exitCode) ? script.exitCode : [script.exitCode ?? 0];
    const code = codes[Math.min(attempt, codes.length - 1)] ?? 0;
    const logs = script.logs ?? {};
    const entries: Array<{ containers?: string[]; logsFile: string }> = Object.entries(logs)
      .filter(([c]) => c !== '*')
      .map(([c, f]) => ({ containers: [c], logsFile: f }));
    entries.push({ logsFile: logs['*'] ?? emptyLog });
    try {
      await objects.create({
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'Logs',
        metadata: {
          name,
          namespace,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }],
        },
        spec: { logs: entries },
      } as k8s.KubernetesObject);
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
    await core.patchNamespacedPod(
      {
        name,
        namespace,
        body: {
          metadata: {
            annotations: {
              [ANN_EXIT_CODE]: String(code),
              [ANN_HOLD]: script.hold ? 'true' : 'false',
              [ANN_RUN_FOR]: `${Math.max(0, Math.round(script.runForMs ?? 0))}ms`,
              [ANN_SCRIPT]: `${key}#${attempt}`,
            },
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  const onPod = (pod: k8s.V1Pod) => {
    bind(pod).catch((e) => {
      const code = (e as { code?: number }).code;
      if (pod.metadata?.uid) handled.delete(pod.metadata.uid);
      if (code === 404) return; // pod already gone
      o.onError(`binding ${pod.metadata?.namespace}/${pod.metadata?.name}: ${e}`);
    });
  };

  const informer = k8s.makeInformer<k8s.V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
  informer.on('add', onPod);
  informer.on('update', onPod);
  informer.on('delete', (pod) => pod.metadata?.uid && handled.delete(pod.metadata.uid));
  informer.on('error', (e) => {
    if (stopped) return;
    o.onError(`pod informer: ${e}; restarting in 1 s`);
    setTimeout(() => {
      if (!stopped) informer.start().catch(o.onError);
    }, 1000);
  });
  await informer.start();
  o.log('binder watching pods');
  return () => {
    stopped = true;
    void informer.stop();
  };
}
