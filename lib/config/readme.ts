// The README's generated sections (between marker comments), so the documented configuration
// can never drift from lib/config/spec.ts: a test fails when the README is stale.
import { configTable } from './index.ts';

const sections: Record<string, () => string> = {
  config: configTable,
};

/** Returns the README with every generated section replaced by its current content. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(sections)) {
    const begin = `<!-- generated:${name} begin (npm run generate) -->`;
    const end = `<!-- generated:${name} end -->`;
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`README.md lacks the markers of the generated section "${name}"`);
    out = out.slice(0, i + begin.length) + '\n' + render() + '\n' + out.slice(j);
  }
  return out;
}
