// The contract every `posture` sub-command implements, and the exit codes they share.
import type { Readable, Writable } from 'node:stream';

export const EXIT = {
  ok: 0,
  /** Bad command line. */
  usage: 1,
  /** Some input was rejected (invalid repository, bad result...); the rest was processed. */
  rejected: 2,
  /** The database (or cluster) could not be reached. */
  unreachable: 3,
} as const;

export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** True when stderr is a terminal (progress bars go there). */
  interactive: boolean;
}

export interface Command {
  /** Words that select the command, e.g. ['repos', 'add']. */
  words: readonly string[];
  usage: string;
  summary: string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** Thrown for a bad command line; printed with the usage, exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
