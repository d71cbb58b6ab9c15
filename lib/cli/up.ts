// `posture up`: see lib/up/up.ts. Runs until SIGINT or SIGTERM.
import { up } from '../up/up.ts';
import { EXIT, UsageError, type Command } from './types.ts';

export const commands: Command[] = [
  {
    words: ['up'],
    usage: 'up',
    summary: 'run posture on this machine: scheduler, harvester, admission and score API in one process',
    async run(args, io) {
      if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
      let handle;
      try {
        handle = await up({ env: io.env, out: io.stdout });
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
