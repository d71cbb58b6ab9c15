// `posture repos discover --org NAME` and `posture sources add|list|remove`: an organisation's
// repositories, once or kept as a source that the scheduler rediscovers on its cadence.
import { addSource, finishSourceDiscovery, listSources, removeSource, type SourceRow } from '../db/sources.ts';
import { createGitHubApi, type GitHubApi, GitHubError, hasCredentials } from '../github/client.ts';
import type { DiscoveryFilter } from '../github/discovery.ts';
import { type DiscoveryReport, discoverOrg, identityHost } from '../github/sources.ts';
import { createLogger } from '../log/index.ts';
import { openDbContext } from './context.ts';
import { type Column, ListPrinter, OUTPUT_OPTION, outputFormat } from './output.ts';
import { type CliIO, type Command, EXIT, type OptionSpec, UsageError } from './types.ts';

// GitHub's rules for an organisation's login and a topic.
const ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const TOPIC = /^[a-z0-9][a-z0-9-]{0,49}$/;

/** The longest rate-limit wait a command sits out (a longer one fails with the reset time). */
const CLI_MAX_WAIT_SECONDS = 60;

const FILTER_OPTIONS: Record<string, OptionSpec> = {
  'include-archived': { type: 'boolean', help: 'also archived repositories (left out by default)' },
  'include-forks': { type: 'boolean', help: 'also forks (left out by default)' },
  topic: { type: 'string', value: 'TOPIC', help: 'only repositories with this GitHub topic' },
};

function filterOf(values: Record<string, unknown>): DiscoveryFilter {
  const topic = values.topic as string | undefined;
  if (topic !== undefined && !TOPIC.test(topic.toLowerCase()))
    throw new UsageError(`--topic must be a GitHub topic (lower-case letters, digits and -, at most 50), got ${JSON.stringify(topic)}`);
  return { includeArchived: values['include-archived'] === true, includeForks: values['include-forks'] === true, topic: topic?.toLowerCase() ?? null };
}

function orgOf(name: unknown, what: string): string {
  if (typeof name !== 'string' || name === '') throw new UsageError(`name the organisation (${what})`);
  if (!ORG.test(name)) throw new UsageError(`invalid organisation ${JSON.stringify(name)}: 1-39 characters of A-Z, a-z, 0-9 and -, not starting with -`);
  return name;
}

/** The client a command uses; its problems (a CA or key file that cannot be read) are one line. */
function clientFor(config: Parameters<typeof createGitHubApi>[0], io: CliIO): GitHubApi {
  // Without credentials GitHub allows 60 calls an hour and shows public repositories only.
  if (!hasCredentials(config))
    io.stderr.write('posture: no GITHUB_AUTH_TOKEN nor GitHub App set: asking GitHub anonymously (public repositories only, 60 calls an hour)\n');
  return createGitHubApi(config, { maxWaitSeconds: CLI_MAX_WAIT_SECONDS, warn: (m) => io.stderr.write(`posture: GitHub: ${m}\n`) });
}

function summaryLine(r: DiscoveryReport): string {
  const left: string[] = [];
  if (r.archived) left.push(`${r.archived} archived`);
  if (r.forks) left.push(`${r.forks} fork${r.forks === 1 ? '' : 's'}`);
  if (r.withoutTopic) left.push(`${r.withoutTopic} without the topic`);
  return (
    `${r.org}: ${r.selected} repositories selected${left.length ? ` (left out: ${left.join(', ')})` : ''}; ` +
    `${r.fetched} page${r.fetched === 1 ? '' : 's'} fetched, ${r.notModified} unchanged (304, no quota spent)\n`
  );
}

/** Changes printed one a line; past this many, only counted (the counts close the output). */
export const MAX_CHANGE_LINES = 1000;

function changeLines(r: DiscoveryReport, verb: { add: string; retire: string; restore: string }): string {
  const lines = [
    ...r.added.map((x) => `${verb.add} ${x.canonical}\n`),
    ...r.retired.map((x) => `${verb.retire} ${x.key} (${x.reason})\n`),
    ...r.restored.map((k) => `${verb.restore} ${k}\n`),
  ];
  const more = lines.length - MAX_CHANGE_LINES;
  return lines.slice(0, MAX_CHANGE_LINES).join('') + (more > 0 ? `… and ${more} more\n` : '');
}

async function discover(io: CliIO, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (name the organisation with --org)`);
  const org = orgOf(values.org, '--org NAME');
  const filter = filterOf(values);
  const dryRun = values['dry-run'] === true;
  const ctx = await openDbContext(io);
  try {
    const api = clientFor(ctx.config, io);
    const report = await discoverOrg(
      org,
      filter,
      { db: ctx.db, api, log: createLogger({ level: 'silent' }), host: identityHost(ctx.config), now: () => new Date() },
      { dryRun },
    );
    io.stdout.write(summaryLine(report));
    io.stdout.write(changeLines(report, { add: dryRun ? 'would add' : 'added', retire: 'would retire', restore: 'would restore' }));
    io.stdout.write(
      dryRun
        ? `dry run: ${report.added.length} would be added, ${report.selected - report.added.length} already present; nothing was changed\n`
        : `added ${report.added.length}, already present ${report.selected - report.added.length}\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof GitHubError) {
      io.stderr.write(`posture: discovering ${org}: ${err.message}\n`);
      return EXIT.unreachable;
    }
    throw err;
  } finally {
    await ctx.close();
  }
}

async function add(io: CliIO, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('name one organisation');
  const org = orgOf(positionals[0], 'sources add NAME');
  const filter = filterOf(values);
  const ctx = await openDbContext(io);
  try {
    const host = identityHost(ctx.config);
    const { source, created } = await addSource(ctx.db, { host, name: org, ...filter });
    io.stdout.write(
      `${created ? 'added' : 'updated'} source ${source.key} (${filterText(source)}); rediscovered every ${ctx.config.sourcesIntervalSeconds} s\n`,
    );
    if (values.later === true) {
      io.stdout.write('its first discovery is left to the scheduler (it is due now)\n');
      return EXIT.ok;
    }
    try {
      const report = await discoverOrg(
        org,
        filter,
        { db: ctx.db, api: clientFor(ctx.config, io), log: createLogger({ level: 'silent' }), host, now: () => new Date() },
        { sourceId: source.id },
      );
      await finishSourceDiscovery(ctx.db, source.id, { now: new Date(), repoCount: report.selected, nextInSeconds: ctx.config.sourcesIntervalSeconds });
      io.stdout.write(summaryLine(report));
      io.stdout.write(changeLines(report, { add: 'added', retire: 'retired', restore: 'restored' }));
      io.stdout.write(`added ${report.added.length}, retired ${report.retired.length}, restored ${report.restored.length}\n`);
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof GitHubError)) throw err;
      await finishSourceDiscovery(ctx.db, source.id, { now: new Date(), error: err.message.slice(0, 500) });
      io.stderr.write(`posture: the source is kept, but its first discovery failed: ${err.message}; the scheduler tries again\n`);
      return EXIT.unreachable;
    }
  } finally {
    await ctx.close();
  }
}

function filterText(s: Pick<SourceRow, 'includeArchived' | 'includeForks' | 'topic'>): string {
  const parts = [s.includeArchived ? 'archived included' : 'no archived', s.includeForks ? 'forks included' : 'no forks'];
  if (s.topic) parts.push(`topic ${s.topic}`);
  return parts.join(', ');
}

const iso = (d: Date | null) => (d ? d.toISOString().replace(/\.\d+Z$/, 'Z') : '-');

const COLUMNS: Column<SourceRow>[] = [
  { header: 'SOURCE', value: (s) => s.key },
  { header: 'FILTER', value: (s) => filterText(s), wide: true },
  { header: 'REPOS', value: (s) => String(s.repos ?? 0) },
  { header: 'RETIRED', value: (s) => String(s.retired ?? 0) },
  { header: 'LAST DISCOVERED', value: (s) => iso(s.lastDiscoveredAt) },
  { header: 'NEXT', value: (s) => iso(s.nextDueAt) },
  { header: 'LAST ERROR', value: (s) => (s.lastError ?? '').slice(0, 200) },
];

async function list(io: CliIO, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const format = outputFormat(values.output);
  const ctx = await openDbContext(io);
  try {
    const rows = await listSources(ctx.db);
    const printer = new ListPrinter(io.stdout, format, COLUMNS, (s) => ({
      source: s.key,
      organisation: s.name,
      host: s.host,
      includeArchived: s.includeArchived,
      includeForks: s.includeForks,
      topic: s.topic,
      repos: s.repos ?? 0,
      retired: s.retired ?? 0,
      lastDiscoveredAt: s.lastDiscoveredAt?.toISOString() ?? null,
      nextDueAt: s.nextDueAt.toISOString(),
      lastError: s.lastError,
    }));
    await printer.page(rows);
    await printer.end();
    if (rows.length === 0 && format !== 'json' && format !== 'yaml') io.stderr.write('no sources (posture sources add ORG)\n');
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

async function remove(io: CliIO, positionals: string[]): Promise<number> {
  if (positionals.length === 0) throw new UsageError('name at least one source');
  const ctx = await openDbContext(io);
  try {
    let missing = 0;
    for (const name of positionals) {
      // `org` or `host/org`: a bare name is on the configured host.
      const key = (name.includes('/') ? name : `${identityHost(ctx.config)}/${name}`).toLowerCase();
      if (await removeSource(ctx.db, key)) io.stdout.write(`removed source ${key}; its repositories stay, with their history, as if added by hand\n`);
      else {
        missing++;
        io.stderr.write(`not found: source ${key}\n`);
      }
    }
    return missing > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

const GITHUB_HELP =
  "GitHub is reached at POSTURE_GITHUB_API_URL with GITHUB_AUTH_TOKEN or the GitHub App's settings (docs/operate/configuration.md). " +
  'Each listing page is asked with the ETag kept from the last run: an unchanged page answers 304 and costs no quota.';

export const commands: Command[] = [
  {
    words: ['repos', 'discover'],
    usage: 'repos discover --org NAME [--include-archived] [--include-forks] [--topic T] [--dry-run]',
    summary: "add an organisation's repositories (archived ones and forks left out unless asked)",
    description: `Once; to follow an organisation as it changes, make it a source (posture sources add). ${GITHUB_HELP} Exit 0; 1 usage; 3 GitHub or the database unreachable (or GitHub refused).`,
    database: true,
    options: {
      org: { type: 'string', value: 'NAME', help: 'the organisation' },
      ...FILTER_OPTIONS,
      'dry-run': { type: 'boolean', help: 'say what would be added; change nothing' },
    },
    run: (args, io, parsed) => discover(io, args, parsed.values),
  },
  {
    words: ['sources', 'add'],
    usage: 'sources add NAME [--include-archived] [--include-forks] [--topic T] [--later]',
    summary: 'keep an organisation as a source: discovered now, then rediscovered by the scheduler on its cadence',
    description:
      'New repositories are added; one archived or gone from the organisation is retired (kept with its history, never scheduled); one back again is restored. ' +
      `Adding a source again changes its filter. ${GITHUB_HELP} Exit 0; 1 usage; 3 the first discovery failed (the source is kept) or the database is unreachable.`,
    database: true,
    options: { ...FILTER_OPTIONS, later: { type: 'boolean', help: 'leave the first discovery to the scheduler' } },
    run: (args, io, parsed) => add(io, args, parsed.values),
  },
  {
    words: ['sources', 'list'],
    usage: 'sources list [-o FORMAT]',
    summary: 'list the sources: repositories, retired ones, last discovery, next one, last error',
    database: true,
    options: { output: OUTPUT_OPTION },
    run: (args, io, parsed) => list(io, args, parsed.values),
  },
  {
    words: ['sources', 'remove'],
    usage: 'sources remove NAME…',
    summary: 'stop following organisations (their repositories stay, as if added by hand)',
    description: 'NAME is the organisation (on the configured host) or host/organisation. Exit 0; 2 when one was not found; 3 database unreachable.',
    database: true,
    options: {},
    run: (args, io) => remove(io, args),
  },
];
