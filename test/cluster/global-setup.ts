// Optional: node --test --test-global-setup=test/cluster/global-setup.ts ...
// Starts (or reuses) the shared control plane once before any test file runs, exports
// POSTURE_CLUSTER_DIR/POSTURE_KUBECONFIG to the test processes, and stops the plane at the end of
// the run if this run started it. Without it, the first test file that calls
// getSharedControlPlane() starts the plane and it stops ~15 s after the run (holder files).
import { type ControlPlane, getSharedControlPlane, stopControlPlane } from './harness.ts';

let cp: ControlPlane | undefined;

export async function globalSetup(): Promise<void> {
  cp = await getSharedControlPlane();
  process.env.POSTURE_CLUSTER_DIR = cp.stateDir;
  process.env.POSTURE_KUBECONFIG = cp.kubeconfigPath;
}

export async function globalTeardown(): Promise<void> {
  if (cp?.started && !cp.state.pinned) await stopControlPlane(cp.stateDir);
  else await cp?.stop();
}
