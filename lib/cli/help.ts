// Help text: pure functions of the command declarations, wrapped to fit 80 columns.
import type { Command, OptionSpec } from './types.ts';

export const HELP_WIDTH = 80;

/** Wraps text at spaces to `width`; continuation lines start with `indent` spaces. Words longer than a line are kept whole. */
export function wrap(text: string, width: number, indent = 0, firstIndent = indent): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = ' '.repeat(out.length === 0 ? firstIndent : indent);
    let empty = true;
    for (const word of paragraph.split(/ +/).filter((w) => w !== '')) {
      if (!empty && line.length + 1 + word.length > width) {
        out.push(line);
        line = ' '.repeat(indent) + word;
      } else {
        line += (empty ? '' : ' ') + word;
      }
      empty = false;
    }
    out.push(line.trimEnd());
  }
  return out;
}

/** Two columns: names on the left, wrapped text on the right (or below when the name is long). */
function columns(rows: Array<[string, string]>, width = HELP_WIDTH): string[] {
  const left = Math.min(28, Math.max(...rows.map(([n]) => n.length)) + 2);
  const lines: string[] = [];
  for (const [name, text] of rows) {
    if (name.length + 2 > left) {
      lines.push(...wrap(name, width, 6, 2));
      lines.push(...wrap(text, width, left + 2));
    } else {
      const body = wrap(text, width - left - 2, 0);
      lines.push(`  ${name.padEnd(left)}${body[0]}`.trimEnd(), ...body.slice(1).map((b) => `${' '.repeat(left + 2)}${b}`.trimEnd()));
    }
  }
  return lines;
}

function optionName(name: string, o: OptionSpec): string {
  const long = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

export function commandHelp(c: Command): string {
  const lines = [...wrap(`usage: posture ${c.usage}`, HELP_WIDTH, 8, 0), '', ...wrap(c.summary, HELP_WIDTH)];
  if (c.description) lines.push('', ...wrap(c.description, HELP_WIDTH));
  const options = Object.entries({ ...(c.options ?? {}), help: HELP_OPTION });
  lines.push('', 'options:', ...columns(options.map(([n, o]) => [optionName(n, o), o.help])));
  return `${lines.join('\n')}\n`;
}

/** The list of commands, all of them or those under one group word (e.g. `repos`). */
export function listHelp(commands: readonly Command[], version: string, group?: string): string {
  const shown = group ? commands.filter((c) => c.words[0] === group) : commands;
  const lines = group
    ? [`usage: posture ${group} <command> [options]`, '', 'commands:']
    : [
        `posture ${version}: keeps OpenSSF Scorecard scores fresh on Kubernetes and guards`,
        'the cluster with admission webhooks.',
        '',
        'usage: posture <command> [options]',
        '',
        'commands:',
      ];
  lines.push(...columns(shown.map((c) => [c.words.join(' '), c.summary])));
  lines.push('', `Run \`posture ${group ? `${group} ` : ''}<command> --help\` for a command's options and exit codes.`);
  if (!group) lines.push('Global options: -h, --help; -V, --version.');
  return `${lines.join('\n')}\n`;
}
