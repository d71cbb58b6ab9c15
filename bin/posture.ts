#!/usr/bin/env node
// `posture`: the command line for people. Each command group lives in lib/cli/; this file only
// dispatches and turns known errors into exit codes and one clear line (no stack traces), and hands
// the commands the admission function's webhooks folder (lib/ does not know where functions live).
import { WEBHOOKS_DIR } from '../functions/admission/webhooks-dir.ts';
import { runCli } from '../lib/cli/main.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interactive: Boolean(process.stderr.isTTY),
  webhooksDir: WEBHOOKS_DIR,
});
