// Repository identity: the only way a repository name enters posture. Everything downstream
// (database keys, Job arguments, labels, annotations) takes a RepoId, never a raw string.

export interface RepoId {
  /** Lower-case host, e.g. github.com. */
  host: string;
  /** Owner as the user wrote it (display case). */
  owner: string;
  /** Repository name as the user wrote it (display case), without .git. */
  name: string;
  /** `host/owner/name` in display case: what Scorecard's --repo receives. */
  canonical: string;
  /** Lower-cased canonical: the unique key (GitHub names are case-insensitive). */
  key: string;
}

export type ParseResult = { ok: true; repo: RepoId } | { ok: false; reason: string };

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

/**
 * Parses `https://github.com/o/r`, `github.com/o/r` or `o/r` (host github.com), with or without
 * `.git` or a trailing slash. Other hosts only when listed in allowedHosts.
 */
export function parseRepo(input: string, allowedHosts: readonly string[] = ['github.com']): ParseResult {
  if (typeof input !== 'string') return { ok: false, reason: 'not a string' };
  let s = input.trim();
  if (s === '') return { ok: false, reason: 'empty repository name' };
  if (s.length > 300) return { ok: false, reason: 'longer than 300 characters' };
  if (/[\s\u0000-\u001f\u007f]/.test(s)) return { ok: false, reason: 'contains whitespace or control characters' };
  let scheme = false;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(s);
  if (m) {
    if (m[1].toLowerCase() !== 'https' && m[1].toLowerCase() !== 'http') return { ok: false, reason: `unsupported scheme ${m[1]}:// (use https://)` };
    s = s.slice(m[0].length);
    scheme = true;
  }
  if (/[?#]/.test(s)) return { ok: false, reason: 'query strings and fragments are not part of a repository name' };
  if (s.endsWith('/')) s = s.slice(0, -1);
  if (/\.git$/i.test(s)) s = s.slice(0, -4);
  const parts = s.split('/');
  if (parts.some((p) => p === '')) return { ok: false, reason: 'empty path segment (double or leading slash)' };
  let host: string;
  let owner: string;
  let name: string;
  if (parts.length === 2 && !scheme) {
    host = 'github.com';
    [owner, name] = parts;
  } else if (parts.length === 3) {
    [host, owner, name] = parts;
    if (host.includes('@')) return { ok: false, reason: 'credentials are not allowed in a repository URL' };
    host = host.toLowerCase();
    if (host.includes(':')) return { ok: false, reason: `ports are not allowed in the host ${JSON.stringify(host)}` };
  } else {
    return { ok: false, reason: 'expected owner/repo, host/owner/repo or https://host/owner/repo' };
  }
  if (!HOST.test(host)) return { ok: false, reason: `invalid host ${JSON.stringify(host)}` };
  if (!allowedHosts.includes(host)) return { ok: false, reason: `host ${host} is not allowed (allowed: ${allowedHosts.join(', ')})` };
  if (!OWNER.test(owner)) return { ok: false, reason: `invalid owner ${JSON.stringify(owner)}: 1-39 characters of A-Z, a-z, 0-9 and -, not starting with -` };
  if (!NAME.test(name)) return { ok: false, reason: `invalid repository ${JSON.stringify(name)}: 1-100 characters of A-Z, a-z, 0-9, ., _ and -` };
  if (name === '.' || name === '..') return { ok: false, reason: `invalid repository ${JSON.stringify(name)}` };
  const canonical = `${host}/${owner}/${name}`;
  return { ok: true, repo: { host, owner, name, canonical, key: canonical.toLowerCase() } };
}

/** Like parseRepo, but throws an Error carrying the reason. */
export function repoOrThrow(input: string, allowedHosts?: readonly string[]): RepoId {
  const r = parseRepo(input, allowedHosts);
  if (!r.ok) throw new InvalidRepoError(input, r.reason);
  return r.repo;
}

export class InvalidRepoError extends Error {
  readonly input: string;
  readonly reason: string;
  constructor(input: string, reason: string) {
    super(`invalid repository ${JSON.stringify(input.length > 120 ? `${input.slice(0, 120)}…` : input)}: ${reason}`);
    this.name = 'InvalidRepoError';
    this.input = input;
    this.reason = reason;
  }
}
