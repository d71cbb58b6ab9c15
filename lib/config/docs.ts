// The generated sections of the documentation (between marker comments), so the documented
// configuration can never drift from lib/config/spec.ts: `npm run generate` rewrites them and
// lib/config/docs.test.ts fails when a committed page is stale.
import { configTable } from './index.ts';

/** Each page with generated sections (path from the repository root) → its sections by name. */
export const GENERATED_SECTIONS: Readonly<Record<string, Readonly<Record<string, () => string>>>> = {
  'docs/operate/configuration.md': { config: configTable },
};

export const beginMarker = (name: string) => `<!-- generated:${name} begin (npm run generate) -->`;
export const endMarker = (name: string) => `<!-- generated:${name} end -->`;

/** Returns `text` (the page at `path`) with every generated section replaced by its current content. */
export function renderGeneratedSections(path: string, text: string, sections = GENERATED_SECTIONS[path] ?? {}): string {
  let out = text;
  for (const [name, render] of Object.entries(sections)) {
    const begin = beginMarker(name);
    const end = endMarker(name);
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`${path} lacks the markers of the generated section "${name}" (${begin} … ${end})`);
    out = `${out.slice(0, i + begin.length)}\n${render()}\n${out.slice(j)}`;
  }
  return out;
}
