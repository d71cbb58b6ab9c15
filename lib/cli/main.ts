// Dispatches `posture <words…>` to a command, parses its options (util.parseArgs), prints help
// and the version, and maps failures to exit codes with one clear line (no stack traces).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/index.ts';
import { commands as admissionCommands } from './admission.ts';
import { commands as auditCommands } from './audit.ts';
import { commands as dbCommands } from './db.ts';
import { commands as demoCommands } from './demo.ts';
import { forwardToRunningUp } from './forward.ts';
import { commands as generateCommands } from './generate.ts';
import { commandHelp, HELP_OPTION, listHelp } from './help.ts';
import { commands as jobCommands } from './jobs.ts';
import { commands as policyCommands } from './policy.ts';
import { commands as reportCommands } from './report.ts';
import { commands as repoCommands } from './repos.ts';
import { commands as resultCommands } from './results.ts';
import { commands as scoreCommands } from './scores.ts';
import { commands as sourceCommands } from './sources.ts';
import { type CliIO, type Command, EXIT, InputError, type Parsed, UsageError } from './types.ts';
import { commands as upCommands } from './up.ts';
import { commands as webhookCommands } from './webhooks.ts';

// Each group module exports its commands; adding a group is one import and one spread here.
export const allCommands: Command[] = [
  ...upCommands,
  ...dbCommands,
  ...repoCommands,
  ...sourceCommands,
  ...scoreCommands,
  ...policyCommands,
  ...reportCommands,
  ...jobCommands,
  ...resultCommands,
  ...admissionCommands,
  ...webhookCommands,
  ...auditCommands,
  ...generateCommands,
  ...demoCommands,
];

export const VERSION: string = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version;

const isHelp = (a: string) => a === '--help' || a === '-h';

export function findCommand(argv: string[]): { command: Command; args: string[] } | undefined {
  let best: Command | undefined;
  for (const c of allCommands) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best ? { command: best, args: argv.slice(best.words.length) } : undefined;
}

/** The options of a command, parsed strictly; `--help` anywhere before `--` is reported as help. */
export function parseCommandArgs(c: Command, args: string[]): Parsed | 'help' {
  const dashdash = args.indexOf('--');
  if ((dashdash < 0 ? args : args.slice(0, dashdash)).some(isHelp)) return 'help';
  if (!c.options) return { values: {}, positionals: dashdash < 0 ? args : [...args.slice(0, dashdash), ...args.slice(dashdash + 1)] };
  const options = Object.fromEntries(
    Object.entries(c.options).map(([n, o]) => [n, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: HELP_OPTION.short } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    // Node's messages suggest `--` tricks; keep the first sentence, which names the option.
    throw new UsageError(
      (err as Error).message
        .split(/\.\s/)[0]
        .replace(/\.$/, '')
        .replace(/^Unknown option/, 'unknown option')
        .replace(/^Option/, 'option'),
    );
  }
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [first] = argv;
  if (first === '--version' || first === '-V' || first === 'version') {
    io.stdout.write(`posture ${VERSION}\n`);
    return EXIT.ok;
  }
  if (argv.length === 0 || first === 'help' || isHelp(first)) {
    (argv.length === 0 ? io.stderr : io.stdout).write(listHelp(allCommands, VERSION));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    // `posture repos`, `posture repos --help`: the group's commands.
    const group = allCommands.some((c) => c.words.length > 1 && c.words[0] === first) ? first : undefined;
    if (group && (argv.length === 1 || argv.slice(1).every(isHelp))) {
      (argv.length === 1 ? io.stderr : io.stdout).write(listHelp(allCommands, VERSION, group));
      return argv.length === 1 ? EXIT.usage : EXIT.ok;
    }
    io.stderr.write(`posture: unknown command ${JSON.stringify(argv.slice(0, group ? 2 : 1).join(' '))}\n\n${listHelp(allCommands, VERSION, group)}`);
    return EXIT.usage;
  }
  const { command, args } = found;
  try {
    const parsed = parseCommandArgs(command, args);
    if (parsed === 'help') {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    if (command.database && !io.database) {
      const forwarded = await forwardToRunningUp(argv, io);
      if (forwarded !== undefined) return forwarded;
    }
    return await command.run(parsed.positionals, io, parsed);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`posture: ${err.message}\nusage: posture ${command.usage}\n(see posture ${command.words.join(' ')} --help)\n`);
      return EXIT.usage;
    }
    if (err instanceof InputError) {
      io.stderr.write(`posture: ${err.message}\n`);
      return err.exitCode;
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
  return err instanceof Error && (err.name === 'DatabaseUnreachableError' || err.name === 'DatabaseBusyError' || err.name === 'ControlUnreachableError');
}
