// `posture db migrate`, `posture db prune`
import { migrate, pruneDetails } from '../db/index.ts';
import { openDbContext } from './context.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const commands: Command[] = [
  {
    words: ['db', 'migrate'],
    usage: 'db migrate',
    summary: 'create or upgrade the database schema',
    database: true,
    async run(args, io) {
      if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
      const ctx = await openDbContext(io.env, { migrate: false });
      try {
        const applied = await migrate(ctx.db);
        io.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'database is up to date\n');
        return EXIT.ok;
      } finally {
        await ctx.close();
      }
    },
  },
  {
    words: ['db', 'prune'],
    usage: 'db prune [--keep N]',
    summary: 'drop raw documents and check details beyond the newest N results per repository (scores stay)',
    database: true,
    async run(args, io) {
      let keep: number | undefined;
      for (let i = 0; i < args.length; i++) {
        if (args[i] === '--keep' && i + 1 < args.length) {
          const v = args[++i];
          if (!/^[1-9][0-9]*$/.test(v)) throw new UsageError(`--keep needs a positive integer, got ${JSON.stringify(v)}`);
          keep = Number(v);
        } else throw new UsageError(`unexpected argument ${JSON.stringify(args[i])}`);
      }
      const ctx = await openDbContext(io.env);
      try {
        const n = keep ?? ctx.config.detailedResults;
        const got = await pruneDetails(ctx.db, { keep: n });
        io.stdout.write(`pruned ${got.pruned} of ${got.scanned} detailed results (kept the newest ${n} per repository; every score kept)\n`);
        return EXIT.ok;
      } finally {
        await ctx.close();
      }
    },
  },
];
