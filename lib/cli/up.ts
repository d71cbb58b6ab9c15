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
      const handle = await up({ env: io.env, out: io.stdout });
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
