// `posture scores show <repo>`: the newest stored result, as the Scorecard CLI prints it by
// default (aggregate score, then a bordered table of checks), or as the score API's JSON.
import { stringify } from 'yaml';
import { findResult, storedChecks } from '../api/queries.ts';
import { type ApiResult, rawHasChecks, renderResult } from '../api/render.ts';
import { parseRepo } from '../repo/identity.ts';
import { isFutureDated } from '../scorecard/clock.ts';
import { openDbContext } from './context.ts';
import { wrap } from './help.ts';
import { type Command, EXIT, UsageError } from './types.ts';

const REASON_WIDTH = 40;

/** Cells are wrapped to their column; each row is as tall as its tallest cell. */
function table(headers: string[], rows: string[][], widths: number[]): string {
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`;
  const center = (s: string, w: number) => ' '.repeat(Math.floor((w - s.length) / 2)) + s + ' '.repeat(Math.ceil((w - s.length) / 2));
  let out = `${rule}|${headers.map((h, i) => ` ${center(h, widths[i])} `).join('|')}|\n${rule}`;
  for (const row of rows) {
    const cells = row.map((c, i) => (c === '' ? [''] : c.length <= widths[i] ? [c] : wrapHard(c, widths[i])));
    const height = Math.max(...cells.map((c) => c.length));
    for (let l = 0; l < height; l++) out += `|${cells.map((c, i) => ` ${(c[l] ?? '').padEnd(widths[i])} `).join('|')}|\n`;
    out += rule;
  }
  return out;
}

/** Wraps at spaces, and cuts a word longer than the column (a URL in a reason). */
function wrapHard(text: string, width: number): string[] {
  return wrap(text, width).flatMap((l) => (l.length <= width ? [l] : (l.match(new RegExp(`.{1,${width}}`, 'g')) ?? [l])));
}

const scoreText = (n: number) => (n < 0 ? '?' : `${n} / 10`);

/** Scorecard's default (text) output for a result. */
export function renderScorecardTable(r: ApiResult): string {
  const checks = [...r.checks].sort((a, b) => a.name.localeCompare(b.name));
  const rows = checks.map((c) => [scoreText(c.score), c.name, c.reason.replace(/\s+/g, ' '), c.documentation?.url ?? '']);
  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(
      ['SCORE', 'NAME', 'REASON', 'DOCUMENTATION/REMEDIATION'][i].length,
      ...rows.map((row) => (i === 2 ? Math.min(REASON_WIDTH, row[i].length) : row[i].length)),
    ),
  );
  const aggregate = r.score < 0 ? 'Aggregate score: ?' : `Aggregate score: ${r.score.toFixed(1)} / 10`;
  return (
    `${r.repo.name} at ${r.repo.commit.slice(0, 12)}, ${r.date} (Scorecard ${r.scorecard.version})\n\n` +
    `RESULTS\n-------\n${aggregate}\n\nCheck scores:\n` +
    table(['SCORE', 'NAME', 'REASON', 'DOCUMENTATION/REMEDIATION'], rows, widths)
  );
}

export const commands: Command[] = [
  {
    words: ['scores', 'show'],
    usage: 'scores show <repo> [options]',
    summary: "a repository's newest score and checks, as the Scorecard CLI prints them",
    description: 'Exit 0; 1 usage; 2 invalid repository, unknown, or not scored yet; 3 database unreachable.',
    database: true,
    options: {
      output: { type: 'string', short: 'o', value: 'FORMAT', help: "table (default), json (the score API's shape) or yaml" },
      commit: { type: 'string', value: 'SHA', help: 'the newest result for this commit (full SHA)' },
    },
    async run(args, io, parsed) {
      if (args.length !== 1) throw new UsageError('name exactly one repository');
      const format = (parsed.values.output as string | undefined) ?? 'table';
      if (!['table', 'json', 'yaml'].includes(format)) throw new UsageError(`-o must be table, json or yaml, got ${JSON.stringify(format)}`);
      const commit = parsed.values.commit as string | undefined;
      if (commit !== undefined && !/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(commit))
        throw new UsageError('--commit must be a full commit SHA (40 or 64 hexadecimal characters)');
      const ctx = await openDbContext(io);
      try {
        const p = parseRepo(args[0], ctx.config.allowedHosts);
        if (!p.ok) {
          io.stderr.write(`posture: invalid repository ${JSON.stringify(args[0])}: ${p.reason}\n`);
          return EXIT.rejected;
        }
        const found = await findResult(ctx.db, p.repo.key, { commit: commit?.toLowerCase() });
        if (found.status === 'unknown-repo') {
          io.stderr.write(`posture: ${p.repo.canonical} is not known to posture (add it with: posture repos add ${p.repo.canonical})\n`);
          return EXIT.rejected;
        }
        if (found.status === 'not-scored') {
          io.stderr.write(`posture: ${found.repo.canonical} has no score yet (see its state with: posture repos list --match ${found.repo.canonical})\n`);
          return EXIT.rejected;
        }
        if (found.status === 'no-result-for-commit') {
          io.stderr.write(`posture: ${found.repo.canonical} has no result for commit ${found.commit}\n`);
          return EXIT.rejected;
        }
        const checks = rawHasChecks(found.value.raw) ? undefined : await storedChecks(ctx.db, found.value.scoreId);
        const result = renderResult(found.value, found.repo, checks);
        // The output keeps the Scorecard API's shape; the flag goes to stderr, for the person reading.
        if (isFutureDated(found.value.resultDate, found.value.storedAt))
          io.stderr.write(
            `posture: this result is dated ${found.value.resultDate.toISOString()}, after posture stored it on ${found.value.storedAt.toISOString()}: the scorecard pod's clock is ahead\n`,
          );
        io.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : format === 'yaml' ? stringify(result) : renderScorecardTable(result));
        return EXIT.ok;
      } finally {
        await ctx.close();
      }
    },
  },
];
