// `posture admission review <webhook> [file|-]`: reads an AdmissionReview and prints the response
// exactly as the admission server would send it (like `kyverno test` or `kwctl run`), so a policy
// can be tried without a cluster. Scores for the gate come from --scores (a JSON or YAML list).
import { text } from 'node:stream/consumers';
import { parse as parseYaml } from 'yaml';
import { Dispatcher } from '../admission/dispatcher.ts';
import { loadRegistry } from '../admission/registry.ts';
import { ScoreCache, type ScoreRow, StaticScoreFeed } from '../admission/scores.ts';
import { loadConfig } from '../config/index.ts';
import { MAX_POLICY_FILE_BYTES, type PolicySet, parsePolicies } from '../policy/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { readTextFile } from './files.ts';
import { type Command, EXIT, InputError, UsageError } from './types.ts';
import { parseFlags } from './webhooks.ts';

/** Reads `[{repo, score, date?, checks?: [{name, score, reason?}]}]` (JSON or YAML) into score rows. */
export function parseScores(source: string, allowedHosts: readonly string[], name = 'scores'): ScoreRow[] {
  let list: unknown;
  try {
    list = parseYaml(source);
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  if (!Array.isArray(list)) throw new UsageError(`${name}: expected a list of {repo, score, date}`);
  return list.map((item, i) => {
    const it = item as { repo?: unknown; score?: unknown; date?: unknown };
    const parsed = typeof it?.repo === 'string' ? parseRepo(it.repo, allowedHosts) : { ok: false as const, reason: 'repo is missing' };
    if (!parsed.ok) throw new UsageError(`${name}[${i}]: ${parsed.reason}`);
    if (typeof it.score !== 'number' || it.score < 0 || it.score > 10) throw new UsageError(`${name}[${i}]: score must be a number from 0 to 10`);
    const row: ScoreRow = {
      repoKey: parsed.repo.key,
      repo: parsed.repo.canonical,
      score: it.score,
      date: typeof it.date === 'string' ? it.date : '',
      updatedAt: new Date(0),
    };
    const checks = (item as { checks?: unknown }).checks;
    if (checks !== undefined) {
      if (!Array.isArray(checks)) throw new UsageError(`${name}[${i}]: checks must be a list of {name, score, reason}`);
      row.checks = checks.map((c, j) => {
        const x = c as { name?: unknown; score?: unknown; reason?: unknown };
        if (typeof x?.name !== 'string' || typeof x.score !== 'number' || x.score < -1 || x.score > 10)
          throw new UsageError(`${name}[${i}].checks[${j}]: expected {name, score from -1 to 10, reason}`);
        return { name: x.name, score: x.score, internalError: typeof x.reason === 'string' && x.reason.startsWith('internal error:') };
      });
    }
    return row;
  });
}

export const commands: Command[] = [
  {
    words: ['admission', 'review'],
    usage: 'admission review <webhook> [file|-] [--scores FILE] [--policy FILE] [--namespace-label VALUE] [--exit-code]',
    summary: 'print the AdmissionReview response the admission server would send for a review',
    description:
      'Reads JSON or YAML (standard input when no file or -). --scores gives the gate its scores, a list of {repo, score, date, checks}; ' +
      '--policy the Scorecard policies scorecard-policy judges by (default POSTURE_POLICY_FILE); ' +
      "--namespace-label the value of the webhook's namespace label (posture.dev/min-score, or posture.dev/policy: a policy name). " +
      'Exit 0; 1 usage or a file that cannot be read; 2 not a review (the server would answer 400); 4 denied, with --exit-code.',
    async run(args, io) {
      const { flags, words } = parseFlags(args, { scores: 'value', policy: 'value', 'namespace-label': 'value', 'exit-code': 'switch' });
      const [name, file = '-', ...rest] = words;
      if (!name) throw new UsageError('name the webhook (posture webhooks list)');
      if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
      let config = loadConfig(io.env);
      const policyFile = (flags.get('policy') as string | undefined) ?? config.policyFile;
      let policies: PolicySet | undefined;
      if (policyFile) {
        const parsed = parsePolicies(readTextFile(policyFile, io, MAX_POLICY_FILE_BYTES));
        if (!parsed.ok) throw new InputError(`invalid policy file ${JSON.stringify(policyFile)}: ${parsed.error}`, EXIT.rejected);
        policies = parsed.set;
        // Offline, every policy of the file is a tier unless the configuration names them.
        if (config.gatePolicyTiers.length === 0) config = { ...config, gatePolicyTiers: policies.policies.map((p) => p.name) };
      }
      const scoresFile = flags.get('scores') as string | undefined;
      let rows: ScoreRow[] = [];
      if (scoresFile) rows = parseScores(readTextFile(scoresFile, io), config.allowedHosts, scoresFile);
      const scores = new ScoreCache({
        feed: new StaticScoreFeed(rows),
        expectedEntries: rows.length,
        refreshMs: 60_000,
        staleAfterMs: Number.MAX_SAFE_INTEGER,
        ...(policies ? { policies } : {}),
      });
      await scores.refresh();
      const registry = await loadRegistry(io.webhooksDir, config);
      const webhook = registry.byName(name);
      if (!webhook) throw new UsageError(`no webhook named ${JSON.stringify(name)} (known: ${registry.webhooks.map((w) => w.name).join(', ')})`);
      const label = flags.get('namespace-label') as string | undefined;
      const entry =
        label === undefined
          ? webhook.entries[0]
          : (webhook.entries.find((e) => e.tier?.state === 'value' && e.tier.value === label) ?? webhook.entries.find((e) => e.tier?.state === 'invalid'));
      if (!entry) throw new UsageError(`webhook ${name} does not read a namespace label`);
      const body = file === '-' ? await text(io.stdin) : readTextFile(file, io);
      // A YAML review is accepted for convenience; the server itself only takes JSON.
      // JSON goes to the dispatcher as the text it is (what the server reads); only YAML is
      // turned into JSON here. Either may nest deeper than a parser's or serialiser's stack allows.
      const source = file === '-' ? 'stdin' : file;
      let json: string;
      try {
        JSON.parse(body);
        json = body;
      } catch {
        try {
          json = JSON.stringify(parseYaml(body));
        } catch (err) {
          io.stderr.write(
            err instanceof RangeError
              ? `posture: ${source} nests too deeply to read as YAML (the API server decodes at most 10,000 levels; send such a review as JSON)\n`
              : `posture: ${source} is neither JSON nor YAML: ${(err as Error).message}\n`,
          );
          return EXIT.rejected;
        }
      }
      const dispatcher = new Dispatcher({ registry, services: { scores } });
      const r = dispatcher.dispatch({ method: 'POST', path: entry.path, contentType: 'application/json', body: json });
      if (r.statusCode !== 200) {
        io.stderr.write(`posture: the server would answer HTTP ${r.statusCode}: ${r.body}`);
        return EXIT.rejected;
      }
      io.stdout.write(`${r.body}\n`);
      if (flags.has('exit-code') && (JSON.parse(r.body) as { response?: { allowed?: boolean } }).response?.allowed === false) return EXIT.denied;
      return EXIT.ok;
    },
  },
];
