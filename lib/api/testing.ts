// Helpers for the score API's tests and benchmark: the REST API fixture, storing a Scorecard
// document the way the scheduler and harvester do (repo row, recorded run, classified result,
// storeHarvest), and a request context.
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { FIXTURES, fixturePath } from '../../test/fixtures/scorecard.ts';
import { addRepos, type Db, getRepo, type HarvestStored, recordRun, storeHarvest } from '../db/index.ts';
import { type Context, isStreamed, type StructuredReturn } from '../function/handle.ts';
import { silentLogger } from '../log/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { classify } from '../scorecard/classify.ts';

export const FIXTURE_06_TEXT = readFileSync(fixturePath(FIXTURES.restApi), 'utf8');

/** Fixture 06 (a public REST API response) parsed afresh: safe to modify. */
// biome-ignore lint/suspicious/noExplicitAny: tests reshape the document freely, malformed on purpose
export function fixture06(): any {
  return JSON.parse(FIXTURE_06_TEXT);
}

const SCHEDULE = { rescoreIntervalSeconds: 86400, jitterSeconds: 0, failureBackoffBaseSeconds: 60, failureBackoffMaxSeconds: 3600, random: 0 };
let seq = 0;

/**
 * When a Job with a right clock finishes: a few minutes after its result's date. Results are
 * ordered by when posture stored them, so documents stored without a time keep their dates' order.
 */
function finishedAfter(date: string): Date {
  const t = Date.parse(date);
  return Number.isNaN(t) ? new Date() : new Date(t + 5 * 60_000);
}

/**
 * Stores one Scorecard document as a harvested Job would: the repository is added (idempotent),
 * the scheduler's run recorded, the Job's log (the document on one line among stderr noise)
 * classified, and the outcome stored in one transaction.
 */
export async function storeDocument(db: Db, doc: unknown, options: { finishedAt?: Date } = {}): Promise<HarvestStored> {
  const name = (doc as { repo: { name: string } }).repo.name;
  const parsed = parseRepo(name);
  if (!parsed.ok) throw new Error(parsed.reason);
  await addRepos(db, [{ repo: parsed.repo }]);
  const repo = await getRepo(db, parsed.repo.key);
  const n = `${process.pid}-${Date.now()}-${++seq}`;
  const jobName = `posture-api-test-${n}`;
  await recordRun(db, { repoId: Number(repo!.id), jobName, tickSlot: null });
  const c = classify(`2030/01/01 00:00:01 starting\n${JSON.stringify(doc)}\n`);
  if (!c.ok) throw new Error(`fixture did not classify: ${c.failure}: ${c.reason}`);
  return storeHarvest(db, {
    repoKey: parsed.repo.key,
    jobName,
    jobUid: `uid-${n}`,
    finishedAt: options.finishedAt ?? finishedAfter(c.result.date),
    checkSet: null,
    outcome: { ok: true, result: c.result, flagged: c.flagged },
    schedule: SCHEDULE,
  });
}

/** A reply's body as text, a streamed one read to its end. */
export async function replyText(r: StructuredReturn): Promise<string> {
  if (!isStreamed(r.body)) return String(r.body);
  let text = '';
  for await (const piece of r.body.stream) text += piece;
  return text;
}

export function requestContext(method: string, path: string, query: Record<string, string | string[]> = {}, headers: IncomingHttpHeaders = {}): Context {
  return { log: silentLogger, method, path, query, headers };
}
