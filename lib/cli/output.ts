// `-o table|wide|json|yaml` for commands that print a list, streamed page by page so a list of
// any length prints in bounded memory. Table columns are sized from the first page (later, longer
// values push their line out rather than holding everything back to measure it).
import type { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { type OptionSpec, UsageError } from './types.ts';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const OUTPUT_OPTION: OptionSpec = { type: 'string', short: 'o', value: 'FORMAT', help: 'table (default), wide (more columns), json or yaml' };

export function outputFormat(value: unknown): OutputFormat {
  if (value === undefined) return 'table';
  if (typeof value === 'string' && (OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new UsageError(`-o must be one of ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(value)}`);
}

export interface Column<T> {
  header: string;
  value(row: T): string;
  /** Only with -o wide. */
  wide?: boolean;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise((r) => out.once('drain', r));
}

/** Table cells are one line: newlines and tabs in a value (an error message) become spaces. */
const cell = (s: string) => s.replace(/[\r\n\t]+/g, ' ');

export class ListPrinter<T> {
  readonly #out: Writable;
  readonly #format: OutputFormat;
  readonly #columns: Column<T>[];
  readonly #toObject: (row: T) => unknown;
  #widths: number[] | undefined;
  #count = 0;

  constructor(out: Writable, format: OutputFormat, columns: Column<T>[], toObject: (row: T) => unknown) {
    this.#out = out;
    this.#format = format;
    this.#columns = columns.filter((c) => format === 'wide' || !c.wide);
    this.#toObject = toObject;
  }

  get printed(): number {
    return this.#count;
  }

  async page(rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return;
    let text = '';
    if (this.#format === 'json') {
      text = rows.map((r, i) => `${this.#count + i === 0 ? '[\n' : ',\n'}  ${JSON.stringify(this.#toObject(r))}`).join('');
    } else if (this.#format === 'yaml') {
      text = rows.map((r) => stringify([this.#toObject(r)], { lineWidth: 0 })).join('');
    } else {
      const cells = rows.map((r) => this.#columns.map((c) => cell(c.value(r))));
      if (!this.#widths) {
        this.#widths = this.#columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
        text += this.#line(this.#columns.map((c) => c.header));
      }
      text += cells.map((row) => this.#line(row)).join('');
    }
    this.#count += rows.length;
    await write(this.#out, text);
  }

  #line(cells: string[]): string {
    return `${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(this.#widths![i])))
      .join('   ')
      .trimEnd()}\n`;
  }

  /** Closes the JSON array; returns how many rows were printed. */
  async end(): Promise<number> {
    if (this.#format === 'json') await write(this.#out, this.#count === 0 ? '[]\n' : '\n]\n');
    else if (this.#format === 'yaml' && this.#count === 0) await write(this.#out, '[]\n');
    return this.#count;
  }
}
