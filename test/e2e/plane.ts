// The shared local control plane for an end-to-end test file, and clean-ups that run (newest
// first) before the file lets go of the plane.
import { after, before } from 'node:test';
import { type ControlPlane, getSharedControlPlane } from '../cluster/harness.ts';

export function useControlPlane(): { readonly cp: ControlPlane; cleanup(f: () => Promise<unknown>): void } {
  let cp: ControlPlane | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    cp = await getSharedControlPlane();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await cp?.stop();
  });
  return {
    get cp() {
      if (!cp) throw new Error('the control plane is not up yet (use it inside a test)');
      return cp;
    },
    cleanup: (f) => void cleanups.push(f),
  };
}
