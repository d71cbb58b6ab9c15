// Reading a repository list: one repository a line, or Scorecard's `repo,metadata` CSV.
// Pure line parsing here; the command streams lines through it in batches.
import { parseRepo, type RepoId } from './identity.ts';

export type ImportLine =
  | { kind: 'skip' }
  | { kind: 'repo'; repo: RepoId; metadata: string | null }
  | { kind: 'invalid'; reason: string };

/** Parses one line of a list (lineNumber is 1-based; line 1 may be the CSV header). */
export function parseImportLine(line: string, lineNumber: number, allowedHosts: readonly string[]): ImportLine {
  let s = line;
  if (lineNumber === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  s = s.replace(/\r$/, '').trim();
  if (s === '' || s.startsWith('#')) return { kind: 'skip' };
  if (lineNumber === 1 && /^"?repo"?\s*(,|$)/i.test(s)) return { kind: 'skip' }; // CSV header
  let name = s;
  let metadata: string | null = null;
  if (s.startsWith('"')) {
    const end = s.indexOf('"', 1);
    if (end < 0) return { kind: 'invalid', reason: 'unterminated quote' };
    name = s.slice(1, end);
    const rest = s.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith(',')) return { kind: 'invalid', reason: 'text after the quoted repository' };
    metadata = rest.startsWith(',') ? rest.slice(1).trim() : null;
  } else {
    const comma = s.indexOf(',');
    if (comma >= 0) {
      name = s.slice(0, comma).trim();
      metadata = s.slice(comma + 1).trim();
    }
  }
  if (metadata !== null && metadata.startsWith('"') && metadata.endsWith('"') && metadata.length >= 2) metadata = metadata.slice(1, -1);
  if (metadata === '') metadata = null;
  if (metadata !== null && metadata.length > 4096) return { kind: 'invalid', reason: 'metadata longer than 4096 characters' };
  const r = parseRepo(name, allowedHosts);
  return r.ok ? { kind: 'repo', repo: r.repo, metadata } : { kind: 'invalid', reason: r.reason };
}
