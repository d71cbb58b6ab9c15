// A result's `date` is the Scorecard pod's clock; posture orders results by when it stored them
// (the run's finish, as the database saw it). A result dated after it was stored came from a
// clock that is ahead: shown as it is, but flagged, since its date says nothing about its age.

/**
 * How far a result's date may be after its stored time before it is flagged. The result is
 * written before the pod ends and is stored after the Job is seen finished, so a right clock
 * dates it earlier; minutes of slack cover ordinary skew between the pod's node and the API
 * server or database without letting a clock that is really wrong pass.
 */
export const FUTURE_DATED_TOLERANCE_MS = 5 * 60_000;

/** Whether a result's own date is more than the tolerance after the time posture stored it. */
export function isFutureDated(resultDate: Date, storedAt: Date): boolean {
  return resultDate.getTime() - storedAt.getTime() > FUTURE_DATED_TOLERANCE_MS;
}
