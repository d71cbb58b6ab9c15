// The harvester's pure core: pod log in, validated result or classified failure out.
// classifyPodLog is the one code path shared by the harvester and `posture results parse`.
import { type Classification, classify, NO_POD_FACTS, type PodFacts } from './classify.ts';
import { type LogChunk, type ReadCappedOptions, readCapped } from './read.ts';

export type { Classification, FailureClass, NormalizedCheck, NormalizedResult, PodFacts } from './classify.ts';
export { classify, FAILURE_CLASSES, internalErrorsOf, NO_POD_FACTS, normalizeResult } from './classify.ts';
export { FUTURE_DATED_TOLERANCE_MS, isFutureDated } from './clock.ts';
export type { Extraction, ExtractOptions, FoundDocument } from './extract.ts';
export { DEFAULT_MAX_DOCUMENT_CHARS, extractDocuments, looksLikeResult } from './extract.ts';
export type { CappedText, LogChunk, ReadCappedOptions } from './read.ts';
export { DEFAULT_LOG_BYTE_CAP, incompleteTail, readCapped } from './read.ts';
export type { ScorecardCheckDocument, ScorecardResultDocument, StructureLimits, ValidationResult } from './schema.ts';
export { checkStructure, LIMITS, parseScorecardDate, scorecardResultSchema, summarizeError, validateResult } from './schema.ts';
export type { ShardOptions, ShardOutcome, ShardVerdict } from './shard.ts';
export { classifyShard } from './shard.ts';
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
