// Reading the project's Markdown the way GitHub renders it, for the documentation tests: fenced
// code blocks, inline code, links and the anchors headings get. Pure functions over text, so the
// tests can show each check failing on a small broken input.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

export interface CodeBlock {
  lang: string;
  /** The block's lines, without the fences. */
  lines: string[];
  /** 1-based line of the opening fence. */
  line: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;

/** Splits a page into its fenced code blocks and the prose around them (fences blanked, so line numbers stay). */
export function splitFences(md: string): { prose: string; blocks: CodeBlock[] } {
  const lines = md.split('\n');
  const prose: string[] = [];
  const blocks: CodeBlock[] = [];
  let open: { fence: string; block: CodeBlock } | undefined;
  lines.forEach((text, i) => {
    if (open) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(text);
      if (close && close[1][0] === open.fence[0] && close[1].length >= open.fence.length) open = undefined;
      else open.block.lines.push(text.replace(/^ {0,3}/, ''));
      prose.push('');
      return;
    }
    const m = FENCE.exec(text);
    if (m) {
      const block = { lang: m[2].toLowerCase(), lines: [], line: i + 1 };
      blocks.push(block);
      open = { fence: m[1], block };
      prose.push('');
      return;
    }
    prose.push(text);
  });
  return { prose: prose.join('\n'), blocks };
}

/** Inline code spans of prose (text outside fenced blocks), with their lines. */
export function inlineCode(prose: string): Array<{ code: string; line: number }> {
  const out: Array<{ code: string; line: number }> = [];
  prose.split('\n').forEach((text, i) => {
    for (const m of text.matchAll(/(`+)(.+?)\1(?!`)/g)) out.push({ code: m[2].trim().replace(/\\\|/g, '|'), line: i + 1 });
  });
  return out;
}

/** Prose with inline code removed: what is left can hold links. */
function withoutInlineCode(prose: string): string {
  return prose.replace(/(`+)(.+?)\1(?!`)/g, (s) => ' '.repeat(s.length));
}

export interface Link {
  target: string;
  line: number;
}

/** Every link and image target of a page (inline, reference definitions, HTML href and src), outside code. */
export function links(md: string): Link[] {
  const text = withoutInlineCode(splitFences(md).prose);
  const out: Link[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
      out.push({ target: m[1].replace(/^<|>$/g, ''), line: i + 1 });
    }
    const def = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (def) out.push({ target: def[1].replace(/^<|>$/g, ''), line: i + 1 });
    for (const m of line.matchAll(/<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)) out.push({ target: m[1], line: i + 1 });
  });
  return out;
}

/** The heading text as GitHub renders it (links to their text, code and emphasis markers dropped). */
function headingText(raw: string): string {
  return raw
    .replace(/\s+#+\s*$/, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .replace(/(\*\*|__|\*|_)(\S(?:.*?\S)?)\1/g, '$2')
    .trim();
}

/** GitHub's anchor for a heading (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
export function slug(text: string): string {
  return headingText(text)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page defines: its headings' slugs (repeats numbered -1, -2, …) and HTML ids and names. */
export function anchors(md: string): Set<string> {
  const { prose } = splitFences(md);
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose.split('\n')) {
    const h = /^ {0,3}#{1,6}\s+(.+)$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<[a-z]+\b[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) out.add(m[1]);
  }
  return out;
}

export const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** A file tree to check: path from the repository root → its text (Markdown) or null (any other file or a folder). */
export type Tree = Map<string, string | null>;

/** Where a relative link points, from the repository root, and its anchor; null for an external link. */
export function resolveLink(from: string, target: string): { path: string; anchor: string | null } | null {
  if (isExternal(target)) return null;
  const hash = target.indexOf('#');
  const rawPath = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  let path: string;
  try {
    path = decodeURIComponent(rawPath.split('?')[0]);
  } catch {
    path = rawPath;
  }
  if (path === '') return { path: from, anchor };
  const joined = path.startsWith('/') ? normalize(path.slice(1)) : normalize(join(dirname(from), path));
  return { path: joined.replace(/\/$/, ''), anchor };
}

/** The Markdown page a path shows on GitHub: itself, or a folder's README.md. */
export function pageOf(tree: Tree, path: string): string | undefined {
  if (typeof tree.get(path) === 'string') return path;
  const readme = path === '.' || path === '' ? 'README.md' : `${path}/README.md`;
  return typeof tree.get(readme) === 'string' ? readme : undefined;
}

/** Every relative link of the given pages that names no file or folder, leaves the repository, or names no anchor of its page. */
export function brokenLinks(tree: Tree, pages: Iterable<string>): string[] {
  const problems: string[] = [];
  for (const from of pages) {
    const md = tree.get(from);
    if (typeof md !== 'string') continue;
    for (const { target, line } of links(md)) {
      const r = resolveLink(from, target);
      if (!r) continue;
      if (r.path.startsWith('..')) {
        problems.push(`${from}:${line}: ${target} leaves the repository`);
        continue;
      }
      if (!tree.has(r.path)) {
        problems.push(`${from}:${line}: ${target} names no file (${r.path})`);
        continue;
      }
      if (r.anchor !== null && r.anchor !== '') {
        const page = pageOf(tree, r.path);
        if (page && !/^L\d+(-L\d+)?$/.test(r.anchor) && !anchors(tree.get(page) as string).has(r.anchor)) {
          problems.push(`${from}:${line}: ${target}: ${page} has no heading or anchor "${r.anchor}"`);
        }
      }
    }
  }
  return problems;
}

/** Every file reachable from `start` by following links from Markdown page to Markdown page. */
export function reachable(tree: Tree, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const queue = [start];
  while (queue.length > 0) {
    const from = queue.shift()!;
    const md = tree.get(from);
    if (typeof md !== 'string') continue;
    for (const { target } of links(md)) {
      const r = resolveLink(from, target);
      if (!r || !tree.has(r.path)) continue;
      const page = pageOf(tree, r.path);
      for (const p of [r.path, page]) {
        if (p && !seen.has(p)) {
          seen.add(p);
          queue.push(p);
        }
      }
    }
  }
  return seen;
}

/** The repository's files as a Tree: Markdown read, other files and folders listed (dot folders and node_modules skipped). */
export function readTree(root: string, read: (path: string) => string): Tree {
  const tree: Tree = new Map([['.', null]]);
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir))) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const rel = dir === '' ? name : `${dir}/${name}`;
      const st = statSync(join(root, rel));
      if (st.isDirectory()) {
        tree.set(rel, null);
        walk(rel);
      } else tree.set(rel, rel.endsWith('.md') ? read(rel) : null);
    }
  };
  walk('');
  return tree;
}

/** Files under `dir` in the tree (not folders). */
export function filesUnder(tree: Tree, dir: string, root: string): string[] {
  return [...tree.keys()].filter((p) => p.startsWith(`${dir}/`) && existsSync(join(root, p)) && statSync(join(root, p)).isFile()).sort();
}

/** Cells of a table row: split on `|` that are not escaped (GitHub splits inside code spans too). */
export function cells(row: string): string[] {
  const parts = row.trim().split(/(?<!\\)\|/);
  if (parts[0].trim() === '') parts.shift();
  if (parts.length > 0 && parts[parts.length - 1].trim() === '') parts.pop();
  return parts.map((c) => c.trim());
}

/** Tables of a page (outside code): their header, rows and line. */
export function tables(md: string): Array<{ header: string[]; rows: string[][]; rawRows: string[]; line: number }> {
  const lines = splitFences(md).prose.split('\n');
  const out: Array<{ header: string[]; rows: string[][]; rawRows: string[]; line: number }> = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!/^\s*\|/.test(lines[i]) || !/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(lines[i + 1])) continue;
    const table = { header: cells(lines[i]), rows: [] as string[][], rawRows: [] as string[], line: i + 1 };
    let j = i + 2;
    for (; j < lines.length && /^\s*\|/.test(lines[j]); j++) {
      table.rows.push(cells(lines[j]));
      table.rawRows.push(lines[j]);
    }
    out.push(table);
    i = j - 1;
  }
  return out;
}

/** Rows whose cell count differs from their header's (an unescaped `|` splits a cell). */
export function tableProblems(page: string, md: string): string[] {
  const problems: string[] = [];
  for (const t of tables(md)) {
    t.rows.forEach((r, k) => {
      if (r.length !== t.header.length)
        problems.push(`${page}:${t.line + 2 + k}: a table row has ${r.length} cells, its header ${t.header.length} (escape | as \\|)`);
    });
  }
  return problems;
}
