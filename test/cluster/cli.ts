// npm run cluster:up | cluster:down | cluster:status (node test/cluster/cli.ts <command>)
//   up      build the binaries if needed, start (or reuse) the shared plane, pin it so that it keeps
//           running after this command exits, print the KUBECONFIG path
//   down    stop the shared plane (only the processes its supervisor started)
//   status  print the shared plane's state, memory and log files
//   env     print `export KUBECONFIG=...` for a running plane

import path from 'node:path';
import { attachControlPlane, diagnosticsFor, getSharedControlPlane, sharedStateDir, stopControlPlane } from './harness.ts';
import { type PlaneState, readJson } from './state.ts';

const cmd = process.argv[2] ?? 'status';
const dir = sharedStateDir();

async function main(): Promise<number> {
  switch (cmd) {
    case 'up': {
      const t0 = Date.now();
      const cp = await getSharedControlPlane({ pinned: true });
      const rss = cp.rss();
      console.log(`control plane ${cp.started ? 'started' : 'already running'} (${Date.now() - t0} ms), ${cp.server}`);
      console.log(
        `kubernetes ${cp.state.versions.kubernetes}, etcd ${cp.state.versions.etcd}, kwok ${cp.state.versions.kwok}; RSS ${(rss.total / 1024).toFixed(0)} MiB`,
      );
      console.log(`state dir: ${cp.stateDir} (logs in ${path.join(cp.stateDir, 'logs')})`);
      console.log(`stop it with: npm run cluster:down`);
      console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
      return 0;
    }
    case 'down': {
      const stopped = await stopControlPlane(dir);
      console.log(stopped ? `stopped the control plane in ${dir}` : `no control plane running in ${dir}`);
      return 0;
    }
    case 'env': {
      const cp = await attachControlPlane(dir);
      if (!cp) {
        console.error(`no healthy control plane in ${dir}; run npm run cluster:up`);
        return 1;
      }
      console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
      return 0;
    }
    case 'status': {
      const cp = await attachControlPlane(dir);
      if (!cp) {
        const st = readJson<PlaneState>(path.join(dir, 'state.json'));
        console.log(`no healthy control plane in ${dir}${st ? ` (last status: ${st.status}${st.error ? `: ${st.error}` : ''})` : ''}`);
        if (st) console.log(diagnosticsFor(dir, 5));
        return 1;
      }
      const rss = cp.rss();
      console.log(
        JSON.stringify(
          {
            server: cp.server,
            kubeconfig: cp.kubeconfigPath,
            status: cp.state.status,
            pinned: cp.state.pinned,
            startMs: cp.state.startMs,
            rssKiB: rss,
            logs: cp.logFiles(),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    default:
      console.error('usage: cli.ts up|down|status|env');
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(String((e as Error)?.stack ?? e));
    process.exit(1);
  },
);
