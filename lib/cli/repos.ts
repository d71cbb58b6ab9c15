// `posture repos add|import|list|remove|set-priority`
import { addRepos, type NewRepo } from '../db/index.ts';
import { listRepoStatus, REPO_STATES, type RepoState, type RepoStatus, removeRepos, setPriority } from '../db/repo-admin.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { MAX_LINE_CHARS, NotTextError, parseImportLine, type RawLine, readLines } from '../repo/import.ts';
import { isFutureDated } from '../scorecard/clock.ts';
import { openDbContext } from './context.ts';
import { openInput } from './files.ts';
import { type Column, ListPrinter, OUTPUT_OPTION, outputFormat } from './output.ts';
import { type CliIO, type Command, EXIT, InputError, UsageError } from './types.ts';

const BATCH = 5000;
/** Rejected lines printed one by one; after that only counted (a wrong file must not flood the terminal). */
export const MAX_REPORTED_LINES = 100;
/** A file whose first this-many repository lines are all rejected is not a repository list: stop. */
export const GIVE_UP_AFTER = 1000;
export const DEFAULT_PAGE = 100;

/** Parses names; prints each rejected one; returns the valid ones (deduplicated). */
function parseNames(args: string[], allowedHosts: readonly string[], io: CliIO): { repos: RepoId[]; rejected: number } {
  const repos = new Map<string, RepoId>();
  let rejected = 0;
  for (const a of args) {
    const r = parseRepo(a, allowedHosts);
    if (r.ok) repos.set(r.repo.key, r.repo);
    else {
      rejected++;
      io.stderr.write(`rejected ${JSON.stringify(a)}: ${r.reason}\n`);
    }
  }
  return { repos: [...repos.values()], rejected };
}

async function add(args: string[], io: CliIO): Promise<number> {
  if (args.length === 0) throw new UsageError('name at least one repository');
  const ctx = await openDbContext(io);
  try {
    const { repos, rejected } = parseNames(args, ctx.config.allowedHosts, io);
    const added = await addRepos(
      ctx.db,
      repos.map((repo) => ({ repo })),
    );
    io.stdout.write(`added ${added}, already present ${repos.length - added}, rejected ${rejected}\n`);
    return rejected > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

class Progress {
  #last = 0;
  readonly #started = Date.now();
  readonly #io: CliIO;
  constructor(io: CliIO) {
    this.#io = io;
  }
  update(lines: number, added: number, rejected: number, force = false): void {
    if (!this.#io.interactive) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const rate = Math.round(lines / Math.max(0.001, (now - this.#started) / 1000));
    this.#io.stderr.write(
      `\r\x1b[K${lines.toLocaleString('en')} lines · ${added.toLocaleString('en')} new · ${rejected} rejected · ${rate.toLocaleString('en')} lines/s`,
    );
    if (force) this.#io.stderr.write('\n');
  }
}

async function importList(args: string[], io: CliIO): Promise<number> {
  if (args.length !== 1) throw new UsageError('name one file, or - for standard input');
  const source = args[0];
  const name = source === '-' ? 'standard input' : JSON.stringify(source);
  const input = await openInput(source, io); // a file problem is one line before the database is opened
  const lines = readLines(input);
  const notText = (err: unknown, added: number): unknown => {
    if (!(err instanceof NotTextError)) return err;
    const before = added > 0 ? `; ${added} repositories from the lines before it were imported` : '; nothing was imported';
    return new InputError(`${name} is ${err.message}${before}. Give one repository a line, or Scorecard's repo,metadata CSV`, EXIT.rejected);
  };
  // The first chunk is read before the database is opened: a binary file is refused at once.
  let first: IteratorResult<RawLine>;
  try {
    first = await lines.next();
  } catch (err) {
    input.destroy();
    throw notText(err, 0);
  }
  const ctx = await openDbContext(io).catch((err) => {
    input.destroy();
    throw err;
  });
  const progress = new Progress(io);
  let lineNumber = 0;
  let added = 0;
  let valid = 0;
  let rejected = 0;
  let batch: NewRepo[] = [];
  const clear = io.interactive ? '\r\x1b[K' : '';
  const reject = (line: number, reason: string) => {
    rejected++;
    if (rejected <= MAX_REPORTED_LINES) io.stderr.write(`${clear}line ${line}: ${reason}\n`);
    else if (rejected === MAX_REPORTED_LINES + 1) io.stderr.write(`${clear}more rejected lines are counted, not shown\n`);
  };
  try {
    try {
      for (let next = first; !next.done; next = await lines.next()) {
        const raw = next.value;
        lineNumber = raw.number;
        if ('tooLong' in raw) reject(raw.number, `line longer than ${MAX_LINE_CHARS} characters`);
        else {
          const parsed = parseImportLine(raw.text, raw.number, ctx.config.allowedHosts);
          if (parsed.kind === 'repo') {
            valid++;
            batch.push({ repo: parsed.repo, metadata: parsed.metadata });
            if (batch.length >= BATCH) {
              added += await addRepos(ctx.db, batch);
              batch = [];
            }
          } else if (parsed.kind === 'invalid') reject(raw.number, parsed.reason);
        }
        if (valid === 0 && rejected >= GIVE_UP_AFTER) {
          throw new InputError(`${name} is not a repository list: its first ${rejected} lines were all rejected; nothing was imported`, EXIT.rejected);
        }
        progress.update(lineNumber, added, rejected);
      }
    } catch (err) {
      // The pending batch is dropped: it may hold names read from the binary bytes.
      throw notText(err, added);
    }
    added += await addRepos(ctx.db, batch);
    progress.update(lineNumber, added, rejected, true);
    io.stdout.write(`read ${lineNumber} lines: ${added} new, ${valid - added} already present or repeated, ${rejected} rejected\n`);
    return rejected > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    input.destroy();
    await ctx.close();
  }
}

const COLUMNS: Column<RepoStatus>[] = [
  { header: 'REPOSITORY', value: (r) => r.repo },
  {
    header: 'STATE',
    value: (r) =>
      r.state === 'failing'
        ? `failing (${r.failures})`
        : r.state === 'stuck'
          ? `stuck (${r.otherFailures})`
          : r.state === 'retired'
            ? `retired (${r.retiredReason})`
            : r.state,
  },
  { header: 'SCORE', value: (r) => (r.score === null ? '-' : r.score.toFixed(1)) },
  // The result's own date; one dated after posture stored it came from a pod whose clock is ahead.
  { header: 'SCORED', value: (r) => (r.date ? r.date.toISOString().slice(0, 10) + (futureDated(r) ? ' (future-dated)' : '') : '-'), wide: true },
  { header: 'PRIORITY', value: (r) => String(r.priority), wide: true },
  // A retired repository is never due (its due time is held past any claim).
  { header: 'NEXT DUE', value: (r) => (r.state === 'retired' ? 'never' : r.nextDueAt.toISOString().replace(/:\d\d\.\d+Z$/, 'Z')) },
  { header: 'METADATA', value: (r) => r.metadata ?? '', wide: true },
  { header: 'LAST FAILURE', value: (r) => ((r.state === 'stuck' ? r.otherError : r.lastError) ?? '').slice(0, 200) },
];

const futureDated = (r: RepoStatus) => r.date !== null && r.scoredAt !== null && isFutureDated(r.date, r.scoredAt);

const asObject = (r: RepoStatus) => ({
  repo: r.repo,
  state: r.state,
  score: r.score,
  date: r.date?.toISOString() ?? null,
  scoredAt: r.scoredAt?.toISOString() ?? null,
  futureDated: futureDated(r),
  priority: r.priority,
  nextDueAt: r.state === 'retired' ? null : r.nextDueAt.toISOString(),
  failures: r.failures,
  lastError: r.lastError,
  notOwnFailures: r.otherFailures,
  notOwnLastError: r.otherError,
  metadata: r.metadata,
  retiredReason: r.retiredReason,
});

function integer(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^-?\d+$/.test(v) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

async function list(args: string[], io: CliIO, values: Record<string, unknown>): Promise<number> {
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
  const format = values.json ? 'json' : outputFormat(values.output);
  const state = values.state as string | undefined;
  if (state !== undefined && !(REPO_STATES as readonly string[]).includes(state))
    throw new UsageError(`--state must be one of ${REPO_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  let below: number | undefined;
  if (values.below !== undefined) {
    below = Number(values.below);
    if (!/^\d+(\.\d+)?$/.test(String(values.below)) || below > 10)
      throw new UsageError(`--below must be a score from 0 to 10, got ${JSON.stringify(values.below)}`);
  }
  const limit = values.all ? Infinity : (integer('limit', values.limit, 1, 1_000_000) ?? DEFAULT_PAGE);
  const ctx = await openDbContext(io);
  try {
    let after = values.after as string | undefined;
    if (after !== undefined) {
      const p = parseRepo(after, ctx.config.allowedHosts);
      if (!p.ok) throw new UsageError(`--after: ${p.reason}`);
      after = p.repo.key;
    }
    const printer = new ListPrinter(io.stdout, format, COLUMNS, asObject);
    let last: string | undefined;
    let full = false;
    while (printer.printed < limit) {
      const want = Math.min(5000, limit - printer.printed);
      // One more than asked tells whether another page exists, without counting the table.
      const rows = await listRepoStatus(ctx.db, {
        after,
        limit: want + 1,
        state: state as RepoState | undefined,
        below,
        match: values.match as string | undefined,
        stuckAfterRuns: ctx.config.stuckAfterRuns,
      });
      full = rows.length > want;
      const page = rows.slice(0, want);
      await printer.page(page);
      if (page.length === 0) break;
      after = last = page[page.length - 1].key;
      if (!full) break;
    }
    await printer.end();
    if (printer.printed === 0 && format !== 'json' && format !== 'yaml') io.stderr.write('no repositories match\n');
    if (full && last) io.stderr.write(`more: posture repos list --after ${last}${values.limit ? ` --limit ${values.limit}` : ''} (or --all)\n`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

async function remove(args: string[], io: CliIO): Promise<number> {
  if (args.length === 0) throw new UsageError('name at least one repository');
  const ctx = await openDbContext(io);
  try {
    const { repos, rejected } = parseNames(args, ctx.config.allowedHosts, io);
    const removed = await removeRepos(
      ctx.db,
      repos.map((r) => r.key),
    );
    let missing = 0;
    for (const r of repos) {
      const n = removed.get(r.key);
      if (n) io.stdout.write(`removed ${r.canonical} (${n.scores} scores, ${n.runs} runs)\n`);
      else {
        missing++;
        io.stderr.write(`not found: ${r.canonical}\n`);
      }
    }
    return rejected + missing > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

async function priority(args: string[], io: CliIO): Promise<number> {
  const [value, ...names] = args;
  if (value === undefined || names.length === 0) throw new UsageError('give a priority and at least one repository');
  const p = integer('priority', value, -1_000_000, 1_000_000)!;
  const ctx = await openDbContext(io);
  try {
    const { repos, rejected } = parseNames(names, ctx.config.allowedHosts, io);
    const changed = new Set(
      await setPriority(
        ctx.db,
        repos.map((r) => r.key),
        p,
      ),
    );
    for (const r of repos) {
      if (changed.has(r.key)) io.stdout.write(`${r.canonical}: priority ${p}\n`);
      else io.stderr.write(`not found: ${r.canonical}\n`);
    }
    return rejected + repos.length - changed.size > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

const NAMES = 'Names: https://github.com/o/r, github.com/o/r or o/r.';

export const commands: Command[] = [
  {
    words: ['repos', 'add'],
    usage: 'repos add <repo…>',
    summary: 'add repositories to score',
    description: `${NAMES} Exit 0; 2 when some were rejected (the rest are added); 3 database unreachable.`,
    database: true,
    options: {},
    run: add,
  },
  {
    words: ['repos', 'import'],
    usage: 'repos import <file|->',
    summary: "import a list: one repository a line, or Scorecard's repo,metadata CSV",
    description:
      'Bad lines are reported with their numbers (the first 100) and the rest imported; re-importing changes nothing. ' +
      'A file that is not text (binary, not UTF-8) is refused with one line. ' +
      'Exit 0; 1 the file cannot be read; 2 some lines rejected or not a text file; 3 database unreachable.',
    database: true,
    options: {},
    run: importList,
  },
  {
    words: ['repos', 'list'],
    usage: 'repos list [options]',
    summary: 'list repositories: state, newest score, next due time, last failure',
    description: `States: ${REPO_STATES.join(', ')}. Sorted by name, ${DEFAULT_PAGE} a page; the next page starts --after the last name shown (printed on stderr). Exit 0; 1 usage; 3 database unreachable.`,
    database: true,
    options: {
      output: OUTPUT_OPTION,
      state: { type: 'string', value: 'STATE', help: `only this state (${REPO_STATES.join(', ')})` },
      below: { type: 'string', value: 'SCORE', help: 'only repositories whose newest score is below SCORE' },
      match: { type: 'string', value: 'TEXT', help: 'only names containing TEXT (any case)' },
      limit: { type: 'string', value: 'N', help: `at most N repositories (default ${DEFAULT_PAGE})` },
      after: { type: 'string', value: 'REPO', help: 'start after this repository (the next page)' },
      all: { type: 'boolean', help: 'every repository, no paging' },
      json: { type: 'boolean', help: 'same as -o json' },
    },
    async run(args, io, parsed) {
      return list(args, io, parsed.values);
    },
  },
  {
    words: ['repos', 'remove'],
    usage: 'repos remove <repo…>',
    summary: 'remove repositories with their runs and scores',
    description: `${NAMES} Exit 0; 2 when one was invalid or not found (the others are removed); 3 database unreachable.`,
    database: true,
    options: {},
    run: remove,
  },
  {
    words: ['repos', 'set-priority'],
    usage: 'repos set-priority <priority> <repo…>',
    summary: 'set the priority of repositories (higher is scored first; default 0)',
    description: `${NAMES} The priority is an integer from -1000000 to 1000000. Exit 0; 2 when one was invalid or not found; 3 database unreachable.`,
    database: true,
    run: priority,
  },
];
