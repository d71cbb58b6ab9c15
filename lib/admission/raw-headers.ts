// The two headers a review needs (content type and length), read from Node's raw header list in
// one pass instead of `req.headers`. Reading `req.headers` makes Node build that object on the
// spot (a keyed store and a string internalised per header), which a review meeting the server
// with cold caches pays for: bench/admission-replay.ts shows it in the CPU per review.
// Names match whatever their case on the wire; only letters fold, every other character matches exactly.

/** The first content-length and content-type values of a raw header list ([name, value, name, value, …]). */
export function bodyHeaders(raw: readonly string[]): { contentLength: string | undefined; contentType: string | undefined } {
  let contentLength: string | undefined;
  let contentType: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (contentLength === undefined && isHeaderName(k, 'content-length')) contentLength = raw[i + 1];
    else if (contentType === undefined && isHeaderName(k, 'content-type')) contentType = raw[i + 1];
  }
  return { contentLength, contentType };
}

/** `name` is `lowerName` in any case of its letters (every other character exactly). */
function isHeaderName(name: string, lowerName: string): boolean {
  const n = lowerName.length;
  if (name.length !== n) return false;
  for (let j = 0; j < n; j++) {
    const c = name.charCodeAt(j);
    const l = lowerName.charCodeAt(j);
    if (c !== l && !(l >= 0x61 && l <= 0x7a && c === l - 0x20)) return false;
  }
  return true;
}
