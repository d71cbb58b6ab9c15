// `posture jobs render <repo>...`: the Jobs the scheduler would create, from the scheduler's code:
// one repository per Job, or shards of up to POSTURE_SHARD_SIZE repositories in the order given.
import { stringify } from 'yaml';
import { loadConfig } from '../config/index.ts';
import { buildShardJob, type ShardMember } from '../jobs/spec.ts';
import { parseRepo } from '../repo/identity.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const commands: Command[] = [
  {
    words: ['jobs', 'render'],
    usage: 'jobs render <repo>... [--due <RFC3339>]',
    summary: 'print, as YAML, the Jobs the scheduler would create for these repositories (shards of up to POSTURE_SHARD_SIZE, in the order given)',
    async run(args, io) {
      let due = new Date();
      const rest: string[] = [];
      for (let i = 0; i < args.length; i++) {
        if (args[i] === '--due') {
          const v = args[++i];
          due = new Date(v ?? '');
          if (Number.isNaN(due.getTime())) throw new UsageError(`--due needs an RFC 3339 time, got ${JSON.stringify(v)}`);
        } else rest.push(args[i]);
      }
      if (rest.length === 0) throw new UsageError('name at least one repository');
      const config = loadConfig(io.env);
      const members: ShardMember[] = [];
      for (const name of rest) {
        const parsed = parseRepo(name, config.allowedHosts);
        if (!parsed.ok) {
          io.stderr.write(`posture: invalid repository ${JSON.stringify(name)}: ${parsed.reason}\n`);
          return EXIT.rejected;
        }
        if (members.some((m) => m.repo.key === parsed.repo.key)) throw new UsageError(`${parsed.repo.canonical} is named twice`);
        members.push({ repo: parsed.repo, dueWindow: due });
      }
      const docs: string[] = [];
      for (let i = 0; i < members.length; i += config.shardSize) {
        docs.push(stringify(buildShardJob({ members: members.slice(i, i + config.shardSize) }, config)));
      }
      io.stdout.write(docs.join('---\n'));
      return EXIT.ok;
    },
  },
];
