// `posture demo [--repos N]`: seeds demo repositories (lib/demo) into the configured database.
import { seedDemo } from '../demo/seed.ts';
import { openDbContext } from './context.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const MAX_DEMO_REPOS = 100_000;

export function parseDemoArgs(args: string[]): { repos: number } {
  let repos = 24;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--repos(?:=(.*))?$/.exec(a);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
    const v = m[1] ?? args[++i];
    if (v === undefined || !/^[1-9][0-9]*$/.test(v) || Number(v) > MAX_DEMO_REPOS)
      throw new UsageError(`--repos takes an integer from 1 to ${MAX_DEMO_REPOS}, got ${JSON.stringify(v ?? '')}`);
    repos = Number(v);
  }
  return { repos };
}

export const commands: Command[] = [
  {
    words: ['demo'],
    usage: 'demo [--repos N]',
    summary: 'seed demo repositories (github.com/posture-demo/…) with made-up histories, to see the dashboard without GitHub',
    database: true,
    async run(args, io) {
      const { repos } = parseDemoArgs(args);
      const ctx = await openDbContext(io.env);
      try {
        const s = await seedDemo(ctx.db, { repos });
        io.stdout.write(
          `demo: ${s.repos} repositories under github.com/posture-demo, ${s.results} results and ${s.failures} failed runs stored` +
            (s.alreadyThere ? ` (${s.alreadyThere} were already there)` : '') +
            `\nthey are labelled as demo data on every page; start posture (npm start) and open http://127.0.0.1:${ctx.config.port}/ui\n`,
        );
        return EXIT.ok;
      } finally {
        await ctx.close();
      }
    },
  },
];
