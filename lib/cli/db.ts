// `posture db migrate`
import { migrate } from '../db/index.ts';
import { openDbContext } from './context.ts';
import { EXIT, UsageError, type Command } from './types.ts';

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
];
