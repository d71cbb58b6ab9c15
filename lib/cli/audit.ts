// `posture audit`: which running workloads come from repositories that now fail. Lists every
// audited workload cluster-wide (KUBECONFIG), judges its declared repository against the latest
// score in the database, prints the ones below the bar, and with --write writes the namespaces'
// PolicyReports (only those that changed), as the in-cluster auditor does on its schedule.

import type { Finding } from '../audit/findings.ts';
import { auditCluster, kubeConfigOf } from '../audit/index.ts';
import { openDbContext } from './context.ts';
import { type Command, EXIT, UsageError } from './types.ts';

function tableOf(findings: readonly Finding[]): string {
  const rows = findings.map((f) => [f.workload.namespace, f.workload.kind, f.workload.name, f.repo, f.score === undefined ? '-' : String(f.score), f.result]);
  const head = ['NAMESPACE', 'KIND', 'NAME', 'REPOSITORY', 'SCORE', 'RESULT'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return `${[head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export const commands: Command[] = [
  {
    words: ['audit'],
    usage: 'audit [-o table|json] [--all] [--write]',
    summary: 'running workloads whose declared repository is below the bar (and --write: the PolicyReports)',
    description:
      'Exit 0 when no workload fails, 2 when some do (or declare a repository posture cannot judge); 1 usage; 3 database unreachable. ' +
      'Needs a kubeconfig allowed to list workloads cluster-wide (and to write PolicyReports with --write).',
    database: true,
    options: {
      output: { type: 'string', short: 'o', value: 'FORMAT', help: 'table (default) or json' },
      all: { type: 'boolean', help: 'list passing workloads too' },
      write: { type: 'boolean', help: "write each namespace's PolicyReport (only those that changed)" },
    },
    async run(args, io, parsed) {
      if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
      const format = (parsed.values.output as string | undefined) ?? 'table';
      if (!['table', 'json'].includes(format)) throw new UsageError(`-o must be table or json, got ${JSON.stringify(format)}`);
      const ctx = await openDbContext(io);
      try {
        const outcome = await auditCluster({ config: ctx.config, db: ctx.db, kc: kubeConfigOf(io.env), write: parsed.values.write === true });
        const shown = outcome.findings
          .filter((f) => parsed.values.all === true || f.result !== 'pass')
          .sort(
            (a, b) =>
              a.workload.namespace.localeCompare(b.workload.namespace) ||
              a.workload.kind.localeCompare(b.workload.kind) ||
              a.workload.name.localeCompare(b.workload.name),
          );
        if (format === 'json') {
          const { actions, findings, ...rest } = outcome;
          io.stdout.write(
            `${JSON.stringify(
              {
                ...rest,
                written: parsed.values.write === true,
                actions: actions.map((a) => (a.action === 'delete' ? a : { action: a.action, namespace: a.report.metadata.namespace })),
                findings: shown.map((f) => ({ ...f.workload, repository: f.repo, score: f.score ?? null, result: f.result, message: f.message })),
              },
              null,
              2,
            )}\n`,
          );
        } else {
          io.stdout.write(shown.length > 0 ? tableOf(shown) : 'no running workload is below the bar\n');
          const s = outcome.summary;
          io.stderr.write(
            `audited ${outcome.workloads} workloads declaring a repository (of ${outcome.listed} listed): ${s.fail} fail, ${s.warn} unknown, ${s.error} invalid, ${s.pass} pass; ` +
              `${outcome.reports.namespaces} namespaces` +
              (parsed.values.write === true
                ? `, reports: ${outcome.reports.created} created, ${outcome.reports.replaced} updated, ${outcome.reports.deleted} deleted, ${outcome.reports.unchanged} unchanged\n`
                : '\n'),
          );
        }
        return outcome.summary.fail + outcome.summary.error > 0 ? EXIT.rejected : EXIT.ok;
      } finally {
        await ctx.close();
      }
    },
  },
];
