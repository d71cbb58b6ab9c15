// `posture jobs render <repo>`: the Job the scheduler would create, from the scheduler's code.
import { stringify } from 'yaml';
import { loadConfig } from '../config/index.ts';
import { buildScorecardJob } from '../jobs/spec.ts';
import { parseRepo } from '../repo/identity.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const commands: Command[] = [
  {
    words: ['jobs', 'render'],
    usage: 'jobs render <repo> [--due <RFC3339>]',
    summary: 'print, as YAML, the Job the scheduler would create for a repository',
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
      if (rest.length !== 1) throw new UsageError('name exactly one repository');
      const config = loadConfig(io.env);
      const parsed = parseRepo(rest[0], config.allowedHosts);
      if (!parsed.ok) {
        io.stderr.write(`posture: invalid repository ${JSON.stringify(rest[0])}: ${parsed.reason}\n`);
        return EXIT.rejected;
      }
      io.stdout.write(stringify(buildScorecardJob({ repo: parsed.repo, dueWindow: due }, config)));
      return EXIT.ok;
    },
  },
];
