// Parts of the fault-injection run (faults.test.ts): what each repository's Job does (encoded
// in its name, so the scheduler process scripts its pod without sharing state), a seeded
// random source, and the HTTPS proxy between posture and kube-apiserver that injects faults.

import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Expectation } from './faults-checker.ts';

/** Repository i of the run: seven in ten succeed, two fail for their own reasons, one for the infrastructure's. */
export function faultRepoName(i: number): string {
  const k = i % 10;
  const kind = k === 8 ? 'infra' : k === 7 ? 'fail' : k === 9 ? 'garbage' : 'success';
  return `faults-e2e/r${i}-${kind}`;
}

export function expectationOf(repo: string): Expectation {
  if (repo.endsWith('-infra')) return 'infrastructure';
  if (repo.endsWith('-fail') || repo.endsWith('-garbage')) return 'repository-failure';
  return 'success';
}

const STDERR = '2026/11/26 10:00:00 Starting [Binary-Artifacts]\n{"level":"info","ts":1,"msg":"fetching tarball"}\n';

/** The pod script of a Job: its log, exit code and run time. */
export interface PodScriptOf {
  content: string;
  exitCode: number;
  runForMs: number;
}

const indexOf = (canonical: string) => Number(/\/r(\d+)-/.exec(canonical)?.[1] ?? 0);
/** How long Scorecard takes on one repository. */
const repoTimeMs = (canonical: string) => 300 + ((indexOf(canonical) * 7919) % 2200);
const ownerAndName = (canonical: string) => canonical.split('/').slice(1).join('/');

function resultDoc(canonical: string, version: string, internalError: boolean) {
  const n = indexOf(canonical);
  const check = (name: string, short: string, score: number, reason: string) => ({
    name,
    score,
    reason,
    details: null,
    documentation: { short, url: `https://github.com/ossf/scorecard/blob/main/docs/checks.md#${name.toLowerCase()}` },
  });
  return {
    date: '2026-11-26T00:00:00Z',
    repo: { name: canonical, commit: 'a'.repeat(40) },
    scorecard: { version, commit: 'b'.repeat(40) },
    score: (n % 100) / 10,
    checks: [
      check('Binary-Artifacts', 'Determines if the project has binary artifacts.', n % 11, 'scripted'),
      ...(internalError
        ? [
            check(
              'Fuzzing',
              'Determines if the project uses fuzzing.',
              -1,
              'internal error: Client.Search.Code: http.Get: dial tcp: connect: connection refused',
            ),
          ]
        : []),
    ],
    metadata: null,
  };
}

/** The pod script of a one-repository Job for `canonical` (github.com/owner/name), as Scorecard v5.3.0 `--repo` prints it. */
export function podScriptFor(canonical: string): PodScriptOf {
  const runForMs = repoTimeMs(canonical);
  switch (expectationOf(canonical)) {
    case 'infrastructure':
      // Scorecard v5.3.0 with no route to GitHub (the real output's shape).
      return {
        content: `${STDERR}Error: scorecard.Run: repo unreachable: Get "https://api.github.com/repos/${ownerAndName(canonical)}": dial tcp: lookup api.github.com on 10.96.0.10:53: no such host\n`,
        exitCode: 1,
        runForMs,
      };
    case 'repository-failure':
      return canonical.endsWith('-garbage')
        ? { content: `${STDERR}{"date": "2026-11-26", "repo": {"name": "${canonical}"}, "score": "high"}\n\u0000\u001b[31mgarbage\n`, exitCode: 0, runForMs }
        : { content: `${STDERR}panic: runtime error: invalid memory address or nil pointer dereference\n`, exitCode: 2, runForMs };
    default:
      return { content: `${STDERR}${JSON.stringify(resultDoc(canonical, 'v5.3.0', false))}\n`, exitCode: 0, runForMs };
  }
}

/** A shard's run time is the sum of its repositories', bounded so that a run of many shards still fits the test's time. */
export const SHARD_RUN_LIMIT_MS = 4000;

/**
 * The pod script of a Job for `canonicals` in scan order: one repository is podScriptFor's
 * `--repo` Job; several are a shard, printed as Scorecard v5.4+ `--repos` does (the shape of
 * test/fixtures/scorecard/real-v5.5.0-fake-github-shard-*.pod-log.txt): per repository, in
 * order, its result line (then a `Check <name> failed for <repo>: …` line when a check hit a
 * runtime error), or `Skipping <repo>: …` when GitHub was out of reach, and Scorecard goes on;
 * a garbage result line for the repository (invalid, Scorecard goes on); or a panic, which ends
 * the pod (exit 2): the repositories after it are never reached. A shard that went through its
 * list exits 1 after `Error: one or more checks failed during execution` when a check failed,
 * else 0.
 */
export function shardScriptFor(canonicals: readonly string[]): PodScriptOf {
  if (canonicals.length === 1) return podScriptFor(canonicals[0]);
  const out: string[] = [];
  let runForMs = 0;
  let checksFailed = false;
  let exitCode: number | undefined;
  for (const canonical of canonicals) {
    runForMs += repoTimeMs(canonical);
    out.push('2026/11/26 10:00:00 Starting [Binary-Artifacts]', '{"level":"info","ts":1,"msg":"fetching tarball"}');
    const expect = expectationOf(canonical);
    if (expect === 'infrastructure') {
      out.push(
        `Skipping ${canonical}: run: repo unreachable: Get "https://api.github.com/repos/${ownerAndName(canonical)}": dial tcp: lookup api.github.com on 10.96.0.10:53: no such host`,
      );
    } else if (expect === 'repository-failure' && canonical.endsWith('-garbage')) {
      out.push(`{"date": "2026-11-26", "repo": {"name": "${canonical}"}, "score": "high"}`);
    } else if (expect === 'repository-failure') {
      out.push('panic: runtime error: invalid memory address or nil pointer dereference', '', 'goroutine 1 [running]:');
      exitCode = 2;
      break;
    } else {
      const internalError = indexOf(canonical) % 4 === 0;
      out.push(JSON.stringify(resultDoc(canonical, 'v5.5.0', internalError)));
      if (internalError) {
        checksFailed = true;
        out.push(`Check Fuzzing failed for ${canonical}: internal error: Client.Search.Code: http.Get: dial tcp: connect: connection refused`);
      }
    }
  }
  if (exitCode === undefined) {
    exitCode = checksFailed ? 1 : 0;
    if (checksFailed)
      out.push(
        'Error: one or more checks failed during execution',
        '2026/11/26 10:00:00 error during command execution: one or more checks failed during execution',
      );
  }
  return { content: `${out.join('\n')}\n`, exitCode, runForMs: Math.min(runForMs, SHARD_RUN_LIMIT_MS) };
}

export type FaultKind = '429 Retry-After' | '500' | '503' | 'connection reset' | 'slower than the client (answer lost)' | 'watch disconnect';

export interface FaultProxy {
  url: string;
  caBundle: string;
  /** Faults injected so far, by kind; and requests forwarded. */
  counts: Record<FaultKind | 'forwarded', number>;
  setEnabled(on: boolean): void;
  close(): Promise<void>;
}

/**
 * An HTTPS server that forwards every request to kube-apiserver with the admin credentials,
 * injecting faults at random: 429 with Retry-After, 500, 503, a reset before forwarding, a
 * response held past the client's patience and then cut after the request took effect (the
 * ambiguous create), and watches cut mid-stream.
 */
export async function startFaultProxy(
  cp: {
    kc: KubeConfig;
    server: string;
    startHttpsServer(h: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; caBundle: string; close(): Promise<void> | void }>;
  },
  random: () => number,
  rates = { tooMany: 0.03, e500: 0.02, e503: 0.02, reset: 0.02, slow: 0.015, watchCut: 0.6 },
): Promise<FaultProxy> {
  const upstream = new URL(cp.server);
  const tls: https.RequestOptions = {};
  await cp.kc.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: tls.ca, cert: tls.cert, key: tls.key });
  const counts = {
    '429 Retry-After': 0,
    '500': 0,
    '503': 0,
    'connection reset': 0,
    'slower than the client (answer lost)': 0,
    'watch disconnect': 0,
    forwarded: 0,
  } as FaultProxy['counts'];
  let enabled = true;
  const status = (res: ServerResponse, code: number, extra: Record<string, string> = {}) => {
    res.writeHead(code, { 'content-type': 'application/json', ...extra }).end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code,
        reason: code === 429 ? 'TooManyRequests' : 'InternalError',
        message: `injected ${code}`,
      }),
    );
  };
  const forward = (req: IncomingMessage, res: ServerResponse, after?: (up: IncomingMessage) => void) => {
    counts.forwarded++;
    const headers = { ...req.headers, host: upstream.host };
    delete headers.authorization;
    const up = https.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent }, (ur) => {
      if (after) return after(ur);
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
      res.on('close', () => ur.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = await cp.startHttpsServer((req, res) => {
    const watch = /[?&]watch=(true|1)/.test(req.url ?? '');
    if (!enabled) return forward(req, res);
    const r = random();
    if (watch) {
      forward(req, res);
      if (r < rates.watchCut) {
        const t = setTimeout(
          () => {
            counts['watch disconnect']++;
            res.destroy();
          },
          1000 + random() * 9000,
        );
        res.on('close', () => clearTimeout(t));
      }
      return;
    }
    // The faults take consecutive shares of [0, 1), each as wide as its rate; p is where the current one ends.
    let p = rates.tooMany;
    if (r < p) {
      counts['429 Retry-After']++;
      status(res, 429, { 'retry-after': '1' });
      return;
    }
    p += rates.e500;
    if (r < p) {
      counts['500']++;
      status(res, 500);
      return;
    }
    p += rates.e503;
    if (r < p) {
      counts['503']++;
      status(res, 503);
      return;
    }
    p += rates.reset;
    if (r < p) {
      counts['connection reset']++;
      req.socket.destroy();
      return;
    }
    p += rates.slow;
    if (r < p) {
      // The request takes effect upstream; the answer is held for 3 s and then cut.
      counts['slower than the client (answer lost)']++;
      return forward(req, res, (ur) => {
        ur.resume();
        setTimeout(() => res.destroy(), 3000);
      });
    }
    forward(req, res);
  });
  return {
    url: server.url,
    caBundle: server.caBundle,
    counts,
    setEnabled: (on) => {
      enabled = on;
    },
    close: async () => {
      await server.close();
      agent.destroy();
    },
  };
}
