// A fake GitHub: an HTTPS server on a real socket speaking GitHub's REST API and the GraphQL the
// Scorecard CLI asks, so tests meet GitHub's behaviours (auth, 404s, 5xx, rate limits, Link
// pagination) through the network as the real clients do, never through a mock in the process.
//
// It serves both layouts at once: GitHub Enterprise's (`/api/v3/...`, `/api/graphql`, what
// Scorecard uses with GH_HOST=<host:port>) and api.github.com's (`/...`, `/graphql`). It has its
// own CA (the `caFile` a Go client trusts through SSL_CERT_FILE) and a serving certificate for
// the host it binds to and any other names the caller lists.
//
// State is plain data (organisations, users, repositories with files and commits, tokens), and
// endpoints are a route table (`route`): later endpoints (installation tokens, issues) are more
// routes over the same state. Faults are scripted per repository, per API or for everything.
// The request log names a token by the identity it was given, never by its value.
import { createHash, createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCert, pem } from '../cluster/pki.ts';
import { type Args, execute, FieldError, GraphQLSyntaxError, parseQuery } from './graphql.ts';
import { tarball } from './tarball.ts';

export interface FakeCommit {
  sha: string;
  message: string;
  /** ISO 8601 */
  date: string;
  /** The author's login (a user the fake knows or makes up on first sight). */
  author: string;
}

export interface RepoInit {
  owner: string;
  name: string;
  private?: boolean;
  archived?: boolean;
  /** Default `main`. */
  defaultBranch?: string;
  /** Path → content, the tree at the newest commit (served as the tarball). */
  files?: Record<string, string>;
  /** Newest first; default one commit by `<owner>-dev`. */
  commits?: Array<Partial<FakeCommit>>;
  /** ISO 8601; default 2024-01-01. */
  createdAt?: string;
  description?: string;
  /** Name → bytes of code, as /languages answers. */
  languages?: Record<string, number>;
  /** A fork of another repository (organisation listings include forks). */
  fork?: boolean;
  /** GitHub's topics (lower-case). */
  topics?: string[];
}

export interface FakeRepo {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  archived: boolean;
  defaultBranch: string;
  files: Record<string, string>;
  commits: FakeCommit[];
  createdAt: string;
  description: string | null;
  languages: Record<string, number>;
  fork: boolean;
  topics: string[];
}

export interface FakeComment {
  id: number;
  body: string;
  /** The token holder's identity. */
  author: string;
  createdAt: string;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: 'open' | 'closed';
  stateReason: string | null;
  author: string;
  comments: FakeComment[];
  createdAt: string;
}

export interface FakeUser {
  login: string;
  id: number;
  type: 'User' | 'Organization' | 'Bot';
  company: string | null;
}

export interface TokenInit {
  /** What the request log calls this token's holder (the token's value is never logged). */
  identity: string;
  /** Private repositories (`owner/name`) it can read, or `*` for all; public ones are always readable. Default `*`. */
  repos?: string[] | '*';
}

export interface AppInit {
  /** The App's id (the JWT's `iss`). */
  appId: string;
  /** Its public key (PEM or a KeyObject): the fake checks each JWT's RS256 signature with it. */
  publicKey: string | KeyObject;
  /** Installation id → what its tokens may read (as a token's `repos`). */
  installations: Record<string, { repos?: string[] | '*' }>;
}

/** An installation token the fake issued (for the test's eyes: its value is never logged). */
export interface IssuedInstallationToken {
  appId: string;
  installationId: string;
  token: string;
  expiresAt: string;
}

export type FaultKind = 'bad-credentials' | 'not-found' | 'server-error' | 'primary-rate-limit' | 'secondary-rate-limit';

export interface FaultInit {
  kind: FaultKind;
  /** Only requests about this repository (`owner/name`): REST /repos/<it>/…, its tarball, GraphQL with owner/name variables for it. */
  repo?: string;
  api?: 'rest' | 'graphql';
  /** Only requests whose path (without /api/v3) matches. */
  path?: RegExp;
  /** How many matching requests it answers; default every one (a primary rate limit: until its reset). */
  times?: number;
  /** server-error: default 502; secondary-rate-limit: 403 or 429, default 403. */
  status?: number;
  /** The error body's message; default GitHub's for the kind. */
  message?: string;
  /** primary-rate-limit: the window resets this many seconds after the fault's first hit; default 60. */
  resetInSeconds?: number;
  /** secondary-rate-limit: the Retry-After header; null sends none. Default 60. */
  retryAfterSeconds?: number | null;
}

export interface Fault {
  readonly init: FaultInit;
  /** Requests it answered. */
  readonly hits: number;
  remove(): void;
}

export interface LoggedRequest {
  method: string;
  /** Path and query, without the Enterprise /api/v3 prefix (the GraphQL endpoint logs as /graphql). */
  path: string;
  api: 'rest' | 'graphql' | 'codeload';
  status: number;
  /** The token holder's identity, `anonymous`, or `unknown token` (never the value). */
  token: string;
  /** The repository the request is about, when it names one. */
  repo?: string;
  /** GraphQL: the top-level fields asked for, and those under `repository`, e.g. `repository{defaultBranchRef,rulesets}`. */
  graphql?: string;
  /** The scripted fault that answered, if one did. */
  fault?: FaultKind;
}

export interface FakeGitHubOptions {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** More DNS names or IP addresses for the serving certificate, besides `host` and localhost. */
  altNames?: string[];
  /** Where the CA and certificate go; default a new temporary folder. */
  dir?: string;
  /** REST requests per hour per token (core resource); default 5000. Anonymous: 60. */
  rateLimit?: number;
}

export interface RequestContext {
  method: string;
  /** Path without the /api/v3 prefix and without the query. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The REST base URL in the layout the request came in: https://host:port/api/v3 or https://host:port. */
  base: string;
  token: TokenInit | undefined;
  body: Buffer;
}

export interface Reply {
  status: number;
  /** JSON-encoded unless a Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** May answer later (a slow GitHub keeps a Scorecard run, and what it downloaded, alive). */
export type RouteHandler = (ctx: RequestContext) => Reply | Promise<Reply>;

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
}

interface RateWindow {
  used: number;
  reset: number;
}

const DOCS = 'https://docs.github.com/rest';
// GitHub's words for a JWT it refuses over its times (Octokit's auth-app retries those once, with
// the clock difference GitHub's Date header shows); anything else is "could not be decoded".
const JWT_MESSAGES: Record<string, string> = {
  "'exp' is in the past": "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  "'iat' is in the future": "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
  "'exp' is too far in the future (more than 10 minutes)": "'Expiration time' claim ('exp') is too far in the future",
};
const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({ status, body, headers });
const error = (status: number, message: string, documentation_url = DOCS): Reply => json(status, { message, documentation_url, status: String(status) });
export const notFound = (): Reply => error(404, 'Not Found');
const nowSeconds = () => Math.floor(Date.now() / 1000);
const key = (owner: string, name: string) => `${owner}/${name}`.toLowerCase();
const sha = () => randomBytes(20).toString('hex');

export class FakeGitHub {
  /** The CA certificate (PEM) that signed the serving certificate: SSL_CERT_FILE for Go clients, `ca` for Node's. */
  readonly caFile: string;
  readonly host: string;
  readonly port: number;
  /** Everything asked of the fake, in order. */
  readonly requests: LoggedRequest[] = [];
  readonly orgs = new Map<string, FakeUser>();
  readonly users = new Map<string, FakeUser>();
  readonly repos = new Map<string, FakeRepo>();
  /** Issues by repository (`owner/name`, lower case), in the order opened. */
  readonly issues = new Map<string, FakeIssue[]>();
  private readonly tokens = new Map<string, TokenInit>();
  private readonly apps = new Map<string, { init: AppInit; key: KeyObject }>();
  /** Installation tokens issued, in order. */
  readonly installationTokens: IssuedInstallationToken[] = [];
  /** JWTs refused, with why (bad signature, expired, unknown App…). */
  readonly refusedJwts: string[] = [];
  private readonly faults: Array<{ init: FaultInit; hits: number; reset?: number }> = [];
  private readonly routes: Route[] = [];
  private readonly windows = new Map<string, RateWindow>();
  private readonly rateLimit: number;
  private readonly server: Server;
  private nextId = 1000;

  private constructor(server: Server, host: string, port: number, caFile: string, rateLimit: number) {
    this.server = server;
    this.host = host;
    this.port = port;
    this.caFile = caFile;
    this.rateLimit = rateLimit;
    this.addRoutes();
  }

  /** Starts the server; close() stops it. */
  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const host = options.host ?? '127.0.0.1';
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'posture-fake-github-'));
    const ca = createCA(dir, 'fake-github-ca', 'posture fake GitHub CA');
    const names = [...new Set([host, 'localhost', '127.0.0.1', ...(options.altNames ?? [])])].filter((h) => h !== '0.0.0.0' && h !== '::');
    const served = issueCert({ ca, dir, name: 'fake-github', commonName: names[0], hosts: names, usage: 'server' });
    let fake: FakeGitHub | undefined;
    const server = createServer({ cert: pem(served.cert), key: pem(served.key) }, (req, res) => {
      fake?.handle(req, res).catch((e) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake GitHub bug: ${e?.stack ?? e}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    fake = new FakeGitHub(server, host, port, ca.cert, options.rateLimit ?? 5000);
    return fake;
  }

  /** host:port, as GH_HOST wants it (an IPv6 address in brackets). */
  get ghHost(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }
  /** https://host:port */
  get url(): string {
    return `https://${this.ghHost}`;
  }
  /** The Enterprise REST base, https://host:port/api/v3. */
  get restBase(): string {
    return `${this.url}/api/v3`;
  }

  /** The environment that points Scorecard (or any go-github client) at the fake. */
  scorecardEnv(token: string): Record<string, string> {
    return { GH_HOST: this.ghHost, SSL_CERT_FILE: this.caFile, GITHUB_AUTH_TOKEN: token };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- state ---

  addOrg(login: string): FakeUser {
    const org: FakeUser = { login, id: this.nextId++, type: 'Organization', company: null };
    this.orgs.set(login.toLowerCase(), org);
    return org;
  }

  addUser(login: string, init: Partial<Omit<FakeUser, 'login' | 'id'>> = {}): FakeUser {
    const user: FakeUser = { login, id: this.nextId++, type: init.type ?? 'User', company: init.company ?? null };
    this.users.set(login.toLowerCase(), user);
    return user;
  }

  /** Adds a repository (and its owner as an organisation, when the fake does not know it). */
  addRepo(init: RepoInit): FakeRepo {
    if (!this.orgs.has(init.owner.toLowerCase()) && !this.users.has(init.owner.toLowerCase())) this.addOrg(init.owner);
    const base = Date.parse('2026-01-01T00:00:00Z');
    const commits = (init.commits ?? [{}]).map((c, n) => ({
      sha: c.sha ?? sha(),
      message: c.message ?? `change ${n}`,
      date: c.date ?? new Date(base - n * 86_400_000).toISOString().replace('.000Z', 'Z'),
      author: c.author ?? `${init.owner}-dev`,
    }));
    for (const c of commits) if (!this.users.has(c.author.toLowerCase())) this.addUser(c.author);
    const repo: FakeRepo = {
      id: this.nextId++,
      owner: init.owner,
      name: init.name,
      private: init.private ?? false,
      archived: init.archived ?? false,
      defaultBranch: init.defaultBranch ?? 'main',
      files: init.files ?? { 'README.md': `# ${init.name}\n` },
      commits,
      createdAt: init.createdAt ?? '2024-01-01T00:00:00Z',
      description: init.description ?? null,
      languages: init.languages ?? {},
      fork: init.fork ?? false,
      topics: init.topics ?? [],
    };
    this.repos.set(key(init.owner, init.name), repo);
    return repo;
  }

  /** A repository's issues (`owner/name`), in the order opened. */
  issuesOf(fullName: string): FakeIssue[] {
    return this.issues.get(fullName.toLowerCase()) ?? [];
  }

  /** Makes `value` a valid token. */
  addToken(value: string, init: TokenInit): void {
    this.tokens.set(value, init);
  }

  /**
   * Registers a GitHub App: its JWTs (RS256, signed with the private key of `publicKey`, `iss` the
   * App's id, at most 10 minutes long, as GitHub demands) may exchange for installation tokens at
   * POST /app/installations/{id}/access_tokens; each token lasts an hour and reads what the
   * installation may.
   */
  addApp(init: AppInit): void {
    const key = typeof init.publicKey === 'string' ? createPublicKey(init.publicKey) : init.publicKey;
    this.apps.set(init.appId, { init, key });
  }

  /** Remaining core quota of a token holder this window (what /rate_limit says). */
  remaining(identity: string): number {
    const w = this.windows.get(`${identity}|core`);
    return w && w.reset > nowSeconds() ? Math.max(0, this.rateLimit - w.used) : this.rateLimit;
  }

  /** Spends `calls` of a token holder's core quota, as if it had made them (a busy fleet). */
  spend(identity: string, calls: number): void {
    const k = `${identity}|core`;
    let w = this.windows.get(k);
    if (!w || w.reset <= nowSeconds()) {
      w = { used: 0, reset: nowSeconds() + 3600 };
      this.windows.set(k, w);
    }
    w.used += calls;
  }

  /** The App the JWT is from, or why not (GitHub's checks: RS256, signature, iss, iat/exp, at most 10 minutes). */
  private checkJwt(jwt: string): { appId: string } | { error: string } {
    const parts = jwt.split('.');
    if (parts.length !== 3) return { error: 'not a JWT' };
    let header: { alg?: string };
    let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return { error: 'not a JWT' };
    }
    if (header.alg !== 'RS256') return { error: `alg ${header.alg} is not RS256` };
    const app = this.apps.get(String(claims.iss));
    if (!app) return { error: `no App with id ${String(claims.iss)}` };
    const signed = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), app.key, Buffer.from(parts[2], 'base64url'));
    if (!signed) return { error: 'signature does not verify' };
    const now = nowSeconds();
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return { error: 'iat and exp are required' };
    if (claims.exp <= now) return { error: "'exp' is in the past" };
    if (claims.iat > now + 60) return { error: "'iat' is in the future" };
    if (claims.exp - claims.iat > 600) return { error: "'exp' is too far in the future (more than 10 minutes)" };
    return { appId: app.init.appId };
  }

  /** Takes a token back: from now on it is a bad credential, as a revoked token is. */
  revokeToken(value: string): void {
    this.tokens.delete(value);
  }

  /** Scripts a fault; the newest matching fault answers first. */
  fault(init: FaultInit): Fault {
    const entry = { init, hits: 0 };
    this.faults.unshift(entry);
    return {
      init,
      get hits() {
        return entry.hits;
      },
      remove: () => {
        const i = this.faults.indexOf(entry);
        if (i >= 0) this.faults.splice(i, 1);
      },
    };
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Adds an endpoint (REST, without /api/v3): `:name` matches one path segment, a last `*name`
   * the rest of the path. Routes added later win over earlier ones for the same path.
   */
  route(method: string, template: string, handler: RouteHandler): void {
    this.routes.unshift({ method, segments: template.split('/').filter(Boolean), handler });
  }

  /** The repository if `token` may read it (GitHub answers 404, not 403, for a private one it may not). */
  visibleRepo(owner: string, name: string, token: TokenInit | undefined): FakeRepo | undefined {
    const repo = this.repos.get(key(owner, name));
    if (!repo) return undefined;
    if (!repo.private) return repo;
    if (!token) return undefined;
    const granted = token.repos ?? '*';
    return granted === '*' || granted.some((r) => r.toLowerCase() === key(owner, name)) ? repo : undefined;
  }

  /** A page of `items` per GitHub's `per_page`/`page` (default 30, at most 100), with its Link header. */
  paginate<T>(ctx: RequestContext, items: T[]): Reply {
    const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page')) || 30));
    const page = Math.max(1, Number(ctx.query.get('page')) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number) => {
      const q = new URLSearchParams(ctx.query);
      q.set('per_page', String(perPage));
      q.set('page', String(n));
      return `<${ctx.base}${ctx.path}?${q}>`;
    };
    const rels: string[] = [];
    if (page > 1) rels.push(`${link(page - 1)}; rel="prev"`);
    if (page < last) rels.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) rels.push(`${link(1)}; rel="first"`);
    return json(200, items.slice((page - 1) * perPage, page * perPage), rels.length ? { link: rels.join(', ') } : undefined);
  }

  // --- JSON shapes, as GitHub's REST API writes them ---

  userJson(base: string, u: FakeUser): Record<string, unknown> {
    return {
      login: u.login,
      id: u.id,
      node_id: Buffer.from(`04:${u.type}${u.id}`).toString('base64'),
      type: u.type,
      site_admin: false,
      url: `${base}/${u.type === 'Organization' ? 'orgs' : 'users'}/${u.login}`,
      html_url: `${base.replace(/\/api\/v3$/, '')}/${u.login}`,
    };
  }

  repoJson(base: string, r: FakeRepo): Record<string, unknown> {
    const owner = this.orgs.get(r.owner.toLowerCase()) ?? this.users.get(r.owner.toLowerCase());
    const api = `${base}/repos/${r.owner}/${r.name}`;
    const web = `${base.replace(/\/api\/v3$/, '')}/${r.owner}/${r.name}`;
    return {
      id: r.id,
      node_id: Buffer.from(`010:Repository${r.id}`).toString('base64'),
      name: r.name,
      full_name: `${r.owner}/${r.name}`,
      private: r.private,
      owner: owner ? this.userJson(base, owner) : { login: r.owner },
      html_url: web,
      description: r.description,
      fork: r.fork,
      topics: r.topics,
      url: api,
      archive_url: `${api}/{archive_format}{/ref}`,
      contributors_url: `${api}/contributors`,
      languages_url: `${api}/languages`,
      clone_url: `${web}.git`,
      git_url: `${web.replace(/^https:/, 'git:')}.git`,
      created_at: r.createdAt,
      updated_at: r.commits[0]?.date ?? r.createdAt,
      pushed_at: r.commits[0]?.date ?? r.createdAt,
      size: Object.values(r.files).reduce((n, f) => n + f.length, 0),
      language: Object.keys(r.languages)[0] ?? null,
      archived: r.archived,
      disabled: false,
      visibility: r.private ? 'private' : 'public',
      default_branch: r.defaultBranch,
      has_issues: true,
    };
  }

  // --- the request path ---

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'https://fake.invalid');
    const method = req.method ?? 'GET';
    const enterprise = url.pathname === '/api/v3' || url.pathname.startsWith('/api/v3/') || url.pathname === '/api/graphql';
    const path = (enterprise ? url.pathname.replace(/^\/api(\/v3)?/, '') : url.pathname).replace(/(.)\/+$/, '$1') || '/';
    const api: LoggedRequest['api'] = path === '/graphql' ? 'graphql' : path.startsWith('/_codeload/') ? 'codeload' : 'rest';
    const base = enterprise ? this.restBase : this.url;
    const entry: LoggedRequest = { method, path: `${path}${url.search}`, api, status: 0, token: 'anonymous' };

    // GraphQL: what it asks, for the log and for repository-scoped faults.
    let gql: { query: string; variables: Args } | undefined;
    if (api === 'graphql' && method === 'POST') {
      try {
        const parsed = JSON.parse(body.toString('utf8'));
        gql = { query: String(parsed.query ?? ''), variables: parsed.variables ?? {} };
        entry.graphql = summarize(gql.query);
        if (typeof gql.variables.owner === 'string' && typeof gql.variables.name === 'string') entry.repo = `${gql.variables.owner}/${gql.variables.name}`;
      } catch {
        gql = undefined;
      }
    } else {
      const m = /^\/(?:repos|_codeload)\/([^/]+)\/([^/]+)/.exec(path);
      if (m) entry.repo = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
    }

    const send = (reply: Reply, resource: string | null, window?: { remaining: number; reset: number; limit: number; used: number }) => {
      const headers: Record<string, string> = {
        server: 'GitHub.com',
        date: new Date().toUTCString(),
        'x-github-request-id': `${randomBytes(2).toString('hex').toUpperCase()}:${randomBytes(3).toString('hex').toUpperCase()}:${randomBytes(4).toString('hex').toUpperCase()}`,
        'x-github-api-version-selected': '2022-11-28',
        'x-github-media-type': 'github.v3; format=json',
        ...(resource && window
          ? {
              'x-ratelimit-limit': String(window.limit),
              'x-ratelimit-remaining': String(window.remaining),
              'x-ratelimit-reset': String(window.reset),
              'x-ratelimit-used': String(window.used),
              'x-ratelimit-resource': resource,
            }
          : {}),
        ...reply.headers,
      };
      let payload: Buffer | undefined;
      if (Buffer.isBuffer(reply.body)) payload = reply.body;
      else if (reply.body !== undefined) {
        payload = Buffer.from(JSON.stringify(reply.body));
        headers['content-type'] ??= 'application/json; charset=utf-8';
      }
      if (payload) headers['content-length'] = String(payload.length);
      entry.status = reply.status;
      this.requests.push(entry);
      res.writeHead(reply.status, headers);
      res.end(payload);
    };

    // Authentication, as GitHub does it: a token it does not know is 401 for every request,
    // public or not; no token at all is anonymous (60 REST requests an hour, no GraphQL).
    const auth = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    // The App's own endpoints take its JWT (Bearer), nothing else; they count against no quota.
    if (api === 'rest' && path.startsWith('/app/')) {
      const checked = auth ? this.checkJwt(auth[1]) : { error: 'A JSON web token could not be decoded' };
      if ('error' in checked) {
        entry.token = 'refused JWT';
        this.refusedJwts.push(checked.error);
        return send(error(401, JWT_MESSAGES[checked.error] ?? 'A JSON web token could not be decoded'), null);
      }
      entry.token = `app ${checked.appId} (JWT)`;
      const m = /^\/app\/installations\/([^/]+)\/access_tokens$/.exec(path);
      const app = this.apps.get(checked.appId)!;
      if (!m || method !== 'POST') return send(notFound(), null);
      const installation = app.init.installations[decodeURIComponent(m[1])];
      if (!installation) return send(notFound(), null);
      const value = `ghs_${randomBytes(18).toString('base64url')}`;
      const expiresAt = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
      this.addToken(value, { identity: `app ${checked.appId} installation ${m[1]}`, repos: installation.repos ?? '*' });
      this.installationTokens.push({ appId: checked.appId, installationId: m[1], token: value, expiresAt });
      return send(json(201, { token: value, expires_at: expiresAt, permissions: { metadata: 'read', contents: 'read' }, repository_selection: 'all' }), null);
    }
    const token = auth ? this.tokens.get(auth[1]) : undefined;
    if (auth) entry.token = token ? token.identity : 'unknown token';
    const resource =
      api === 'codeload' ? null : api === 'graphql' ? 'graphql' : path === '/search/code' ? 'code_search' : path.startsWith('/search/') ? 'search' : 'core';
    const limit = resource === 'graphql' ? 5000 : resource === 'code_search' ? 10 : resource === 'search' ? 30 : token ? this.rateLimit : 60;
    const windowKey = `${entry.token}|${resource}`;
    let window = this.windows.get(windowKey);
    const span = resource === 'search' || resource === 'code_search' ? 60 : 3600;
    if (!window || window.reset <= nowSeconds()) {
      window = { used: 0, reset: nowSeconds() + span };
      this.windows.set(windowKey, window);
    }
    // GET /rate_limit costs nothing, as on GitHub; neither does a 304 (refunded below).
    if (resource && !(api === 'rest' && path === '/rate_limit')) window.used++;
    const rate = { limit, used: window.used, remaining: Math.max(0, limit - window.used), reset: window.reset };

    if ((auth && !token) || (auth === null && req.headers.authorization)) {
      return send(error(401, 'Bad credentials', api === 'graphql' ? 'https://docs.github.com/graphql' : DOCS), resource, rate);
    }
    if (api === 'graphql' && !token) {
      return send(
        error(
          401,
          'This endpoint requires you to be authenticated.',
          'https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql',
        ),
        resource,
        rate,
      );
    }

    // Scripted faults: the newest matching one answers.
    const fault = this.faults.find(
      (f) =>
        (f.init.times === undefined || f.hits < f.init.times) &&
        (f.reset === undefined || f.reset > nowSeconds()) &&
        (!f.init.api || f.init.api === api) &&
        (!f.init.path || f.init.path.test(path)) &&
        (!f.init.repo || (entry.repo !== undefined && entry.repo.toLowerCase() === f.init.repo.toLowerCase())),
    );
    if (fault) {
      fault.hits++;
      entry.fault = fault.init.kind;
      const reply = this.faultReply(fault, api, entry, rate);
      if (fault.init.kind === 'primary-rate-limit')
        return send(reply, resource ?? 'core', { ...rate, remaining: 0, used: rate.limit, reset: fault.reset ?? rate.reset });
      return send(reply, resource, rate);
    }
    if (resource && rate.remaining === 0 && window.used > limit && path !== '/rate_limit') {
      return send(this.primaryLimitBody(api, entry), resource, rate);
    }

    if (api === 'graphql') {
      if (method !== 'POST') return send(notFound(), resource, rate);
      return send(this.graphql(gql, token), resource, rate);
    }
    const ctx: RequestContext = { method, path, params: {}, query: url.searchParams, base, token, body };
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const params = match(r.segments, segments);
      if (params) {
        const answer = await r.handler({ ...ctx, params });
        // Conditional requests, as GitHub answers them: a JSON answer carries a (weak) ETag of
        // its body; asked again with it in If-None-Match, an unchanged one is 304 with no body
        // and is not counted against the rate limit.
        if (method === 'GET' && answer.status === 200 && answer.body !== undefined && !Buffer.isBuffer(answer.body)) {
          const etag = `W/"${createHash('sha256').update(JSON.stringify(answer.body)).digest('hex').slice(0, 40)}"`;
          const asked = req.headers['if-none-match'];
          if (asked?.split(',').some((t) => t.trim() === etag || t.trim() === etag.slice(2))) {
            if (resource && path !== '/rate_limit') window.used--;
            const refunded = { limit, used: window.used, remaining: Math.max(0, limit - window.used), reset: window.reset };
            // No Link on a 304: HTTP's rules name the headers a 304 repeats (ETag, Date, Vary…), and a
            // client must not count on more; a client that caches pages has to find new ones itself.
            return send({ status: 304, headers: { etag } }, resource, refunded);
          }
          return send({ ...answer, headers: { ...answer.headers, etag } }, resource, rate);
        }
        return send(answer, resource, rate);
      }
    }
    return send(notFound(), resource, rate);
  }

  private primaryLimitBody(api: string, entry: LoggedRequest): Reply {
    const who = entry.token === 'anonymous' ? 'for 127.0.0.1' : `for user ID ${this.idOf(entry.token)}`;
    if (api === 'graphql') {
      // GitHub's GraphQL API answers an exhausted limit with 200 and an error (its docs say so).
      return json(200, { errors: [{ type: 'RATE_LIMITED', message: `API rate limit exceeded ${who}.` }] });
    }
    return error(
      403,
      `API rate limit exceeded ${who}. If you reach out to GitHub Support for help, please include the request ID ${randomBytes(4).toString('hex').toUpperCase()}.`,
      'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
    );
  }

  private faultReply(fault: { init: FaultInit; reset?: number }, api: string, entry: LoggedRequest, rate: { reset: number }): Reply {
    const f = fault.init;
    const custom = (r: Reply): Reply => (f.message && r.body && typeof r.body === 'object' ? { ...r, body: { ...(r.body as object), message: f.message } } : r);
    switch (f.kind) {
      case 'bad-credentials':
        return custom(error(401, 'Bad credentials', api === 'graphql' ? 'https://docs.github.com/graphql' : DOCS));
      case 'not-found':
        // Over GraphQL GitHub answers 200: the repository is null, with a NOT_FOUND error.
        if (api === 'graphql') {
          const message = f.message ?? `Could not resolve to a Repository with the name '${entry.repo ?? ''}'.`;
          return json(200, { data: { repository: null }, errors: [{ type: 'NOT_FOUND', path: ['repository'], message }] });
        }
        return custom(notFound());
      case 'server-error': {
        const status = f.status ?? 502;
        // GitHub's 5xx bodies vary (JSON or an HTML page); a JSON message with the status's
        // reason phrase makes go-github print `502 Bad Gateway`, as it does for a bare 502.
        const phrase = { 500: 'Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] ?? 'Server Error';
        return json(status, { message: f.message ?? phrase });
      }
      case 'primary-rate-limit': {
        fault.reset ??= nowSeconds() + (f.resetInSeconds ?? 60);
        void rate;
        return custom(this.primaryLimitBody(api, entry));
      }
      case 'secondary-rate-limit': {
        const retry = f.retryAfterSeconds === undefined ? 60 : f.retryAfterSeconds;
        const status = f.status ?? 403;
        return {
          ...error(
            status,
            f.message ??
              `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${randomBytes(4).toString('hex').toUpperCase()}.`,
            'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
          ),
          headers: retry === null ? {} : { 'retry-after': String(retry) },
        };
      }
    }
  }

  private idOf(identity: string): number {
    let h = 7;
    for (const c of identity) h = (h * 31 + c.charCodeAt(0)) % 100_000_000;
    return h;
  }

  // --- GraphQL ---

  private graphql(gql: { query: string; variables: Args } | undefined, token: TokenInit | undefined): Reply {
    if (!gql) return json(400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/graphql' });
    let selections: ReturnType<typeof parseQuery>;
    try {
      selections = parseQuery(gql.query, gql.variables);
    } catch (e) {
      if (e instanceof GraphQLSyntaxError) return json(200, { errors: [{ message: `Parse error: ${e.message}` }] });
      throw e;
    }
    const window = this.windows.get(`${token?.identity}|graphql`);
    const root = {
      repository: ({ owner, name }: Args) => {
        const repo = this.visibleRepo(String(owner), String(name), token);
        if (!repo) throw new FieldError(`Could not resolve to a Repository with the name '${owner}/${name}'.`, 'NOT_FOUND');
        return this.repoNode(repo);
      },
      rateLimit: {
        cost: 1,
        limit: 5000,
        nodeCount: 0,
        used: window?.used ?? 0,
        remaining: 5000 - (window?.used ?? 0),
        resetAt: new Date((window?.reset ?? nowSeconds() + 3600) * 1000).toISOString(),
      },
      viewer: { login: token?.identity ?? null },
    };
    const { data, errors } = execute(selections, root);
    return json(200, errors.length ? { data, errors } : { data });
  }

  private repoNode(repo: FakeRepo): Record<string, unknown> {
    const commitAt = (n: number): Record<string, unknown> | null => {
      const c = repo.commits[n];
      if (!c) return null;
      const author = this.users.get(c.author.toLowerCase());
      return {
        __typename: 'Commit',
        oid: c.sha,
        message: c.message,
        committedDate: c.date,
        author: { name: c.author, email: `${c.author}@users.noreply.example`, user: author ? { login: author.login } : null },
        committer: { name: c.author, email: `${c.author}@users.noreply.example`, user: author ? { login: author.login } : null },
        signature: { isValid: false, wasSignedByGitHub: false },
        associatedPullRequests: { nodes: [], totalCount: 0 },
        history: ({ first, after }: Args) => {
          const start = n + (typeof after === 'string' ? Number(after.split(' ')[1]) + 1 : 0);
          const nodes = repo.commits.slice(start, start + Number(first ?? 100)).map((_, i) => commitAt(start + i));
          const end = start + nodes.length - 1;
          return {
            nodes,
            totalCount: repo.commits.length - n,
            pageInfo: {
              startCursor: nodes.length ? `${c.sha} ${start}` : null,
              endCursor: nodes.length ? `${c.sha} ${end}` : null,
              hasNextPage: end + 1 < repo.commits.length,
              hasPreviousPage: start > n,
            },
          };
        },
      };
    };
    const branch = { __typename: 'Ref', name: repo.defaultBranch, prefix: 'refs/heads/', refUpdateRule: null, branchProtectionRule: null, target: commitAt(0) };
    return {
      __typename: 'Repository',
      name: repo.name,
      nameWithOwner: `${repo.owner}/${repo.name}`,
      owner: { login: repo.owner },
      isArchived: repo.archived,
      isPrivate: repo.private,
      createdAt: repo.createdAt,
      defaultBranchRef: branch,
      ref: ({ qualifiedName }: Args) => (qualifiedName === repo.defaultBranch || qualifiedName === `refs/heads/${repo.defaultBranch}` ? branch : null),
      rulesets: { nodes: [], totalCount: 0 },
      branchProtectionRules: { nodes: [], edges: [], totalCount: 0 },
      refs: { nodes: [branch], totalCount: 1 },
      object: ({ expression }: Args) => {
        const e = String(expression);
        if ([repo.defaultBranch, `heads/${repo.defaultBranch}`, `refs/heads/${repo.defaultBranch}`, 'HEAD'].includes(e)) return commitAt(0);
        const n = repo.commits.findIndex((c) => c.sha === e || (e.length >= 7 && c.sha.startsWith(e)));
        return n >= 0 ? commitAt(n) : null;
      },
      issues: { nodes: [], totalCount: 0 },
      pullRequests: { nodes: [], totalCount: 0 },
    };
  }

  // --- REST routes ---

  private addRoutes(): void {
    const repoOr404 = (ctx: RequestContext, fn: (repo: FakeRepo) => Reply): Reply => {
      const repo = this.visibleRepo(ctx.params.owner, ctx.params.repo, ctx.token);
      return repo ? fn(repo) : notFound();
    };
    const userByLogin = (login: string) => this.users.get(login.toLowerCase()) ?? this.orgs.get(login.toLowerCase());
    const emptySearch = () => json(200, { total_count: 0, incomplete_results: false, items: [] });

    this.route('GET', '/rate_limit', (ctx) => {
      const of = (resource: string, limit: number) => {
        const w = this.windows.get(`${ctx.token?.identity ?? 'anonymous'}|${resource}`);
        const used = w?.used ?? 0;
        return { limit, used, remaining: Math.max(0, limit - used), reset: w?.reset ?? nowSeconds() + 3600 };
      };
      const core = of('core', ctx.token ? this.rateLimit : 60);
      return json(200, { resources: { core, graphql: of('graphql', 5000), search: of('search', 30), code_search: of('code_search', 10) }, rate: core });
    });
    this.route('GET', '/orgs/:org', (ctx) => {
      const org = this.orgs.get(ctx.params.org.toLowerCase());
      return org ? json(200, { ...this.userJson(ctx.base, org), repos_url: `${ctx.base}/orgs/${org.login}/repos` }) : notFound();
    });
    // An organisation's repositories the caller can see, paginated as GitHub does (Link header).
    this.route('GET', '/orgs/:org/repos', (ctx) => {
      const org = this.orgs.get(ctx.params.org.toLowerCase());
      if (!org) return notFound();
      const type = ctx.query.get('type') ?? 'all';
      const repos = [...this.repos.values()]
        .filter((r) => r.owner.toLowerCase() === org.login.toLowerCase() && this.visibleRepo(r.owner, r.name, ctx.token))
        .filter((r) => (type === 'public' ? !r.private : type === 'private' ? r.private : true))
        .sort((a, b) => a.id - b.id)
        .map((r) => this.repoJson(ctx.base, r));
      return this.paginate(ctx, repos);
    });
    this.route('GET', '/users/:user', (ctx) => {
      const u = userByLogin(ctx.params.user);
      return u ? json(200, { ...this.userJson(ctx.base, u), company: u.company }) : notFound();
    });
    this.route('GET', '/users/:user/orgs', (ctx) => (userByLogin(ctx.params.user) ? json(200, []) : notFound()));

    this.route('GET', '/repos/:owner/:repo', (ctx) => repoOr404(ctx, (r) => json(200, this.repoJson(ctx.base, r))));
    // GitHub redirects a tarball to codeload; the fake serves it under /_codeload on its own host.
    this.route('GET', '/repos/:owner/:repo/tarball/*ref', (ctx) =>
      repoOr404(ctx, (r) => ({
        status: 302,
        headers: { location: `${this.url}/_codeload/${r.owner}/${r.name}/legacy.tar.gz/${ctx.params.ref || `refs/heads/${r.defaultBranch}`}` },
      })),
    );
    this.route('GET', '/_codeload/:owner/:repo/legacy.tar.gz/*ref', (ctx) =>
      repoOr404(ctx, (r) => {
        const head = r.commits[0]?.sha ?? '0000000';
        return { status: 200, body: tarball(`${r.owner}-${r.name}-${head.slice(0, 7)}`, r.files), headers: { 'content-type': 'application/x-gzip' } };
      }),
    );
    this.route('GET', '/repos/:owner/:repo/contributors', (ctx) =>
      repoOr404(ctx, (r) => {
        const counts = new Map<string, number>();
        for (const c of r.commits) counts.set(c.author, (counts.get(c.author) ?? 0) + 1);
        const list = [...counts]
          .sort((a, b) => b[1] - a[1])
          .map(([login, contributions]) => {
            const u = userByLogin(login);
            return { ...(u ? this.userJson(ctx.base, u) : { login }), contributions };
          });
        return this.paginate(ctx, list);
      }),
    );
    this.route('GET', '/repos/:owner/:repo/languages', (ctx) => repoOr404(ctx, (r) => json(200, r.languages)));
    this.route('GET', '/repos/:owner/:repo/license', (ctx) =>
      repoOr404(ctx, (r) => {
        const path = Object.keys(r.files).find((f) => /^(LICEN[CS]E|COPYING)(\.(md|txt))?$/i.test(f));
        if (!path) return notFound();
        const text = r.files[path];
        const apache = /Apache License/i.test(text);
        const mit = /\bMIT License\b/i.test(text);
        const license = apache
          ? { key: 'apache-2.0', name: 'Apache License 2.0', spdx_id: 'Apache-2.0' }
          : mit
            ? { key: 'mit', name: 'MIT License', spdx_id: 'MIT' }
            : { key: 'other', name: 'Other', spdx_id: 'NOASSERTION' };
        return json(200, {
          name: path.split('/').pop(),
          path,
          size: Buffer.byteLength(text),
          type: 'file',
          encoding: 'base64',
          content: Buffer.from(text).toString('base64'),
          license: { ...license, url: license.key === 'other' ? null : `${ctx.base}/licenses/${license.key}`, node_id: 'MDc6TGljZW5zZTA=' },
        });
      }),
    );
    this.route('GET', '/repos/:owner/:repo/releases', (ctx) => repoOr404(ctx, () => this.paginate(ctx, [])));
    this.route('GET', '/repos/:owner/:repo/hooks', (ctx) => repoOr404(ctx, () => this.paginate(ctx, [])));
    this.route('GET', '/repos/:owner/:repo/commits/:ref/check-runs', (ctx) => repoOr404(ctx, () => json(200, { total_count: 0, check_runs: [] })));
    this.route('GET', '/repos/:owner/:repo/commits/:ref/statuses', (ctx) => repoOr404(ctx, () => this.paginate(ctx, [])));
    this.route('GET', '/repos/:owner/:repo/actions/workflows/:file/runs', (ctx) =>
      repoOr404(ctx, (r) => (Object.hasOwn(r.files, `.github/workflows/${ctx.params.file}`) ? json(200, { total_count: 0, workflow_runs: [] }) : notFound())),
    );
    this.addIssueRoutes(repoOr404);
    this.route('GET', '/search/code', () => emptySearch());
    this.route('GET', '/search/commits', () => emptySearch());
    this.route('GET', '/search/issues', () => emptySearch());
  }

  // Issues: list (state, labels; paginated), create, update state, comments (list, create).
  // Writes need a token, as GitHub's do; pull requests are not modelled.
  private addIssueRoutes(repoOr404: (ctx: RequestContext, fn: (repo: FakeRepo) => Reply) => Reply): void {
    const issueJson = (ctx: RequestContext, r: FakeRepo, i: FakeIssue) => ({
      id: r.id * 100000 + i.number,
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      state_reason: i.stateReason,
      labels: i.labels.map((name) => ({ name })),
      user: { login: i.author },
      comments: i.comments.length,
      created_at: i.createdAt,
      url: `${ctx.base}/repos/${r.owner}/${r.name}/issues/${i.number}`,
      html_url: `${this.url}/${r.owner}/${r.name}/issues/${i.number}`,
    });
    const commentJson = (r: FakeRepo, i: FakeIssue, c: FakeComment) => ({
      id: c.id,
      body: c.body,
      user: { login: c.author },
      created_at: c.createdAt,
      html_url: `${this.url}/${r.owner}/${r.name}/issues/${i.number}#issuecomment-${c.id}`,
    });
    const parse = (ctx: RequestContext): Record<string, unknown> | undefined => {
      try {
        const v = JSON.parse(ctx.body.toString('utf8') || 'null');
        return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
      } catch {
        return undefined;
      }
    };
    const needsToken = (ctx: RequestContext): Reply | undefined => (ctx.token ? undefined : error(401, 'Requires authentication'));
    const listOf = (r: FakeRepo) => {
      const k = key(r.owner, r.name);
      const list = this.issues.get(k) ?? [];
      this.issues.set(k, list);
      return list;
    };
    const issueOr404 = (ctx: RequestContext, fn: (r: FakeRepo, i: FakeIssue) => Reply): Reply =>
      repoOr404(ctx, (r) => {
        const i = listOf(r).find((x) => String(x.number) === ctx.params.number);
        return i ? fn(r, i) : notFound();
      });
    this.route('GET', '/repos/:owner/:repo/issues', (ctx) =>
      repoOr404(ctx, (r) => {
        const state = ctx.query.get('state') ?? 'open';
        const labels = (ctx.query.get('labels') ?? '').split(',').filter(Boolean);
        const items = listOf(r)
          .filter((i) => state === 'all' || i.state === state)
          .filter((i) => labels.every((l) => i.labels.some((x) => x.toLowerCase() === l.toLowerCase())))
          .slice()
          .reverse() // newest first, as GitHub's default sort
          .map((i) => issueJson(ctx, r, i));
        return this.paginate(ctx, items);
      }),
    );
    this.route('POST', '/repos/:owner/:repo/issues', (ctx) =>
      repoOr404(ctx, (r) => {
        const denied = needsToken(ctx);
        if (denied) return denied;
        const b = parse(ctx);
        if (!b || typeof b.title !== 'string' || b.title === '') return error(422, 'Validation Failed');
        const list = listOf(r);
        const issue: FakeIssue = {
          number: list.length + 1,
          title: b.title,
          body: typeof b.body === 'string' ? b.body : '',
          labels: Array.isArray(b.labels) ? b.labels.map(String) : [],
          state: 'open',
          stateReason: null,
          author: ctx.token!.identity,
          comments: [],
          createdAt: new Date().toISOString(),
        };
        list.push(issue);
        return json(201, issueJson(ctx, r, issue));
      }),
    );
    this.route('PATCH', '/repos/:owner/:repo/issues/:number', (ctx) =>
      issueOr404(ctx, (r, i) => {
        const denied = needsToken(ctx);
        if (denied) return denied;
        const b = parse(ctx);
        if (!b) return error(400, 'Problems parsing JSON');
        if (b.state !== undefined) {
          if (b.state !== 'open' && b.state !== 'closed') return error(422, 'Validation Failed');
          i.state = b.state;
          i.stateReason = b.state === 'closed' ? String(b.state_reason ?? 'completed') : null;
        }
        if (typeof b.title === 'string') i.title = b.title;
        if (typeof b.body === 'string') i.body = b.body;
        return json(200, issueJson(ctx, r, i));
      }),
    );
    this.route('GET', '/repos/:owner/:repo/issues/:number/comments', (ctx) =>
      issueOr404(ctx, (r, i) =>
        this.paginate(
          ctx,
          i.comments.map((c) => commentJson(r, i, c)),
        ),
      ),
    );
    this.route('POST', '/repos/:owner/:repo/issues/:number/comments', (ctx) =>
      issueOr404(ctx, (r, i) => {
        const denied = needsToken(ctx);
        if (denied) return denied;
        const b = parse(ctx);
        if (!b || typeof b.body !== 'string' || b.body === '') return error(422, 'Validation Failed');
        const c: FakeComment = { id: this.nextId++, body: b.body, author: ctx.token!.identity, createdAt: new Date().toISOString() };
        i.comments.push(c);
        return json(201, commentJson(r, i, c));
      }),
    );
  }
}

/** Route segments against path segments: the parameters, or undefined. */
function match(template: string[], path: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i];
    if (t.startsWith('*')) {
      params[t.slice(1)] = path.slice(i).join('/');
      return params;
    }
    if (i >= path.length) return undefined;
    if (t.startsWith(':')) params[t.slice(1)] = path[i];
    else if (t !== path[i]) return undefined;
  }
  return template.length === path.length ? params : undefined;
}

/** `rateLimit,repository{defaultBranchRef,rulesets}`: what a query asks, for the request log. */
function summarize(query: string): string {
  try {
    const sels = parseQuery(query);
    const names = (s: typeof sels): string[] => s.flatMap((x) => (x.kind === 'fragment' ? names(x.selections) : [x.name]));
    return sels
      .flatMap((s) => (s.kind === 'field' ? [s.name === 'repository' && s.selections ? `repository{${names(s.selections).join(',')}}` : s.name] : []))
      .join(',');
  } catch {
    return '(unparsable)';
  }
}
