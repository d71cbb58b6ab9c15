// Verdict helpers. Allowed, Denied and Warned are named after controller-runtime's admission
// package, so webhook files read the same as Go ones. Undecided is not its Errored, which always
// denies: an undecided review is answered by the webhook's failurePolicy, as the API server
// answers a webhook it cannot reach (Fail denies, Ignore admits with a warning).
import type { Verdict } from './types.ts';

/** Admit. An optional reason is logged and kept in the response's status message. */
export function Allowed(message?: string): Verdict {
  return message === undefined ? { allowed: true } : { allowed: true, message };
}

/** Refuse with the message the user sees; code defaults to 403 Forbidden. */
export function Denied(message: string, code = 403, reason = 'Forbidden'): Verdict {
  return { allowed: false, code, reason, message };
}

/**
 * The webhook could not decide (a dependency is missing, the request is malformed): the
 * framework answers by the webhook's failurePolicy, as for an exception. Under Fail the request
 * is denied with `code`; under Ignore (and under warn or dry-run enforcement) it is admitted with
 * a warning naming `message`.
 */
export function Undecided(message: string, code = 500): Verdict {
  return { allowed: false, code, reason: 'InternalError', message, error: true };
}

/** Add warnings (shown by kubectl as `Warning: ...`) to a verdict, allowed unless given one. */
export function Warned(warnings: string | readonly string[], verdict: Verdict = { allowed: true }): Verdict {
  const add = typeof warnings === 'string' ? [warnings] : warnings;
  return { ...verdict, warnings: [...(verdict.warnings ?? []), ...add] };
}

/** Attach audit annotations (the API server prefixes each key with the webhook's name). */
export function Annotated(annotations: Record<string, string>, verdict: Verdict): Verdict {
  return { ...verdict, auditAnnotations: { ...(verdict.auditAnnotations ?? {}), ...annotations } };
}
