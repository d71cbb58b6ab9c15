// Discovery's decisions, pure: which of an organisation's listed repositories a source selects,
// and what that changes against the repositories posture holds (new ones added, archived or gone
// ones retired, ones back again restored).
import { parseRepo, type RepoId } from '../repo/identity.ts';

/** A repository as an organisation's listing gives it (what discovery keeps of GitHub's JSON). */
export interface ListedRepo {
  owner: string;
  name: string;
  archived: boolean;
  fork: boolean;
  topics: string[];
}

export interface DiscoveryFilter {
  includeArchived: boolean;
  includeForks: boolean;
  /** Only repositories with this topic (GitHub's topics are lower-case). */
  topic: string | null;
}

/** The fields discovery keeps from one item of GET /orgs/{org}/repos; undefined for anything that is not a repository. */
export function listedRepoOf(item: unknown): ListedRepo | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const r = item as Record<string, unknown>;
  const owner = (r.owner as Record<string, unknown> | undefined)?.login;
  if (typeof r.name !== 'string' || typeof owner !== 'string') return undefined;
  return {
    owner,
    name: r.name,
    archived: r.archived === true,
    fork: r.fork === true,
    topics: Array.isArray(r.topics) ? r.topics.filter((t): t is string => typeof t === 'string') : [],
  };
}

export interface Selection {
  /** Repositories the source holds, as identities on `host`. */
  selected: RepoId[];
  /** Listed but archived (and archived ones not asked for). */
  archived: RepoId[];
  /** Left out by the filter: forks, or without the topic. */
  forks: number;
  withoutTopic: number;
  /** Names posture's identity rules refuse (never expected from GitHub; counted, not stored). */
  invalid: Array<{ name: string; reason: string }>;
}

/** Splits a listing by the filter. `host` names the repositories (github.com, or the Enterprise host). */
export function selectRepos(listed: readonly ListedRepo[], filter: DiscoveryFilter, host: string): Selection {
  const out: Selection = { selected: [], archived: [], forks: 0, withoutTopic: 0, invalid: [] };
  const topic = filter.topic?.toLowerCase() ?? null;
  for (const l of listed) {
    const parsed = parseRepo(`${host}/${l.owner}/${l.name}`, [host]);
    if (!parsed.ok) {
      out.invalid.push({ name: `${l.owner}/${l.name}`, reason: parsed.reason });
      continue;
    }
    if (l.fork && !filter.includeForks) out.forks++;
    else if (topic !== null && !l.topics.some((t) => t.toLowerCase() === topic)) out.withoutTopic++;
    else if (l.archived && !filter.includeArchived) out.archived.push(parsed.repo);
    else out.selected.push(parsed.repo);
  }
  return out;
}

/** A repository posture holds, as far as a discovery plan needs it. */
export interface HeldRepo {
  key: string;
  retiredReason: string | null;
  /** The source it belongs to; null: added by hand (or from a removed source). */
  sourceId: number | null;
}

export const RETIRED_ARCHIVED = 'archived';
export const RETIRED_GONE = 'gone from its source';

export interface SourcePlan {
  add: RepoId[];
  /** Held without a source and listed by this one: it becomes the source's. */
  adopt: string[];
  retire: Array<{ key: string; reason: string }>;
  restore: string[];
}

/**
 * What a discovery of source `sourceId` changes. Selected and unknown: added. Selected and
 * retired: restored. Listed as archived (not asked for) and held: retired as archived. Held by
 * this source and not selected any more (deleted, moved, made a fork, lost the topic): retired as
 * gone. A repository another source holds is left to that source; one added by hand is adopted
 * when selected (and so retired when it is archived later).
 */
export function planSourceChanges(selection: Selection, held: readonly HeldRepo[], sourceId: number): SourcePlan {
  const byKey = new Map(held.map((h) => [h.key, h]));
  const plan: SourcePlan = { add: [], adopt: [], retire: [], restore: [] };
  const selectedKeys = new Set<string>();
  for (const r of selection.selected) {
    selectedKeys.add(r.key);
    const h = byKey.get(r.key);
    if (!h) plan.add.push(r);
    else if (h.sourceId === null) {
      plan.adopt.push(r.key);
      if (h.retiredReason !== null) plan.restore.push(r.key);
    } else if (h.sourceId === sourceId && h.retiredReason !== null) plan.restore.push(r.key);
  }
  const archivedKeys = new Set(selection.archived.map((r) => r.key));
  for (const h of held) {
    if (h.sourceId !== sourceId || selectedKeys.has(h.key)) continue;
    const reason = archivedKeys.has(h.key) ? RETIRED_ARCHIVED : RETIRED_GONE;
    if (h.retiredReason !== reason) plan.retire.push({ key: h.key, reason });
  }
  plan.retire.sort((a, b) => a.key.localeCompare(b.key));
  return plan;
}
