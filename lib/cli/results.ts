// `posture results parse [file|-]`: what the harvester would make of a Scorecard pod log. It
// runs the harvester's own reading and classification (readCapped under the configured byte
// cap, then classify) with no pod facts, i.e. as if the container had exited 0.
import { createReadStream } from 'node:fs';
import { loadConfig } from '../config/index.ts';
import { type Classification, classifyPodLog, NO_POD_FACTS, type PodLogVerdict } from '../scorecard/index.ts';
import { type Command, EXIT, UsageError } from './types.ts';

export const commands: Command[] = [
  {
    words: ['results', 'parse'],
    usage: 'results parse [file|-]',
    summary: 'classify a Scorecard pod log as the harvester would; print one JSON object (exit 2 when there is no valid result)',
    async run(args, io) {
      if (args.length > 1) throw new UsageError('name at most one log file (or - for standard input)');
      if (args[0] !== undefined && args[0] !== '-' && args[0].startsWith('-')) throw new UsageError(`unknown option ${args[0]}`);
      const config = loadConfig(io.env);
      const file = args[0] === undefined || args[0] === '-' ? null : args[0];
      let verdict: PodLogVerdict;
      try {
        const chunks = file === null ? io.stdin : createReadStream(file);
        verdict = await classifyPodLog(chunks, NO_POD_FACTS, { capBytes: config.logByteCap });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const what = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
        io.stderr.write(`posture: cannot read ${file === null ? 'standard input' : JSON.stringify(file)}: ${what}\n`);
        return EXIT.usage;
      }
      io.stdout.write(`${JSON.stringify(printable(verdict.classification))}\n`);
      return verdict.classification.ok ? EXIT.ok : EXIT.rejected;
    },
  },
];

// The raw document is what the database keeps; on a terminal it only repeats the fields above it.
function printable(c: Classification): unknown {
  if (!c.ok) return { ok: false, failure: c.failure, reason: c.reason };
  const { raw: _raw, ...result } = c.result;
  return { ok: true, flagged: c.flagged, internalErrors: c.internalErrors, result };
}
