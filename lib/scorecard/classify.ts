// Turns a Scorecard pod log plus what Kubernetes says about the pod into either a validated,
// normalised result or one failure class with a short reason. This is the single decision the
// harvester and `posture results parse` share.
//
// Order of the rules, and why:
//  1. The Job hit its deadline → deadline-exceeded, whatever the log holds. The Job is Failed in
//     Kubernetes' eyes and the run is recorded as what Kubernetes says it was; a log cut by the
//     kill is at best partial. (Scorecard sleeps up to an hour on a rate limit, so the reason
//     quotes the last rate-limit line when there is one.)
//  2. Exactly one valid result → success, whatever the exit code: since PR #2133 a check runtime
//     error prints the full JSON and then exits 1. The result is flagged when a check's reason
//     starts with `internal error:` (its -1 is a runtime error, not "inconclusive").
//  3. Two or more different valid results → invalid-result. A Job scores one repository; two
//     different answers in one log mean the log cannot be trusted, and picking one would be a
//     guess that the database then keeps forever. The same result printed twice is one result.
//  4. No valid result and the log was cut by the byte cap → truncated (the result may be past
//     the cap). Then: a result-like document that fails the schema or is not JSON →
//     invalid-result; a result cut off by the end of the log → truncated; a failed pod →
//     pod-failed with its reason and exit code; otherwise no-result (quoting Scorecard ≥ v5.4's
//     `Skipping <uri>: <err>` when present: that version exits 0 without printing a result).
//  0. Before all of these, failures that are not the repository's, so the repository is never
//     backed off for them. Kubernetes facts first: infrastructure when the pod was disrupted
//     (DisruptionTarget, a node-pressure eviction, preemption), its image could not be pulled,
//     its token Secret is missing (CreateContainerConfigError), or it was never scheduled; the
//     pod's own status when it still exists, else its Events (a real job controller deletes a
//     waiting pod at the deadline). A pod over its own memory or ephemeral-storage limit
//     (OOMKilled, or evicted without DisruptionTarget by the kubelet's local-storage check) is the
//     repository's: resource-limit (it is too big for the Job's resources). Then a deadline
//     reached while Scorecard waited on GitHub's rate limit: rate-limited, with when the limit
//     resets when the log says. After a valid result, which always wins: GitHub's 401 (bad or
//     expired credentials: GitHub answers 401 only about the token) is credentials, and the
//     fleet pauses; a rate limit is rate-limited; `repo unreachable:` with a network error (v5.3.0
//     `Error: scorecard.Run: repo unreachable: … no such host`, exit 1; v5.4.0 `Skipping <repo>:
//     run: repo unreachable: …`, exit 0) or a GitHub 5xx is infrastructure. GitHub's 404 (the
//     repository does not exist, or is private) stays the repository's failure.
import type { StartFailure } from '../jobs/events.ts';
import { type Extraction, type ExtractOptions, extractDocuments } from './extract.ts';
import { rateLimitResetOf } from './rate-limit.ts';
import type { CappedText } from './read.ts';
import { parseScorecardDate, type ScorecardResultDocument, validateResult } from './schema.ts';
import { safeReason } from './text.ts';

export const FAILURE_CLASSES = [
  'no-result',
  'invalid-result',
  'truncated',
  'deadline-exceeded',
  'pod-failed',
  'resource-limit',
  'infrastructure',
  'credentials',
  'rate-limited',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** What Kubernetes says about the pod and its Job; every field is optional. */
export interface PodFacts {
  /** Pod phase: Succeeded, Failed, … */
  podPhase?: string | null;
  /** The Scorecard container's `state.terminated.exitCode`. */
  exitCode?: number | null;
  /** The container's `state.terminated.reason` (Completed, Error, OOMKilled, …) or else the pod's. */
  terminatedReason?: string | null;
  /** The pod's `status.reason`, e.g. DeadlineExceeded, Evicted. */
  podReason?: string | null;
  /** Reason of the Job's terminal condition: DeadlineExceeded, BackoffLimitExceeded, … (or CompletionsReached). */
  jobReason?: string | null;
  /** Message of the Job's terminal condition. */
  jobMessage?: string | null;
  /** The Job has no pod left to read. */
  podMissing?: boolean;
  /** The log was cut by the byte cap (also read from a CappedText). */
  truncated?: boolean;
  /** The container's `state.waiting.reason` (ErrImagePull, CreateContainerConfigError, …). */
  waitingReason?: string | null;
  /** The pod has a `DisruptionTarget` condition (eviction, preemption, node drain or loss). */
  disrupted?: boolean;
  /** The pod's `status.message` (an eviction says what ran out there). */
  podMessage?: string | null;
  /** Why the container never started, from the pod's Events (lib/jobs/events.ts), when it did not. */
  startFailure?: StartFailure | null;
}

/** What the CLI assumes when it only has a log: the container exited 0. */
export const NO_POD_FACTS: Readonly<PodFacts> = Object.freeze({ exitCode: 0 });

export interface NormalizedCheck {
  name: string;
  /** -1..10; -1 is inconclusive or (reason `internal error:`) a runtime error. */
  score: number;
  reason: string;
  details: string[] | null;
  documentation: { url: string; short: string } | null;
}

export interface NormalizedResult {
  /** `repo.name`, e.g. github.com/ossf/scorecard. */
  repo: string;
  /** `repo.commit`: the scored commit. */
  commit: string;
  /** `date` as an ISO-8601 UTC string (a date-only value is midnight UTC). */
  date: string;
  scorecardVersion: string;
  scorecardCommit: string;
  /** Aggregate -1..10, one decimal; -1 when no check scored. */
  score: number;
  /** In the order printed (the CLI sorts by name). */
  checks: NormalizedCheck[];
  /** The parsed document as printed, for storage. */
  raw: ScorecardResultDocument;
}

export type Classification =
  | { ok: true; result: NormalizedResult; flagged: boolean; internalErrors: string[] }
  | {
      ok: false;
      failure: FailureClass;
      reason: string;
      /** rate-limited: when GitHub's limit resets, when the log says (ISO 8601). */
      retryAt?: string;
    };

const INTERNAL_ERROR_PREFIX = 'internal error:';

/** Classifies a pod log (text or a capped read) with the pod's facts. Pure; linear in the log's length. */
export function classify(log: string | CappedText, facts: PodFacts = NO_POD_FACTS, options: ExtractOptions = {}): Classification {
  const text = typeof log === 'string' ? log : log.text;
  const capped = (typeof log !== 'string' && log.truncated) || facts.truncated === true;
  const extraction = extractDocuments(text, options);

  const infra = infrastructureFacts(facts);
  if (infra) return fail('infrastructure', infra);
  const overLimit = ownLimitFacts(facts);
  if (overLimit) return fail('resource-limit', overLimit);
  if (isDeadline(facts) && extraction.lastRateLimit && /exceeded|secondary|waiting/i.test(extraction.lastRateLimit)) {
    return rateLimited(`Job exceeded its deadline waiting on GitHub's rate limit; last rate-limit message: ${extraction.lastRateLimit}`, extraction);
  }
  if (isDeadline(facts)) {
    const last = extraction.lastRateLimit
      ? `; last rate-limit message: ${extraction.lastRateLimit}`
      : extraction.lastError
        ? `; last error: ${extraction.lastError}`
        : '';
    return fail('deadline-exceeded', `Job exceeded its deadline (activeDeadlineSeconds)${podSummary(facts, '; ', 'DeadlineExceeded')}${last}`);
  }

  const valid: Array<{ doc: ScorecardResultDocument; line: number }> = [];
  const invalid: string[] = [];
  for (const d of extraction.documents) {
    const v = validateResult(d.value);
    if (v.ok) valid.push({ doc: v.value, line: d.line });
    else invalid.push(`line ${d.line}: ${v.error}`);
  }

  if (valid.length > 1 || (valid.length === 1 && extraction.documentsDropped)) {
    const lines = valid.map((v) => v.line).join(', ');
    return fail(
      'invalid-result',
      `${extraction.documentsDropped ? 'more than ' : ''}${valid.length} different Scorecard results in one log (lines ${lines}); refusing to pick one`,
    );
  }
  if (valid.length === 1) return succeed(valid[0].doc);

  // GitHub's answer is on one of Scorecard's error lines: the first `repo unreachable:`, the
  // `Skipping` line (v5.4+) or the last error; reading those, not the whole log again, keeps a
  // long failing log linear with one pass of the extraction and one of UNREACHABLE.
  const unreachableLine = firstUnreachableLine(text);
  const errorLines = [unreachableLine, extraction.skipped, extraction.lastError].filter((l): l is string => l !== null);
  const credentials = errorLines.find((l) => BAD_CREDENTIALS.test(l));
  if (credentials) return fail('credentials', `GitHub refused the token (401): ${credentials}; fix the token Secret`);
  const limited = errorLines.find((l) => RATE_LIMITED.test(l) && /\b(?:403|429)\b|repo unreachable|Skipping |Error/i.test(l));
  if (limited) return rateLimited(`GitHub's rate limit: ${limited}`, extraction);
  const unreachable = unreachableLine && githubUnreachable(unreachableLine);
  if (unreachable) return fail('infrastructure', `GitHub could not be reached: ${unreachable}${podSummary(facts, '; ')}`);

  if (capped) {
    const where = extraction.unterminated ? `; a result starting at line ${extraction.unterminated.line} is cut off` : '';
    const bytes = typeof log === 'string' ? '' : ` of ${log.bytes} bytes`;
    return fail('truncated', `log is longer than the byte cap and its first part${bytes} holds no complete result${where}`);
  }
  if (invalid.length > 0) return fail('invalid-result', `result fails the schema: ${invalid[0]}`);
  if (extraction.malformed.length > 0) return fail('invalid-result', extraction.malformed[0]);
  if (extraction.unterminated) {
    return fail('truncated', `log ends inside a result starting at line ${extraction.unterminated.line}${podSummary(facts, '; ')}`);
  }
  if (isPodFailed(facts)) {
    return fail('pod-failed', `pod failed${podSummary(facts, ': ')}${lastErrorOf(extraction)}`);
  }
  if (extraction.skipped) return fail('no-result', `Scorecard skipped the repository: ${extraction.skipped}`);
  return fail('no-result', `no Scorecard result in ${extraction.lines} log lines${facts.podMissing ? ' (no pod found)' : ''}${lastErrorOf(extraction)}`);
}

/** The stored shape of a valid document. */
export function normalizeResult(doc: ScorecardResultDocument): NormalizedResult {
  const date = parseScorecardDate(doc.date);
  if (date === null) throw new TypeError(`not a validated Scorecard result: date ${JSON.stringify(doc.date)}`);
  return {
    repo: doc.repo.name,
    commit: doc.repo.commit,
    date,
    scorecardVersion: doc.scorecard.version,
    scorecardCommit: doc.scorecard.commit,
    score: doc.score,
    checks: doc.checks.map((c) => ({
      name: c.name,
      score: c.score,
      reason: c.reason,
      details: c.details ?? null,
      documentation: c.documentation ? { url: c.documentation.url, short: c.documentation.short } : null,
    })),
    raw: doc,
  };
}

/** `<check>: <reason>` for every check whose -1 is a runtime error rather than "inconclusive". */
export function internalErrorsOf(doc: ScorecardResultDocument): string[] {
  return doc.checks.filter((c) => c.reason.trimStart().startsWith(INTERNAL_ERROR_PREFIX)).map((c) => safeReason(`${c.name}: ${c.reason}`));
}

function succeed(doc: ScorecardResultDocument): Classification {
  const internalErrors = internalErrorsOf(doc);
  return { ok: true, result: normalizeResult(doc), flagged: internalErrors.length > 0, internalErrors };
}

function fail(failure: FailureClass, reason: string): Classification {
  return { ok: false, failure, reason: safeReason(reason) };
}

function rateLimited(reason: string, e: Extraction): Classification {
  const reset = e.lastRateLimit ? rateLimitResetOf(e.lastRateLimit) : null;
  const c = fail('rate-limited', reason);
  return reset && !c.ok ? { ...c, retryAt: reset.toISOString() } : c;
}

// Container waiting reasons that mean the pod never ran Scorecard, for the platform's reasons.
const INFRA_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'ContainerCannotRun',
]);
const INFRA_POD_REASONS = new Set([
  'Preempting',
  'Preempted',
  'NodeLost',
  'Shutdown',
  'Terminated',
  'NodeShutdown',
  'UnexpectedAdmissionError',
  'OutOfcpu',
  'OutOfmemory',
]);

/** Why Kubernetes, not the repository, ended the run; null when it did not. */
function infrastructureFacts(f: PodFacts): string | null {
  if (f.disrupted) return `the pod was disrupted (DisruptionTarget)${podSummary(f, ': ')}`;
  if (f.waitingReason && INFRA_WAITING.has(f.waitingReason)) {
    const what =
      f.waitingReason === 'CreateContainerConfigError'
        ? 'the container could not be configured (a missing Secret or ConfigMap)'
        : 'the Scorecard image could not be pulled or started';
    return `${what}: ${f.waitingReason}${podSummary(f, '; ')}`;
  }
  if (f.startFailure) {
    const what =
      f.startFailure.kind === 'image'
        ? 'the Scorecard image could not be pulled or started'
        : f.startFailure.kind === 'config'
          ? 'the container could not be configured (a missing Secret or ConfigMap)'
          : 'the pod could not be scheduled';
    return `${what}: ${f.startFailure.detail} (from the pod's Events)${podSummary(f, '; ')}`;
  }
  if (f.podReason === 'Evicted' && NODE_PRESSURE.test(f.podMessage ?? ''))
    return `the pod was evicted by the node: ${f.podMessage}${podSummary(f, '; ', 'Evicted')}`;
  if (f.podReason && INFRA_POD_REASONS.has(f.podReason)) return `the pod was ended by the node: ${f.podReason}${podSummary(f, '; ', f.podReason)}`;
  if (f.jobReason === 'PodFailurePolicy' && /DisruptionTarget/.test(f.jobMessage ?? ''))
    return `the pod was disrupted (DisruptionTarget)${podSummary(f, ': ')}`;
  return null;
}

// The kubelet's node-pressure eviction message (pkg/kubelet/eviction: "The node was low on
// resource: …"); its local-storage eviction of a pod over its own limit says "exceeds the limit".
const NODE_PRESSURE = /^The node was low on resource/;

/** Why the pod went over its own limits (the repository's: it is too big for the Job), or null. */
function ownLimitFacts(f: PodFacts): string | null {
  if (f.podReason === 'Evicted')
    return `the pod went over its own limit and was evicted: ${f.podMessage || 'Evicted'}; raise the Job's ephemeral-storage or memory`;
  if (f.terminatedReason === 'OOMKilled') return `the pod went over its memory limit${podSummary(f, ': ')}; raise the Job's memory`;
  return null;
}

// GitHub's answer to a bad, revoked or expired token, as Scorecard's own error wording frames it:
// `repo unreachable: GET <url>: 401 Bad credentials` (REST), or a 401 from GraphQL ("non-200 OK
// status code: 401 Unauthorized"). Only that framing counts: text a repository could put on an
// error line ("Bad credentials" in a file name) must not pause the fleet.
const BAD_CREDENTIALS = /repo unreachable: .*: 401 (?:Bad credentials|Unauthorized|Requires authentication)\b|non-200 OK status code: 401 Unauthorized/;

// Scorecard's `repo unreachable:` (sce.ErrRepoUnreachable) followed by a transport error or a
// GitHub 5xx. A 404 after it is the repository's problem; a 401 and a rate limit are read before.
const UNREACHABLE = /repo unreachable:.*$/m;
const NETWORK =
  /no such host|dial tcp|connection refused|connection reset|i\/o timeout|TLS handshake timeout|network is unreachable|no route to host|context deadline exceeded|server misbehaving|temporary failure in name resolution|unexpected EOF|: EOF\b/i;
const GITHUB_5XX = /\b5\d\d (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b|\bstatus(?: code)?:? 5\d\d\b/i;
// A request GitHub refused for its rate limit (Scorecard's "Waiting … to retry" info lines are
// not failures: it waited, then went on; those are not error lines).
const RATE_LIMITED = /API rate limit exceeded|secondary rate limit|rate limit exceeded/i;

/** The whole line of the first `repo unreachable:`, sanitised, or null. */
function firstUnreachableLine(text: string): string | null {
  const m = UNREACHABLE.exec(text);
  if (!m) return null;
  const end = text.indexOf('\n', m.index);
  return safeReason(text.slice(text.lastIndexOf('\n', m.index) + 1, end === -1 ? undefined : end).trim());
}

/** That line, when it says GitHub could not be reached (a network error, a 5xx), or null. */
function githubUnreachable(line: string): string | null {
  if (/\b40[14]\b/.test(line)) return null;
  if (NETWORK.test(line) || GITHUB_5XX.test(line)) return line;
  return null;
}

function isDeadline(f: PodFacts): boolean {
  return f.jobReason === 'DeadlineExceeded' || f.podReason === 'DeadlineExceeded' || f.terminatedReason === 'DeadlineExceeded';
}

// Reasons of a Job's Failed condition (batch/v1); a Complete Job says CompletionsReached or SuccessPolicy.
const JOB_FAILURE_REASONS = new Set(['Failed', 'BackoffLimitExceeded', 'PodFailurePolicy', 'MaxFailedIndexesExceeded', 'FailedIndexes']);

function isPodFailed(f: PodFacts): boolean {
  if (f.podPhase === 'Failed') return true;
  if (typeof f.exitCode === 'number' && f.exitCode !== 0) return true;
  if (f.terminatedReason && f.terminatedReason !== 'Completed') return true;
  if (f.podReason) return true;
  return Boolean(f.jobReason && JOB_FAILURE_REASONS.has(f.jobReason));
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 15: 'SIGTERM' };

/** e.g. `: phase Failed, exit code 137 (SIGKILL), OOMKilled`, or '' when nothing worth saying is known. */
function podSummary(f: PodFacts, lead: string, omit = 'Completed'): string {
  const parts: string[] = [];
  if (f.podMissing) parts.push('no pod found');
  if (f.podPhase) parts.push(`phase ${f.podPhase}`);
  if (typeof f.exitCode === 'number' && f.exitCode !== 0) {
    const signal = f.exitCode > 128 ? SIGNALS[f.exitCode - 128] : undefined;
    parts.push(`exit code ${f.exitCode}${signal ? ` (${signal})` : ''}`);
  }
  for (const r of [f.terminatedReason, f.podReason, f.jobReason]) {
    if (r && r !== 'Completed' && r !== 'CompletionsReached' && r !== omit && !parts.includes(r)) parts.push(r);
  }
  if (f.jobMessage) parts.push(`"${f.jobMessage}"`);
  return parts.length > 0 ? lead + parts.join(', ') : '';
}

function lastErrorOf(e: Extraction): string {
  return e.lastError ? `; last error: ${e.lastError}` : '';
}
