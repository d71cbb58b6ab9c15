// `posture repos add|import|list`
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { addRepos, listRepos, type NewRepo } from '../db/index.ts';
import { parseRepo } from '../repo/identity.ts';
import { parseImportLine } from '../repo/import.ts';
import { openDbContext } from './context.ts';
import { EXIT, UsageError, type CliIO, type Command } from './types.ts';

const BATCH = 5000;

async function add(args: string[], io: CliIO): Promise<number> {
  if (args.length === 0) throw new UsageError('name at least one repository');
  const ctx = await openDbContext(io.env);
  try {
    const ok: NewRepo[] = [];
    let rejected = 0;
    for (const a of args) {
      const r = parseRepo(a, ctx.config.allowedHosts);
      if (r.ok) ok.push({ repo: r.repo });
      else {
        rejected++;
        io.stderr.write(`rejected ${JSON.stringify(a)}: ${r.reason}\n`);
      }
    }
    const added = await addRepos(ctx.db, ok);
    io.stdout.write(`added ${added}, already present ${ok.length - added}, rejected ${rejected}\n`);
    return rejected > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

class Progress {
  private last = 0;
  private readonly started = Date.now();
  private readonly io: CliIO;
  constructor(io: CliIO) {
    this.io = io;
  }
  update(lines: number, added: number, rejected: number, force = false): void {
    if (!this.io.interactive) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const rate = Math.round(lines / Math.max(0.001, (now - this.started) / 1000));
    this.io.stderr.write(`\r\x1b[K${lines.toLocaleString('en')} lines · ${added.toLocaleString('en')} new · ${rejected} rejected · ${rate.toLocaleString('en')} lines/s`);
    if (force) this.io.stderr.write('\n');
  }
}

async function importList(args: string[], io: CliIO): Promise<number> {
  if (args.length !== 1) throw new UsageError('name one file, or - for standard input');
  const source = args[0];
  if (source !== '-') {
    try {
      await access(source);
    } catch {
      throw new UsageError(`cannot read ${JSON.stringify(source)}`);
    }
  }
  const ctx = await openDbContext(io.env);
  const progress = new Progress(io);
  let lineNumber = 0;
  let added = 0;
  let valid = 0;
  let rejected = 0;
  let batch: NewRepo[] = [];
  try {
    const input = source === '-' ? io.stdin : createReadStream(source);
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) {
      lineNumber++;
      const parsed = parseImportLine(line, lineNumber, ctx.config.allowedHosts);
      if (parsed.kind === 'repo') {
        valid++;
        batch.push({ repo: parsed.repo, metadata: parsed.metadata });
        if (batch.length >= BATCH) {
          added += await addRepos(ctx.db, batch);
          batch = [];
        }
      } else if (parsed.kind === 'invalid') {
        rejected++;
        io.stderr.write(`${io.interactive ? '\r\x1b[K' : ''}line ${lineNumber}: ${parsed.reason}\n`);
      }
      progress.update(lineNumber, added, rejected);
    }
    added += await addRepos(ctx.db, batch);
    progress.update(lineNumber, added, rejected, true);
    io.stdout.write(`read ${lineNumber} lines: ${added} new, ${valid - added} already present or repeated, ${rejected} rejected\n`);
    return rejected > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

async function list(args: string[], io: CliIO): Promise<number> {
  let json = false;
  for (const a of args) {
    if (a === '--json') json = true;
    else throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
  }
  const ctx = await openDbContext(io.env);
  try {
    let afterId = 0;
    for (;;) {
      const rows = await listRepos(ctx.db, { afterId, limit: 5000 });
      if (rows.length === 0) break;
      afterId = rows[rows.length - 1].id;
      const text = rows
        .map((r) =>
          json
            ? JSON.stringify({ repo: r.canonical, priority: r.priority, nextDueAt: r.next_due_at, failures: r.consecutive_failures, lastError: r.last_error })
            : `${r.canonical}\t${new Date(r.next_due_at).toISOString()}\t${r.consecutive_failures}${r.last_error ? `\t${r.last_error}` : ''}`,
        )
        .join('\n');
      if (!io.stdout.write(text + '\n')) await new Promise((r) => io.stdout.once('drain', r));
    }
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

export const commands: Command[] = [
  { words: ['repos', 'add'], usage: 'repos add <repo…>', summary: 'add repositories (owner/repo, github.com/owner/repo or a URL)', run: add },
  { words: ['repos', 'import'], usage: 'repos import <file|->', summary: 'import a list: one repository a line, or Scorecard\'s repo,metadata CSV', run: importList },
  { words: ['repos', 'list'], usage: 'repos list [--json]', summary: 'list repositories with their next due time and failures', run: list },
];
