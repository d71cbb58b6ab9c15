// `posture policy check` and `posture policy lint`: the same parse and evaluation the gate, the
// API and the events use, offline on a result file or on a repository's newest stored result.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { findResult, storedChecks } from '../api/queries.ts';
import { rawHasChecks } from '../api/render.ts';
import { loadConfig } from '../config/index.ts';
import { type Evaluation, evaluate, MAX_POLICY_FILE_BYTES, type Policy, type PolicyInput, type PolicySet, parsePolicies, policyFor } from '../policy/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { validateResult } from '../scorecard/schema.ts';
import { openDbContext } from './context.ts';
import { readTextFile } from './files.ts';
import { type CliIO, type Command, EXIT, InputError, UsageError } from './types.ts';

/** Reads and parses a policy file; an invalid one is exit 2 with one line. */
function readPolicies(file: string, io: CliIO): PolicySet {
  const parsed = parsePolicies(readTextFile(file, io, MAX_POLICY_FILE_BYTES));
  if (!parsed.ok) throw new InputError(`invalid policy file ${JSON.stringify(file)}: ${parsed.error}`, EXIT.rejected);
  return parsed.set;
}

const VERDICT_EXIT = { pass: EXIT.ok, fail: EXIT.denied, unknown: EXIT.unknown } as const;

/** A result file rather than a repository name: `-`, a name ending in .json, or an existing file. */
function isResultFile(arg: string, io: CliIO): boolean {
  if (arg === '-' || arg.endsWith('.json')) return true;
  const path = resolve(io.cwd ?? process.cwd(), arg);
  return existsSync(path) && statSync(path).isFile();
}

async function readStdin(io: CliIO): Promise<string> {
  let text = '';
  for await (const chunk of io.stdin) text += String(chunk);
  return text;
}

function renderText(repo: string, e: Evaluation): string {
  const score = e.score === null ? 'inconclusive' : `${e.score} / 10`;
  let out = `${repo}: ${e.verdict} under policy ${e.policy} (policy score ${score})\n`;
  for (const r of e.reasons) out += `  ${r.verdict.padEnd(7)} ${r.rule.padEnd(28)} ${r.message}\n`;
  return out;
}

export const commands: Command[] = [
  {
    words: ['policy', 'check'],
    usage: 'policy check [--policy FILE] [--name NAME] <result.json|repo> [options]',
    summary: "judge a Scorecard result (a file, or a repository's newest stored result) against a policy",
    description:
      "The policy is the first document of the file whose repositories match the result's repository, or the one --name names. The file is --policy, else POSTURE_POLICY_FILE. " +
      'Exit 0 pass; 4 fail; 5 unknown; 1 usage or an unreadable file; 2 an invalid policy or result, or no policy applies; 3 database unreachable.',
    database: true,
    options: {
      policy: { type: 'string', value: 'FILE', help: 'the policy file (default: POSTURE_POLICY_FILE)' },
      name: { type: 'string', value: 'NAME', help: 'the policy to apply, whatever its repositories say' },
      output: { type: 'string', short: 'o', value: 'FORMAT', help: 'text (default) or json ({repo, policy, verdict, score, reasons})' },
    },
    async run(args, io, parsed) {
      if (args.length !== 1) throw new UsageError('name exactly one result file (or - for standard input) or repository');
      const format = (parsed.values.output as string | undefined) ?? 'text';
      if (format !== 'text' && format !== 'json') throw new UsageError(`-o must be text or json, got ${JSON.stringify(format)}`);
      const file = (parsed.values.policy as string | undefined) ?? loadConfig(io.env).policyFile;
      if (!file) throw new UsageError('no policy: give --policy FILE or set POSTURE_POLICY_FILE');
      const set = readPolicies(file, io);
      const [target] = args;

      let repo: string;
      let input: PolicyInput | undefined;
      if (isResultFile(target, io)) {
        const text = target === '-' ? await readStdin(io) : readTextFile(target, io);
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          io.stderr.write(`posture: ${target === '-' ? 'standard input' : JSON.stringify(target)} is not JSON: ${(err as Error).message}\n`);
          return EXIT.rejected;
        }
        const v = validateResult(value);
        if (!v.ok) {
          io.stderr.write(`posture: ${target === '-' ? 'standard input' : JSON.stringify(target)} is not a Scorecard result: ${v.error}\n`);
          return EXIT.rejected;
        }
        repo = v.value.repo.name;
        input = v.value;
      } else {
        const ctx = await openDbContext(io);
        try {
          const p = parseRepo(target, ctx.config.allowedHosts);
          if (!p.ok) {
            io.stderr.write(`posture: ${JSON.stringify(target)} is neither a result file nor a repository: ${p.reason}\n`);
            return EXIT.rejected;
          }
          repo = p.repo.canonical;
          const found = await findResult(ctx.db, p.repo.key);
          if (found.status === 'unknown-repo') {
            io.stderr.write(`posture: ${p.repo.canonical} is not known to posture (add it with: posture repos add ${p.repo.canonical})\n`);
            return EXIT.rejected;
          }
          if (found.status === 'ok') {
            const raw = found.value.raw as { checks?: PolicyInput['checks'] };
            const checks = rawHasChecks(raw) && raw.checks ? raw.checks : await storedChecks(ctx.db, found.value.scoreId);
            input = { date: found.value.resultDate, checks };
          }
        } finally {
          await ctx.close();
        }
      }

      const name = parsed.values.name as string | undefined;
      let policy: Policy | undefined;
      if (name !== undefined) {
        policy = set.policies.find((p) => p.name === name);
        if (!policy) {
          io.stderr.write(
            `posture: ${JSON.stringify(file)} has no policy named ${JSON.stringify(name)} (it has ${set.policies.map((p) => p.name).join(', ') || 'none'})\n`,
          );
          return EXIT.rejected;
        }
      } else {
        policy = policyFor(repo, set.policies);
        if (!policy) {
          io.stderr.write(`posture: no policy in ${JSON.stringify(file)} applies to ${repo} (name one with --name)\n`);
          return EXIT.rejected;
        }
      }
      const e = evaluate(input, policy, Date.now());
      io.stdout.write(format === 'json' ? `${JSON.stringify({ repo, ...e }, null, 2)}\n` : renderText(repo, e));
      return VERDICT_EXIT[e.verdict];
    },
  },
  {
    words: ['policy', 'lint'],
    usage: 'policy lint <file>',
    summary: 'check a policy file (schema, check names, durations); print its policies',
    description: 'Exit 0 valid; 1 unreadable; 2 invalid (one line saying which document and field).',
    options: {},
    async run(args, io) {
      if (args.length !== 1) throw new UsageError('name exactly one policy file');
      const set = readPolicies(args[0], io);
      for (const p of set.policies) {
        const rules = [
          ...(p.minimumScore !== undefined ? [`score >= ${p.minimumScore}`] : []),
          ...p.checks.map((c) => `${c.check} >= ${c.minimum}`),
          ...(p.maxAge ? [`newer than ${p.maxAge}`] : []),
        ];
        io.stdout.write(`${p.name}: ${p.repositories.length ? p.repositories.join(', ') : 'every repository'}; ${rules.join(', ') || 'no rule'}\n`);
      }
      io.stdout.write(`${args[0]}: ${set.policies.length} ${set.policies.length === 1 ? 'policy' : 'policies'}, valid\n`);
      return EXIT.ok;
    },
  },
];
