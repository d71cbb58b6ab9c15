// Verdict helpers named after controller-runtime's admission package, so webhook files read the
// same as Go ones: Allowed, Denied, Errored, Warned.
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
 * framework answers by the webhook's failurePolicy, as for an exception.
 */
export function Errored(message: string, code = 500): Verdict {
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
