// `posture results parse [file|-] [--repos a,b,c]`: what the harvester would make of a Scorecard
// pod log. It runs the harvester's own reading and classification (readCapped under the
// configured byte cap, then classify; a shard's log split per repository) with no pod facts,
// i.e. as if the container had exited 0.
import { createReadStream } from 'node:fs';
import { loadConfig } from '../config/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { type Classification, classifyPodLog, NO_POD_FACTS, type PodLogVerdict } from '../scorecard/index.ts';
import { readCapped } from '../scorecard/read.ts';
import { classifyShard, type ShardOutcome } from '../scorecard/shard.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const commands: Command[] = [
  {
    words: ['results', 'parse'],
    usage: 'results parse [file|-] [--repos a,b,c]',
    summary:
      "classify a Scorecard pod log as the harvester would; print one JSON object (exit 2 when there is no valid result); --repos: a shard's log, one object per repository",
    async run(args, io) {
      const rest: string[] = [];
      let repos: string[] | undefined;
      for (let i = 0; i < args.length; i++) {
        if (args[i] === '--repos') {
          const v = args[++i];
          if (!v) throw new UsageError('--repos needs a comma-separated list of repositories');
          repos = v.split(',');
        } else if (args[i].startsWith('--repos=')) repos = args[i].slice('--repos='.length).split(',');
        else rest.push(args[i]);
      }
      if (rest.length > 1) throw new UsageError('name at most one log file (or - for standard input)');
      if (rest[0] !== undefined && rest[0] !== '-' && rest[0].startsWith('-')) throw new UsageError(`unknown option ${rest[0]}`);
      const config = loadConfig(io.env);
      const file = rest[0] === undefined || rest[0] === '-' ? null : rest[0];
      let names: string[] | undefined;
      if (repos) {
        names = [];
        for (const r of repos) {
          const parsed = parseRepo(r, config.allowedHosts);
          if (!parsed.ok) throw new UsageError(`--repos: invalid repository ${JSON.stringify(r)}: ${parsed.reason}`);
          if (names.includes(parsed.repo.canonical)) throw new UsageError(`--repos: ${parsed.repo.canonical} is named twice`);
          names.push(parsed.repo.canonical);
        }
      }
      try {
        const chunks = file === null ? io.stdin : createReadStream(file);
        if (names) {
          // As the harvester reads a shard's log: the cap per repository, the tail kept.
          const log = await readCapped(chunks, { capBytes: config.logByteCap * names.length, keep: 'tail' });
          const verdict = classifyShard(log, names, NO_POD_FACTS, { allowedHosts: config.allowedHosts });
          for (const o of verdict.outcomes) io.stdout.write(`${JSON.stringify(printableShard(o))}\n`);
          return verdict.outcomes.some((o) => o.kind === 'result') ? EXIT.ok : EXIT.rejected;
        }
        const verdict: PodLogVerdict = await classifyPodLog(chunks, NO_POD_FACTS, { capBytes: config.logByteCap });
        io.stdout.write(`${JSON.stringify(printable(verdict.classification))}\n`);
        return verdict.classification.ok ? EXIT.ok : EXIT.rejected;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (!e.code) throw err;
        const what = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
        io.stderr.write(`posture: cannot read ${file === null ? 'standard input' : JSON.stringify(file)}: ${what}\n`);
        return EXIT.usage;
      }
    },
  },
];

/** A shard repository's outcome as `results parse --repos` prints it (one line each). */
function printableShard(o: ShardOutcome): unknown {
  if (o.kind === 'result') {
    const { raw: _raw, ...result } = o.result;
    return { repo: o.repo, ok: true, flagged: o.flagged, internalErrors: o.internalErrors, result };
  }
  if (o.kind === 'failed') return { repo: o.repo, ok: false, failure: o.failure, reason: o.reason };
  return { repo: o.repo, ok: false, failure: 'not-reached', reason: o.reason };
}

// The raw document is what the database keeps; on a terminal it only repeats the fields above it.
function printable(c: Classification): unknown {
  if (!c.ok) return { ok: false, failure: c.failure, reason: c.reason };
  const { raw: _raw, ...result } = c.result;
  return { ok: true, flagged: c.flagged, internalErrors: c.internalErrors, result };
}
