// Dispatches `posture <words…>` to a command and maps failures to exit codes.
import { ConfigError } from '../config/index.ts';
import { EXIT, UsageError, type CliIO, type Command } from './types.ts';
import { commands as dbCommands } from './db.ts';
import { commands as repoCommands } from './repos.ts';
import { commands as jobCommands } from './jobs.ts';
import { commands as generateCommands } from './generate.ts';
import { commands as upCommands } from './up.ts';
import { commands as resultCommands } from './results.ts';
import { commands as webhookCommands } from './webhooks.ts';
import { commands as admissionCommands } from './admission.ts';
import { commands as demoCommands } from './demo.ts';

// Each group module exports its commands; adding a group is one import and one spread here.
const all: Command[] = [...dbCommands, ...repoCommands, ...jobCommands, ...generateCommands, ...upCommands, ...resultCommands, ...webhookCommands, ...admissionCommands, ...demoCommands];

function help(): string {
  const width = Math.max(...all.map((c) => c.usage.length));
  return ['usage: posture <command> [args]', '', ...all.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`)].join('\n') + '\n';
}

export function findCommand(argv: string[]): { command: Command; args: string[] } | undefined {
  let best: Command | undefined;
  for (const c of all) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best ? { command: best, args: argv.slice(best.words.length) } : undefined;
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    (argv.length === 0 ? io.stderr : io.stdout).write(help());
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    io.stderr.write(`posture: unknown command ${JSON.stringify(argv.join(' '))}\n\n${help()}`);
    return EXIT.usage;
  }
  try {
    return await found.command.run(found.args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`posture: ${err.message}\nusage: posture ${found.command.usage}\n`);
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`posture: ${err.message}\n`);
      return EXIT.usage;
    }
    if (isUnreachable(err)) {
      io.stderr.write(`posture: ${(err as Error).message}\n`);
      return EXIT.unreachable;
    }
    throw err;
  }
}

function isUnreachable(err: unknown): boolean {
  return err instanceof Error && (err.name === 'DatabaseUnreachableError' || err.name === 'DatabaseBusyError');
}
