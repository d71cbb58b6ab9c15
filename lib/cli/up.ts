// `posture up`: see lib/up/up.ts. Runs until SIGINT or SIGTERM. Database commands of other
// `posture` processes run inside it, over its control socket (lib/up/control.ts).
import type { ControlRequest, ControlStreams } from '../up/control.ts';
import type { UpHandle, UpOptions } from '../up/up.ts';
import { withSharedDatabase } from './context.ts';
import { type Command, EXIT, UsageError } from './types.ts';

/** Runs a forwarded command on up's database; only database commands are taken. */
export function controlRunner(env: Record<string, string | undefined>, webhooksDir: string): NonNullable<UpOptions['control']> {
  return async (request: ControlRequest, streams: ControlStreams, database) => {
    // main.ts imports this module: import it when a command arrives, not at load time.
    const { findCommand, runCli } = await import('./main.ts');
    if (!findCommand(request.argv)?.command.database) {
      streams.stderr.write(`posture up: only database commands run through posture up, not ${JSON.stringify(request.argv.join(' '))}\n`);
      return EXIT.usage;
    }
    // Commands that open the database from their env (not their io) get up's too.
    return withSharedDatabase(database, () => runCli(request.argv, { ...streams, env, interactive: false, cwd: request.cwd, database, webhooksDir }));
  };
}

export const commands: Command[] = [
  {
    words: ['up'],
    usage: 'up',
    summary: 'run posture on this machine: scheduler, harvester, admission and score API in one process',
    description:
      'What `npm start` runs. Other `posture` commands keep working while it runs: on the embedded database they run inside it (through .posture/control.sock, for this user only); with DATABASE_URL they connect directly. ' +
      'Exit 0 on SIGINT or SIGTERM; 1 a port is in use; 3 database unreachable or in use.',
    options: {},
    async run(args, io) {
      if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
      // Loaded here: the Kubernetes client is large, and other commands (and --help) do not need it.
      const { up } = await import('../up/up.ts');
      let handle: UpHandle;
      try {
        handle = await up({ env: io.env, out: io.stdout, webhooksDir: io.webhooksDir, control: controlRunner(io.env, io.webhooksDir) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { port?: number };
        if (e.code !== 'EADDRINUSE') throw err;
        io.stderr.write(`posture: port ${e.port} is in use; set PORT (score API) or POSTURE_ADMISSION_PORT (admission) to a free one\n`);
        return EXIT.usage;
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      io.stdout.write('stopping\n');
      await handle.stop();
      return EXIT.ok;
    },
  },
];
