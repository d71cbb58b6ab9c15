// Test and benchmark helpers: the real Scorecard fixtures and pod logs built around them.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fixtureFiles } from '../../test/fixtures/scorecard.ts';

export interface Fixture {
  /** The file name. */
  file: string;
  /** Where it is: the project's fixtures, or the shared corpus when present. */
  path: string;
  /** The file as published (one line, or pretty-printed for 06 and 08). */
  text: string;
  /** The same document minified: what the CLI prints on stdout. */
  line: string;
  value: {
    date: string;
    repo: { name: string; commit: string };
    scorecard: { version: string; commit: string };
    score: number;
    checks: Array<{ name: string; score: number; reason: string; details: string[] | null }>;
  };
}

export function loadFixtures(): Fixture[] {
  return fixtureFiles().map((path) => {
    const text = readFileSync(path, 'utf8');
    const value = JSON.parse(text);
    return { file: basename(path), path, text, line: JSON.stringify(value), value };
  });
}

export function largestFixture(): Fixture {
  return loadFixtures().reduce((a, b) => (b.text.length > a.text.length ? b : a));
}

/** Lines a Scorecard container writes to stderr, in the styles seen in pod logs. */
export const STDERR_LINES = [
  'Starting [Binary-Artifacts]',
  '2024/05/25 20:38:05 unable to get tarball: GET https://codeload.github.com/o/r/legacy.tar.gz/HEAD: 502. Skipping...',
  '{"level":"info","ts":1716669485.123,"caller":"checker/check_runner.go:120","msg":"check finished","check":"Pinned-Dependencies"}',
  '{"level":"warning","msg":"GitHub rate limit almost reached","remaining":12,"time":"2024-05-25T20:38:05Z"}',
  'time="2024-05-25T20:38:05Z" level=info msg="Finished [Binary-Artifacts]"',
  '\u001b[33mWARN\u001b[0m colourful stderr line',
  '{"severity":"DEBUG","message":"a GCP-style structured log line with \\"checks\\":[] inside"}',
  'Finished [Binary-Artifacts]',
];

/** A log of about `bytes` bytes of stderr-like noise, ASCII only, with `result` (if any) as its last line. */
export function noisyLog(bytes: number, result?: string): string {
  const noise = `${STDERR_LINES.filter((l) => !l.includes('\u001b')).join('\n')}\n`;
  const tail = result === undefined ? '' : `${result}\n`;
  const room = Math.max(0, bytes - tail.length);
  return noise.repeat(Math.floor(room / noise.length)) + tail;
}

/** A full garbage collection, so memory figures measure what is retained, not what is pending. */
export function collectGarbage(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  // Twice: array buffer backing stores freed by the first pass are only accounted after the second.
  gcFunction();
  gcFunction();
}
let gcFunction: (() => void) | undefined;
