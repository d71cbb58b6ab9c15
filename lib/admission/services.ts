// The long-lived services webhooks of this function read through `context.services`; built once
// per process by app.ts, replaced by fakes in tests.
import type { ScoreLookup } from './scores.ts';

export interface AdmissionServices {
  /** Latest Scorecard scores by repository key (the gate's in-memory cache). */
  scores: ScoreLookup;
}
