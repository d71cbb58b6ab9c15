// Label selectors and log tails read the way the API server and the kubelet read them, for the
// in-memory and local stand-ins of the cluster.

/** The last `n` lines of a text (a trailing newline ends the last line, it does not start another). */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  return lines.slice(-n).join('\n') + (trailing === undefined ? '' : '\n');
}

/** Equality (`k=v`) and set (`k in (a,b)`) requirements joined by commas, as the API server reads them. */
export function selectorMatcher(selector: string): (labels: Record<string, string>) => boolean {
  const reqs: Array<(l: Record<string, string>) => boolean> = [];
  for (const m of selector.matchAll(/([^,=\s]+)\s+in\s+\(([^)]*)\)|([^,=\s]+)\s*==?\s*([^,\s]*)/g)) {
    if (m[1]) {
      const set = new Set(m[2].split(',').map((x) => x.trim()));
      reqs.push((l) => l[m[1]] !== undefined && set.has(l[m[1]]));
    } else {
      reqs.push((l) => l[m[3]] === m[4]);
    }
  }
  return (labels) => reqs.every((r) => r(labels));
}
