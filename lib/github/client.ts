// posture's GitHub REST client, behind the small interface the rest of posture uses (GitHubApi).
//
// Octokit (@octokit/core, GitHub's own client) with three of its plugins: auth-app exchanges the
// App's JWT for installation tokens and renews them before they expire; throttling honours the
// rate-limit headers (a primary limit at 0 or a secondary limit is waited out when short, refused
// otherwise); retry repeats a 5xx. Every call goes to one base URL (POSTURE_GITHUB_API_URL), over
// undici with the system's CAs plus POSTURE_GITHUB_CA_FILE's: TLS is always verified.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Config } from '../config/index.ts';
import type { RateLimitReading } from './budget.ts';

/** One page of a listing: its items, its ETag and its `rel="next"`; or 304 (unchanged since that ETag: no quota spent). */
export type PageAnswer =
  | { status: 200; etag: string | null; next: string | null; items: unknown[] }
  /** `next`: the 304's own Link `rel="next"` when it carries a Link header, else undefined. */
  | { status: 304; next?: string | null };

/** What posture asks of GitHub's REST API. */
export interface GitHubApi {
  /** The REST base every call goes to. */
  readonly apiUrl: string;
  /** What authenticates the calls: tokens (how many) or an App installation; never the secret itself. */
  readonly credentials: string;
  /** A listing page (a path under the base, or the absolute `next` URL GitHub gave), conditional on an ETag. */
  page(url: string, etag?: string): Promise<PageAnswer>;
  /** GET /rate_limit (free of quota), once per token or for the installation. */
  rateLimits(): Promise<RateLimitReading[]>;
}

/** A GitHub answer that is not a success, in one line (never a credential). */
export class GitHubError extends Error {
  readonly status: number;
  /** Rate limited: seconds until GitHub says the limit resets. */
  readonly retryAfterSeconds?: number;
  constructor(status: number, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'GitHubError';
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export type GitHubSettings = Pick<Config, 'githubApiUrl' | 'githubCaFile' | 'githubToken' | 'githubAppId' | 'githubAppInstallationId' | 'githubAppKeyFile'>;

export interface ClientOptions {
  /** Longest rate-limit wait a call sits out before it fails instead (seconds; the scheduler's tick waits for none). */
  maxWaitSeconds?: number;
  /** Retries of a 5xx (Octokit's plugin-retry; default 2). */
  retries?: number;
  /** The retries' base delay (default 1000 ms; tests make it short). */
  retryBaseMs?: number;
  /** Where Octokit's own warnings go (default: nowhere). */
  warn?: (message: string) => void;
}

const USER_AGENT = 'posture (+https://github.com/posture)';

/** Whether the settings name any credential: without one, discovery is anonymous (60 calls an hour). */
export function hasCredentials(s: GitHubSettings): boolean {
  return Boolean(s.githubAppId) || tokensOf(s).length > 0;
}

function tokensOf(s: GitHubSettings): string[] {
  return (s.githubToken ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

const ThrottledOctokit = Octokit.plugin(throttling, retry);

/** The fetch every call uses: undici with the system CAs and the configured bundle, verification on. */
function fetchWithCa(caFile: string | undefined): typeof fetch {
  if (!caFile) return globalThis.fetch;
  let extra: string;
  try {
    extra = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new GitHubError(0, `cannot read POSTURE_GITHUB_CA_FILE ${JSON.stringify(caFile)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, extra] } });
  return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

/** Reads the App's key when it is needed; its text never leaves this function but to Octokit. */
function appKey(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new GitHubError(
      0,
      `cannot read the GitHub App's key POSTURE_GITHUB_APP_KEY_FILE=${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
}

/** The client posture uses: tokens (each its own Octokit, for its own rate limit) or the App's installation. */
export function createGitHubApi(settings: GitHubSettings, options: ClientOptions = {}): GitHubApi {
  const baseUrl = settings.githubApiUrl.replace(/\/+$/, '');
  const fetchImpl = fetchWithCa(settings.githubCaFile);
  const maxWait = options.maxWaitSeconds ?? 0;
  const common = {
    baseUrl,
    userAgent: USER_AGENT,
    request: { fetch: fetchImpl },
    // 5xx and network failures are retried (after 1 s, 4 s…); GitHub's refusals are not.
    retry: { retries: options.retries ?? 2, retryAfterBaseValue: options.retryBaseMs ?? 1000, doNotRetry: [304, 400, 401, 403, 404, 410, 422, 451] },
    throttle: {
      // Waited out only when short; the caller learns the reset otherwise (GitHubError.retryAfterSeconds).
      onRateLimit: (after: number, _o: unknown, _k: unknown, count: number) => after <= maxWait && count < 1,
      onSecondaryRateLimit: (after: number, _o: unknown, _k: unknown, count: number) => after <= maxWait && count < 1,
    },
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => options.warn?.(m),
      error: (m: string) => options.warn?.(m),
    },
  };
  const clients: Octokit[] = [];
  let credentials: string;
  if (settings.githubAppId && settings.githubAppInstallationId && settings.githubAppKeyFile) {
    clients.push(
      new ThrottledOctokit({
        ...common,
        authStrategy: createAppAuth,
        auth: { appId: settings.githubAppId, installationId: settings.githubAppInstallationId, privateKey: appKey(settings.githubAppKeyFile) },
      }),
    );
    credentials = `GitHub App ${settings.githubAppId}, installation ${settings.githubAppInstallationId}`;
  } else {
    const tokens = tokensOf(settings);
    for (const token of tokens) clients.push(new ThrottledOctokit({ ...common, auth: token }));
    if (clients.length === 0) clients.push(new ThrottledOctokit(common));
    credentials = tokens.length === 0 ? 'no token (anonymous: 60 calls an hour)' : `${tokens.length} token${tokens.length === 1 ? '' : 's'}`;
  }
  let turn = 0;
  return {
    apiUrl: baseUrl,
    credentials,
    async page(url, etag) {
      // Tokens take turns, as Scorecard rotates them.
      const client = clients[turn++ % clients.length];
      const route = /^https?:\/\//.test(url) ? url : `${baseUrl}${url.startsWith('/') ? '' : '/'}${url}`;
      if (!route.startsWith(`${baseUrl}/`)) throw new GitHubError(0, `GitHub gave a next page outside ${baseUrl}; refused`);
      try {
        const res = await client.request(`GET ${route}`, { headers: etag ? { 'if-none-match': etag } : {} });
        const items = Array.isArray(res.data) ? res.data : [];
        return { status: 200, etag: res.headers.etag ?? null, next: nextLink(res.headers.link), items };
      } catch (err) {
        const e = err as { status?: number; response?: { headers?: Record<string, string | undefined> } };
        if (e.status === 304) {
          const link = e.response?.headers?.link;
          return link === undefined ? { status: 304 } : { status: 304, next: nextLink(link) };
        }
        throw asGitHubError(err);
      }
    },
    async rateLimits() {
      const out: RateLimitReading[] = [];
      for (const client of clients) {
        try {
          const res = await client.request('GET /rate_limit');
          const core = (res.data as { resources?: { core?: { limit: number; remaining: number; reset: number } } }).resources?.core;
          if (core) out.push({ limit: core.limit, remaining: core.remaining, reset: core.reset });
        } catch (err) {
          throw asGitHubError(err);
        }
      }
      return out;
    },
  };
}

/** `rel="next"` of a Link header. */
export function nextLink(link: string | undefined): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return null;
}

function asGitHubError(err: unknown): GitHubError {
  if (err instanceof GitHubError) return err;
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string>; data?: { message?: string } } };
  // Octokit reports a failure that never got an answer (TLS, DNS, a refused connection) as a 500 without a response.
  const status = typeof e.status === 'number' && e.response ? e.status : 0;
  const headers = e.response?.headers ?? {};
  const said = e.response?.data?.message ?? e.message ?? String(err);
  let retryAfter: number | undefined;
  if (headers['retry-after'] !== undefined) retryAfter = Number(headers['retry-after']);
  else if (headers['x-ratelimit-remaining'] === '0' && headers['x-ratelimit-reset'] !== undefined)
    retryAfter = Math.max(0, Number(headers['x-ratelimit-reset']) - Math.floor(Date.now() / 1000));
  const what =
    status === 401
      ? 'GitHub refused the credentials (401)'
      : status === 0
        ? 'GitHub could not be reached'
        : retryAfter !== undefined
          ? `GitHub's rate limit (${status}; resets in ${retryAfter} s)`
          : `GitHub answered ${status}`;
  // Octokit's messages can repeat the URL; never a header. One line, clipped.
  const detail = said.replace(/\s+/g, ' ').slice(0, 300);
  return new GitHubError(status, `${what}: ${detail}`, retryAfter);
}
