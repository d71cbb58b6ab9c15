// `posture report [--since 7d] [--owner O] [-o markdown|json]`: the fleet report (lib/fleet-report).
import { reportRows } from '../db/report.ts';
import { buildReport, parseSince, reportMarkdown, WEAK_BELOW } from '../fleet-report/report.ts';
import { openDbContext } from './context.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const commands: Command[] = [
  {
    words: ['report'],
    usage: 'report [--since 7d] [--owner OWNER] [-o markdown|json]',
    summary: "a fleet report: each repository's score, its change since a date, weak checks and links (Markdown or JSON)",
    database: true,
    options: {
      since: { type: 'string', value: 'PERIOD', help: 'start of the period: 7d (default), 24h, 2w or a date (2026-01-31)' },
      owner: { type: 'string', value: 'OWNER', help: 'only repositories of this owner (organisation or user)' },
      output: { type: 'string', short: 'o', value: 'FORMAT', help: 'markdown (default) or json' },
    },
    async run(args, io, parsed) {
      if (args.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
      const format = (parsed.values.output as string | undefined) ?? 'markdown';
      if (!['markdown', 'json'].includes(format)) throw new UsageError(`-o must be markdown or json, got ${JSON.stringify(format)}`);
      const now = new Date();
      let since: Date;
      try {
        since = parseSince((parsed.values.since as string | undefined) ?? '7d', now);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const owner = parsed.values.owner as string | undefined;
      if (owner !== undefined && !/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(owner))
        throw new UsageError(`--owner takes an owner name, got ${JSON.stringify(owner)}`);
      const ctx = await openDbContext(io);
      try {
        const rows = await reportRows(ctx.db, { since, below: WEAK_BELOW, ...(owner ? { owner } : {}) });
        const report = buildReport(rows, { since, now, ...(owner ? { owner } : {}), ...(ctx.config.publicUrl ? { publicUrl: ctx.config.publicUrl } : {}) });
        io.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : reportMarkdown(report));
        return EXIT.ok;
      } finally {
        await ctx.close();
      }
    },
  },
];
