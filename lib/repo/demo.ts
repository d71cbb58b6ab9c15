// The owner every demo repository lives under (github.com/posture-demo/…). `posture demo` makes
// them up and the dashboard labels them, so the name sits here, below both.
export const DEMO_OWNER = 'posture-demo';

/** Whether a host/owner/name belongs to the demo owner. */
export function isDemoRepo(canonical: string): boolean {
  return canonical.toLowerCase().split('/')[1] === DEMO_OWNER;
}
