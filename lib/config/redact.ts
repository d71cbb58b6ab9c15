// The one place a database URL becomes text: for operators' logs and the command line, never for
// replies, admission warnings or pages (those say DATABASE_UNAVAILABLE and nothing else).
//
// The URL is parsed as pg parses it (pg-connection-string: the WHATWG URL parser, after the same
// two fix-ups), so a password is found where pg would find it: in the userinfo (an unescaped `@`
// inside it included: the parser splits at the last `@`), or in the query (`?password=`,
// `?sslpassword=`, and any other parameter pg passes on). Only a short list of query parameters that
// name the target or the TLS mode keep their values; every other value becomes `***`. A string
// that does not parse as an absolute URL (a libpq `host=… password=…` string, a socket path) is
// not shown at all: there is no way to know where its secrets are.

/**
 * What a reply, an admission warning, a page or `/readyz` says when the database fails. Never its
 * target, nor pg's own words: they name the host and port (`connect ECONNREFUSED 10.0.0.5:5432`),
 * the user (`password authentication failed for user "x"`) and the database (`database "y" does
 * not exist`), and those replies reach people who were never given DATABASE_URL.
 */
export const DATABASE_UNAVAILABLE = 'database unavailable';

/** What a database URL that cannot be parsed is shown as. */
export const UNSHOWABLE_URL = '(a database URL that cannot be shown)';

// Query parameters pg-connection-string reads that say where to connect or how, and hold no secret.
const SHOWN_PARAMS = new Set([
  'host',
  'port',
  'user',
  'db',
  'encoding',
  'client_encoding',
  'application_name',
  'fallback_application_name',
  'connect_timeout',
  'ssl',
  'sslmode',
  'sslnegotiation',
  'uselibpqcompat',
]);

// pg-connection-string's own fix-ups before `new URL`: spaces and stray `%` are encoded, and an
// empty host after credentials (`postgres://u:p@/db?host=/socket`) gets a placeholder.
const DUMMY_HOST = '___DUMMY___';
function parseAsPg(raw: string): { url: URL; dummyHost: boolean } {
  // `alice:hunter2@db` parses too (scheme `alice:`, the rest a path): only `scheme://` has parts.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw new Error('not an absolute URL');
  const str = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(raw) ? encodeURI(raw).replace(/%25(\d\d)/g, '%$1') : raw;
  // No base URL (pg's has one): a string without a scheme is not a URL whose parts we can name.
  try {
    return { url: new URL(str), dummyHost: false };
  } catch {
    return { url: new URL(str.replace('@/', `@${DUMMY_HOST}/`)), dummyHost: true };
  }
}

/** A URL with every secret replaced by `***`: the password, secret query values, the fragment. */
export function redactUrl(raw: string): string {
  let parsed: { url: URL; dummyHost: boolean };
  try {
    parsed = parseAsPg(raw);
  } catch {
    return UNSHOWABLE_URL;
  }
  const { url, dummyHost } = parsed;
  if (url.password !== '') url.password = '***';
  const query = new URLSearchParams();
  for (const [key, value] of url.searchParams) query.append(key, SHOWN_PARAMS.has(key) ? value : '***');
  url.search = query.size > 0 ? query.toString().replaceAll('%2A%2A%2A', '***') : '';
  url.hash = '';
  const text = url.toString();
  return dummyHost ? text.replace(`@${DUMMY_HOST}/`, '@/') : text;
}

/** Text (an error message, a log line) with every `postgres://` or `postgresql://` URL in it redacted. */
export function redactUrlsIn(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/\S+/gi, (u) => redactUrl(u));
}
