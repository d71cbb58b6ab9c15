// An organisation's repositories, listed page by page through GitHub's `Link` headers, each page
// asked conditionally on the ETag posture kept for it: an unchanged page answers 304, costs no
// quota, and its repositories are the ones kept with it.
import { type GitHubApi, GitHubError } from './client.ts';
import { type ListedRepo, listedRepoOf } from './discovery.ts';

/** Where listing pages are kept between runs (lib/db: github_pages). */
export interface PageStore {
  get(url: string): Promise<{ etag: string; nextUrl: string | null; items: unknown[] } | undefined>;
  put(page: { url: string; etag: string; nextUrl: string | null; items: unknown[] }): Promise<void>;
}

export interface Listing {
  repos: ListedRepo[];
  /** Pages fetched (each a call that counts against the quota). */
  fetched: number;
  /** Pages GitHub answered 304 for (free). */
  notModified: number;
}

/** A listing longer than this many pages (100 repositories each) is refused as a loop. */
export const MAX_PAGES = 10_000;

/** Repositories a page holds: GitHub's largest page. */
export const PER_PAGE = 100;

/** The first page of an organisation's listing (type=all: public, private and internal ones the credentials see). */
export function orgReposPath(org: string): string {
  return `/orgs/${encodeURIComponent(org)}/repos?type=all&per_page=${PER_PAGE}`;
}

/** The page after `url` by GitHub's `page` parameter (the first page has none: it is 1). */
export function followingPage(url: string): string {
  const u = new URL(url);
  const page = Number(u.searchParams.get('page') ?? '1');
  u.searchParams.set('page', String((Number.isInteger(page) && page > 0 ? page : 1) + 1));
  return u.toString();
}

/** The key a page is kept under: the absolute URL (API base, path, query; never a credential). */
function pageKey(api: GitHubApi, url: string): string {
  return /^https?:\/\//.test(url) ? url : `${api.apiUrl}${url}`;
}

export async function listOrgRepos(api: GitHubApi, pages: PageStore, org: string): Promise<Listing> {
  const out: Listing = { repos: [], fetched: 0, notModified: 0 };
  const seen = new Set<string>();
  let url: string | null = orgReposPath(org);
  while (url !== null) {
    const key = pageKey(api, url);
    if (seen.has(key) || seen.size >= MAX_PAGES) throw new GitHubError(0, `the listing of ${org} loops or has more than ${MAX_PAGES} pages; refused`);
    seen.add(key);
    const kept = await pages.get(key);
    let answer = await api.page(url, kept?.etag);
    let items: unknown[];
    let next: string | null;
    if (answer.status === 304 && kept) {
      out.notModified++;
      items = kept.items;
      // An unchanged last page says nothing of a page after it: repositories added since spill
      // onto a new page while this one's body (and ETag) stays the same. Its 304's own Link says
      // so when it has one; otherwise a full last page is followed by asking for the next page
      // (empty and 304 from then on: free).
      next = answer.next !== undefined ? answer.next : (kept.nextUrl ?? (kept.items.length >= PER_PAGE ? followingPage(key) : null));
    } else {
      if (answer.status === 304) answer = await api.page(url); // 304 for an ETag we do not hold: ask plainly
      if (answer.status === 304) throw new GitHubError(304, `GitHub answered 304 for ${key} without an ETag`);
      out.fetched++;
      // What the page listed, as discovery needs it: kept with the ETag (the whole JSON is not).
      items = answer.items
        .map(listedRepoOf)
        .filter((r): r is ListedRepo => r !== undefined)
        .map((r) => ({ name: r.name, owner: { login: r.owner }, archived: r.archived, fork: r.fork, topics: r.topics }));
      // A full page without a next: the next page may come (see above); an empty page ends it.
      next = answer.next ?? (items.length >= PER_PAGE && !seen.has(followingPage(key)) ? followingPage(key) : null);
      if (answer.etag) await pages.put({ url: key, etag: answer.etag, nextUrl: next, items });
    }
    for (const item of items) {
      const r = listedRepoOf(item);
      if (r) out.repos.push(r);
    }
    url = next;
  }
  return out;
}
