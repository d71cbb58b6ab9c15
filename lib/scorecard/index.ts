// The harvester's pure core: pod log in, validated result or classified failure out.
// classifyPodLog is the one code path shared by the harvester and `posture results parse`.
import { classify, NO_POD_FACTS, type Classification, type PodFacts } from './classify.ts';
import { readCapped, type LogChunk, type ReadCappedOptions } from './read.ts';

export { classify, normalizeResult, internalErrorsOf, FAILURE_CLASSES, NO_POD_FACTS } from './classify.ts';
export type { Classification, FailureClass, NormalizedCheck, NormalizedResult, PodFacts } from './classify.ts';
export { extractDocuments, looksLikeResult, DEFAULT_MAX_DOCUMENT_CHARS } from './extract.ts';
export type { ExtractOptions, Extraction, FoundDocument } from './extract.ts';
export { readCapped, incompleteTail, DEFAULT_LOG_BYTE_CAP } from './read.ts';
export type { CappedText, LogChunk, ReadCappedOptions } from './read.ts';
export { validateResult, checkStructure, parseScorecardDate, scorecardResultSchema, summarizeError, LIMITS } from './schema.ts';
export type { ScorecardCheckDocument, ScorecardResultDocument, StructureLimits, ValidationResult } from './schema.ts';
export { safeReason, stripAnsi } from './text.ts';

export interface PodLogVerdict {
  classification: Classification;
  /** Bytes of log read (≤ the cap). */
  bytes: number;
  /** The log was longer than the cap. */
  truncated: boolean;
}

/** Reads a log stream under the byte cap and classifies it with the pod's facts. */
export async function classifyPodLog(
  chunks: AsyncIterable<LogChunk> | Iterable<LogChunk>,
  facts: PodFacts = NO_POD_FACTS,
  options: ReadCappedOptions = {},
): Promise<PodLogVerdict> {
  const log = await readCapped(chunks, options);
  return { classification: classify(log, facts), bytes: log.bytes, truncated: log.truncated };
}
