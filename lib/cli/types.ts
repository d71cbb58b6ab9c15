// The contract every `posture` sub-command implements, and the exit codes they share.
//
// A command is one declaration: the words that select it, a one-line summary, its options (the
// shape util.parseArgs takes, plus a help line each) and run(). main.ts parses the options,
// prints help (`posture <words…> --help`) and maps errors to exit codes; a module exports
// `commands: Command[]` and main.ts lists the module once.
import type { Readable, Writable } from 'node:stream';

export const EXIT = {
  ok: 0,
  /** Bad command line, or a file that cannot be read. */
  usage: 1,
  /** Some input was rejected (invalid repository, bad result, not a text file...); the rest was processed. */
  rejected: 2,
  /** The database (or cluster) could not be reached. */
  unreachable: 3,
  /** `admission review --exit-code`: the webhook denied the request; `policy check`: the verdict is fail. */
  denied: 4,
  /** `policy check`: the verdict is unknown (a rule cannot be judged, no result, or too old). */
  unknown: 5,
} as const;

export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** True when stderr is a terminal (progress bars go there). */
  interactive: boolean;
  /** Folder relative file names are read from (the caller's, when run inside `posture up`). */
  cwd?: string;
  /**
   * The admission function's webhooks folder, for the commands that load the webhook registry
   * (bin/posture.ts takes it from the function: lib/ does not know where functions live).
   */
  webhooksDir: string;
  /**
   * The database to use instead of opening one: set when the command runs inside `posture up`,
   * which holds the embedded database (see lib/up/control.ts).
   */
  database?: SharedDatabase;
}

/** A database someone else opened and will close (posture up's). */
export interface SharedDatabase {
  config: import('../config/index.ts').Config;
  db: import('../db/index.ts').Db;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Name of the value in the help, e.g. FILE. */
  value?: string;
  help: string;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export interface Command {
  /** Words that select the command, e.g. ['repos', 'add']. */
  words: readonly string[];
  /** The usage line after `posture`, e.g. 'repos add <repo…>'. */
  usage: string;
  summary: string;
  /** More help, printed under the usage (wrapped at 80 columns). */
  description?: string;
  /**
   * Options for util.parseArgs (strict; positionals allowed). When given, run() receives the
   * parsed values; without it run() gets the raw words (older commands parse their own).
   */
  options?: Record<string, OptionSpec>;
  /** Reads or writes the database: forwarded to a running `posture up` that holds the embedded one. */
  database?: boolean;
  run(args: string[], io: CliIO, parsed: Parsed): Promise<number>;
}

/** Thrown for a bad command line; printed with the usage, exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Thrown for a file that cannot be read: one line, exit 1 (no usage: the command line was right). */
export class InputError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = 'InputError';
    this.exitCode = exitCode;
  }
}
