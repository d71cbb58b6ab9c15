// Splits the pod log of a shard (one Scorecard Job, `--repos=a,b,c`, Scorecard ≥ v5.4.0) into one
// outcome per repository it was asked for. Scorecard scans the repositories one after another,
// in the order given, and for each prints either one JSON result line on stdout or
// `Skipping <repo>: <why>` on stderr; after a result it prints `Check <name> failed for <repo>: …`
// for each check runtime error, and when every repository is done it exits 1 with
// `Error: one or more checks failed during execution` if any check failed, else 0.
//
// How a line is attributed, and why:
//  - A result line belongs to the repository its `repo.name` names, and only to it; a result
//    naming a repository the Job was not asked for is nobody's (noted in `ignored`). A
//    `Skipping <repo>:`, `Check … failed for <repo>:` or `Failed to format results for <repo>:`
//    line belongs to the repository it names. Position never attributes a result.
//  - Every other line (logrus, rate-limit waits, Go's log) was written while the repository whose
//    line comes next was being scanned, so it joins that repository's own log; what follows the
//    last attributed line belongs to the repository in progress when the pod ended.
//  - Each repository's own log then goes through the single-repository classifier (classify.ts),
//    so every protection of one Job applies per repository: the schema, duplicates folded,
//    different results refused, `Skipping` read as 401 (credentials), rate limit (with its
//    reset), network error or 5xx (infrastructure), 404 (the repository's own no-result).
//  - A repository without a line: before the last repository that has one, Scorecard went past
//    it (no-result), unless the log's beginning was cut (truncated: its line may be in the cut
//    part, never a neighbour's). After it: when Scorecard finished the list (exit 0, or exit 1
//    after its "checks failed" error), no-result; otherwise the first one was in progress when the
//    pod ended and is classified with the pod's facts (deadline, OOMKilled, eviction, crash), and
//    the rest were never attempted: not-reached, nobody's failure.
//
// Pure; linear in the log's length: each line is read once, only result-like lines are parsed,
// and each line joins at most one repository's log.

import { parseRepo } from '../repo/identity.ts';
import { type Classification, classify, type FailureClass, NO_POD_FACTS, type NormalizedResult, type PodFacts } from './classify.ts';
import { DEFAULT_MAX_DOCUMENT_CHARS, logLineBody, looksLikeResult, mayBeResult, resultish } from './extract.ts';
import type { CappedText } from './read.ts';
import { safeReason } from './text.ts';

export type ShardOutcome =
  | {
      repo: string;
      kind: 'result';
      result: NormalizedResult;
      flagged: boolean;
      internalErrors: string[];
      /** 1-based line of its result. */
      line: number | null;
    }
  | {
      repo: string;
      kind: 'failed';
      failure: FailureClass;
      reason: string;
      /** rate-limited: when GitHub's limit resets, when the log says (ISO 8601). */
      retryAt?: string;
      /** 1-based line of its result or `Skipping` line; null when it has none. */
      line: number | null;
    }
  | {
      repo: string;
      /** Scorecard never started on it: no failure of the repository's, nothing to back off. */
      kind: 'not-reached';
      reason: string;
    };

export interface ShardVerdict {
  /** One per repository asked for, in the order asked. */
  outcomes: ShardOutcome[];
  /** Lines that name no repository of the shard (a forged or stray result, a foreign `Skipping`): the first few, sanitised. */
  ignored: string[];
  /** How many such lines there were. */
  ignoredCount: number;
}

export interface ShardOptions {
  /** Hosts a repository may be on; default the hosts of the repositories asked for. */
  allowedHosts?: readonly string[];
}

const MAX_IGNORED_NOTES = 4;
// Lines Scorecard prints about one repository by the name it was given (cmd/root.go, v5.4.0+).
const SKIPPING = 'Skipping ';
const NAMED_LINE = /^(?:Check \S+ failed for|Failed to format results for) (\S+?): /;
// errChecksFailed: the last thing Scorecard prints when it went through the whole list.
const CHECKS_FAILED = /^Error: one or more checks failed during execution$/;

interface RepoLog {
  /** The repository's own log: the lines written while it was scanned, then its lines. */
  lines: string[];
  /** Line numbers of its result and `Skipping` lines. */
  results: number[];
  skips: number[];
}

/**
 * One outcome per repository of a shard. `log` is the pod log; when it was cut (a CappedText
 * with `truncated`, or `facts.truncated`) it was read from its tail (readCapped `keep: 'tail'`):
 * its beginning is missing. `repos` are the canonical names the Job passed to `--repos`, in order.
 */
export function classifyShard(log: string | CappedText, repos: readonly string[], facts: PodFacts = NO_POD_FACTS, options: ShardOptions = {}): ShardVerdict {
  const text = typeof log === 'string' ? log : log.text;
  const truncated = (typeof log !== 'string' && log.truncated) || facts.truncated === true;
  if (!Array.isArray(repos) || repos.length === 0) throw new TypeError('a shard asks for at least one repository');
  const hosts = options.allowedHosts ?? [...new Set(repos.map((r) => String(r).split('/')[0].toLowerCase()))];
  const index = new Map<string, number>();
  const keys = repos.map((r, i) => {
    const p = parseRepo(r, hosts);
    if (!p.ok) throw new TypeError(`shard repository ${JSON.stringify(String(r).slice(0, 200))}: ${p.reason}`);
    if (index.has(p.repo.key)) throw new TypeError(`shard repository ${p.repo.canonical} is asked for twice`);
    index.set(p.repo.key, i);
    return p.repo.key;
  });
  const indexOf = (name: unknown): number | undefined => {
    if (typeof name !== 'string') return undefined;
    const p = parseRepo(name, hosts);
    return p.ok ? index.get(p.repo.key) : undefined;
  };

  const own: RepoLog[] = repos.map(() => ({ lines: [], results: [], skips: [] }));
  const ignored: string[] = [];
  let ignoredCount = 0;
  const ignore = (lineNo: number, what: string): void => {
    ignoredCount += 1;
    if (ignored.length < MAX_IGNORED_NOTES) ignored.push(safeReason(`line ${lineNo}: ${what}`, 200));
  };
  // Lines since the last attributed result or `Skipping` line: the next such line's repository's.
  let pending: string[] = [];
  let last = -1;
  const attribute = (i: number, line: string, lineNo: number, kind: 'results' | 'skips'): void => {
    const o = own[i];
    for (const l of pending) o.lines.push(l);
    pending = [];
    o.lines.push(line);
    o[kind].push(lineNo);
    if (i > last) last = i;
  };

  const n = text.length;
  let pos = 0;
  let lineNo = 0;
  while (pos < n) {
    let end = text.indexOf('\n', pos);
    const terminated = end !== -1;
    if (!terminated) end = n;
    lineNo += 1;
    const line = text.slice(pos, end);
    pos = end + 1;
    const body = logLineBody(line);
    if (body === '') continue;

    if (body.startsWith(SKIPPING)) {
      const colon = body.indexOf(': ', SKIPPING.length);
      const name = body.slice(SKIPPING.length, colon === -1 ? undefined : colon);
      const i = indexOf(name);
      if (i === undefined) ignore(lineNo, `a Skipping line for ${JSON.stringify(name.slice(0, 120))}, not a repository of this shard`);
      else attribute(i, body, lineNo, 'skips');
      continue;
    }

    if (body.charCodeAt(0) === 0x7b /* { */ && mayBeResult(body)) {
      let value: unknown;
      let parsed = false;
      if (body.length <= DEFAULT_MAX_DOCUMENT_CHARS) {
        try {
          value = JSON.parse(body);
          parsed = true;
        } catch {
          // Not JSON: below.
        }
      }
      if (parsed && looksLikeResult(value)) {
        const name = (value as { repo?: { name?: unknown } }).repo?.name;
        const i = indexOf(name);
        if (i === undefined) {
          ignore(
            lineNo,
            `a result for ${typeof name === 'string' ? JSON.stringify(name.slice(0, 120)) : 'no named repository'}, not a repository of this shard`,
          );
        } else {
          attribute(i, body, lineNo, 'results');
        }
        continue;
      }
      if (!parsed && resultish(body)) {
        // The log ends inside it (a killed container): the repository in progress's, cut off.
        if (!terminated) pending.push(body);
        else ignore(lineNo, 'result-like text that is not a JSON document names no repository');
        continue;
      }
      // A JSON log record: an ordinary line.
    }

    const named = NAMED_LINE.exec(body);
    if (named) {
      const i = indexOf(named[1]);
      if (i !== undefined) own[i].lines.push(body);
      // A line about a repository of no concern here says nothing about any of ours.
      continue;
    }
    pending.push(body);
  }

  const finished = finishedTheList(facts, pending);
  const outcomes: ShardOutcome[] = [];
  let inProgress: { repo: string; failure: string } | null = null;
  for (let i = 0; i < repos.length; i += 1) {
    const repo = repos[i];
    const o = own[i];
    const first = Math.min(o.results[0] ?? Infinity, o.skips[0] ?? Infinity);
    if (Number.isFinite(first)) {
      if (o.results.length > 0 && o.skips.length > 0) {
        outcomes.push(failed(repo, 'invalid-result', `both a result (line ${o.results[0]}) and a Skipping line (line ${o.skips[0]}) for ${repo}`, first));
        continue;
      }
      // Its line was printed by a running Scorecard: what the pod did later is not its story.
      outcomes.push(fromClassification(repo, keys[i], hosts, classify(o.lines.join('\n'), NO_POD_FACTS), first));
      continue;
    }
    if (truncated && (last === -1 || i < last)) {
      outcomes.push(failed(repo, 'truncated', `the log's beginning was cut by the byte cap and what is left has no line for ${repo}`, null));
      continue;
    }
    if (i < last) {
      outcomes.push(
        failed(repo, 'no-result', `Scorecard printed neither a result nor a Skipping line for ${repo} and went on to ${repos[last]}${lastLineOf(o)}`, null),
      );
      continue;
    }
    if (finished) {
      outcomes.push(failed(repo, 'no-result', `Scorecard finished the shard without a result or a Skipping line for ${repo}${lastLineOf(o)}`, null));
      continue;
    }
    if (inProgress === null) {
      // The first repository after the last line: Scorecard was on it when the pod ended.
      const c = classify([...o.lines, ...pending].join('\n'), { ...facts, truncated: false });
      const outcome = fromClassification(repo, keys[i], hosts, c, null);
      outcomes.push(outcome);
      inProgress = { repo, failure: outcome.kind === 'failed' ? outcome.failure : 'stopped' };
      continue;
    }
    outcomes.push({
      repo,
      kind: 'not-reached',
      reason: `not attempted: the pod ended (${inProgress.failure}) while Scorecard was on ${inProgress.repo}`,
    });
  }
  return { outcomes, ignored, ignoredCount };
}

/** Scorecard went through its whole list and exited on its own: exit 0, or exit 1 with its "checks failed" error last. */
function finishedTheList(f: PodFacts, trailing: readonly string[]): boolean {
  if (f.jobReason === 'DeadlineExceeded' || f.podReason || f.disrupted || f.podMissing || f.waitingReason || f.startFailure) return false;
  if (f.terminatedReason && f.terminatedReason !== 'Completed' && f.terminatedReason !== 'Error') return false;
  if (f.exitCode === 0) return true;
  if (f.exitCode !== 1) return false;
  for (let k = trailing.length - 1; k >= 0; k -= 1) if (CHECKS_FAILED.test(trailing[k])) return true;
  return false;
}

function fromClassification(repo: string, key: string, hosts: readonly string[], c: Classification, line: number | null): ShardOutcome {
  if (!c.ok) return { repo, kind: 'failed', failure: c.failure, reason: c.reason, ...(c.retryAt ? { retryAt: c.retryAt } : {}), line };
  // Attributed by name already; a result found elsewhere in its log (a pretty-printed block among
  // the other lines) must still name it.
  const claimed = parseRepo(c.result.repo, hosts);
  if (!claimed.ok || claimed.repo.key !== key) {
    return failed(repo, 'invalid-result', `the result is for ${JSON.stringify(c.result.repo.slice(0, 200))}, not ${repo}`, line);
  }
  return { repo, kind: 'result', result: c.result, flagged: c.flagged, internalErrors: c.internalErrors, line };
}

function failed(repo: string, failure: FailureClass, reason: string, line: number | null): ShardOutcome {
  return { repo, kind: 'failed', failure, reason: safeReason(reason), line };
}

function lastLineOf(o: RepoLog): string {
  return o.lines.length > 0 ? `; its last line: ${o.lines[o.lines.length - 1]}` : '';
}
