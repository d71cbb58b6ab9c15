// `posture results import`: results Scorecard already produced, read from a file a line (or a
// document) at a time, each stored as an imported result (lib/db/imports.ts) and put through the
// same change detection as a harvested one (lib/changes): the change against its predecessor,
// and score.changed when it is the repository's newest and moved enough.

import { createHash } from 'node:crypto';
import { diffResults, noticeOf } from '../changes/diff.ts';
import { type EventSender, IMPORT_SOURCE, scoreChangedEvent } from '../changes/events.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { storeImportedResult } from '../db/imports.ts';
import type { Logger } from '../log/index.ts';
import { counter } from '../metrics/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { isFutureDated } from '../scorecard/clock.ts';
import { importKeyParts, type LineVerdict, layoutOf, MAX_DOCUMENT_BYTES, verdictOfLine, verdictsOfDocument } from '../scorecard/results-file.ts';

const imported = counter('posture_results_imported_total', 'Results read by posture results import, by outcome', ['outcome']);

export interface ImportDeps {
  db: Db;
  config: Pick<Config, 'allowedHosts' | 'rescoreIntervalSeconds' | 'scoreChangeThreshold'>;
  log: Logger;
  /** Where score.changed goes (K_SINK when set); without it, changes are only reported. */
  sendEvent?: EventSender;
}

export interface FileReport {
  /** Set when the whole file is refused: it holds no Scorecard result (one line says what it is). */
  refused?: string;
  results: number;
  stored: number;
  duplicates: number;
  reposAdded: number;
  /** Lines (or array items) that are not valid results, with why; the rest were imported. */
  problems: Array<{ line: number; reason: string }>;
  /** Score changes people would be told about (the newest result of its repository, moved enough). */
  changes: Array<{ repo: string; reasons: string[] }>;
  /** Imported results dated ahead of the database's clock (stored at now). */
  futureDated: number;
}

/** Problems reported one by one; after that only counted. */
export const MAX_PROBLEMS = 20;

/** Imports one file's lines. A file whose first content is not a Scorecard result is refused whole. */
export async function importResults(lines: AsyncIterable<string>, deps: ImportDeps): Promise<FileReport> {
  const report: FileReport = { results: 0, stored: 0, duplicates: 0, reposAdded: 0, problems: [], changes: [], futureDated: 0 };
  let layout: 'document' | 'lines' | undefined;
  let document: string[] = [];
  let documentBytes = 0;
  let lineNumber = 0;
  let seenResult = false;
  for await (const line of lines) {
    lineNumber++;
    if (layout === undefined) {
      if (line.trim() === '' || line.trim() === '\uFEFF') continue;
      layout = layoutOf(line);
    }
    if (layout === 'document') {
      documentBytes += Buffer.byteLength(line) + 1;
      if (documentBytes > MAX_DOCUMENT_BYTES) {
        report.refused = `a JSON document longer than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB; give one result a line (NDJSON)`;
        return report;
      }
      document.push(line);
      continue;
    }
    if (line.trim() === '') continue;
    const verdict = verdictOfLine(line);
    if (!seenResult && verdict.kind === 'other') {
      report.refused = `not a Scorecard result: ${verdict.reason}`;
      return report;
    }
    seenResult ||= verdict.kind === 'result';
    await take(verdict, lineNumber, deps, report);
  }
  if (layout === undefined) {
    report.refused = 'empty: not a Scorecard result';
    return report;
  }
  if (layout === 'document') {
    const verdicts = verdictsOfDocument(document.join('\n'));
    document = [];
    if (verdicts.length === 1 && verdicts[0].kind !== 'result') {
      report.refused = verdicts[0].kind === 'other' ? `not a Scorecard result: ${verdicts[0].reason}` : verdicts[0].reason;
      return report;
    }
    for (const [i, v] of verdicts.entries()) await take(v, i + 1, deps, report);
  }
  return report;
}

async function take(verdict: LineVerdict, line: number, deps: ImportDeps, report: FileReport): Promise<void> {
  if (verdict.kind !== 'result') {
    imported.inc({ outcome: 'invalid' });
    report.problems.push({ line, reason: verdict.kind === 'other' ? `not a Scorecard result: ${verdict.reason}` : verdict.reason });
    return;
  }
  report.results++;
  const r = verdict.result;
  const parsed = parseRepo(r.repo, deps.config.allowedHosts);
  if (!parsed.ok) {
    imported.inc({ outcome: 'invalid' });
    report.problems.push({ line, reason: `repository ${JSON.stringify(r.repo.slice(0, 120))}: ${parsed.reason}` });
    return;
  }
  const repo = parsed.repo;
  const stored = await storeImportedResult(deps.db, {
    repo: { key: repo.key, canonical: repo.canonical, host: repo.host },
    result: r,
    importKey: createHash('sha256').update(importKeyParts(repo.key, r)).digest('hex'),
    dueAfterSeconds: deps.config.rescoreIntervalSeconds,
  });
  if (stored.repoAdded) report.reposAdded++;
  if (stored.status === 'duplicate') {
    report.duplicates++;
    imported.inc({ outcome: 'duplicate' });
    return;
  }
  report.stored++;
  imported.inc({ outcome: 'stored' });
  if (isFutureDated(new Date(r.date), stored.storedAt)) report.futureDated++;
  // The same change detection as a harvested result: against its predecessor in stored order.
  const change = diffResults(stored.previous, { id: stored.scoreId, score: r.score, date: new Date(r.date).toISOString(), commit: r.commit, checks: r.checks });
  if (!stored.latest) return;
  const notice = noticeOf(change, deps.config.scoreChangeThreshold);
  if (!notice.notify) return;
  report.changes.push({ repo: repo.canonical, reasons: notice.reasons });
  const event = scoreChangedEvent(IMPORT_SOURCE, repo.canonical, null, change, notice, `changed-import-${stored.scoreId}`);
  let delivery = 'logged';
  if (deps.sendEvent) {
    delivery = await deps.sendEvent(event).then(
      () => 'sent',
      (err) => {
        deps.log.warn({ repo: repo.canonical, err: (err as Error).message }, 'could not send score.changed');
        return 'failed';
      },
    );
  }
  deps.log.info({ repo: repo.canonical, reasons: notice.reasons, delivery, event: event.type, imported: true }, 'score changed');
}
