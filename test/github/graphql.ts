// Just enough GraphQL for the fake GitHub: parses one query operation (fields, aliases,
// arguments, variables, inline fragments) and projects a tree of resolvers onto it, so the
// answer holds exactly the fields the client asked for. githubv4 (Scorecard's client) refuses
// an answer with a field its query did not ask for, and each Scorecard version asks for other
// fields: answering by selection keeps one resolver tree right for all of them.

export type Args = Record<string, unknown>;
/** A value, or a function of the field's arguments giving one; objects are resolved field by field. */
export type Resolver = unknown;

interface Field {
  kind: 'field';
  name: string;
  alias?: string;
  args: Args;
  selections?: Selection[];
}
interface Fragment {
  kind: 'fragment';
  typeCondition?: string;
  selections: Selection[];
}
type Selection = Field | Fragment;

export class GraphQLSyntaxError extends Error {}

const TOKEN = /\.\.\.|[{}()[\]:!$=@|]|[_A-Za-z][_0-9A-Za-z]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"/y;
// Commas are whitespace in GraphQL; comments run to the end of the line.
const SKIP = /(?:[\s,]+|#[^\n]*)*/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  for (let pos = 0; ; ) {
    SKIP.lastIndex = pos;
    SKIP.exec(src);
    pos = SKIP.lastIndex;
    if (pos >= src.length) return out;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new GraphQLSyntaxError(`unexpected character at ${pos}: ${src.slice(pos, pos + 20)}`);
    out.push(m[0]);
    pos = TOKEN.lastIndex;
  }
}

/** Parses a query document's first operation into its selection set, with variables substituted. */
export function parseQuery(query: string, variables: Args = {}): Selection[] {
  const t = tokenize(query);
  let i = 0;
  const peek = () => t[i];
  const next = () => {
    if (i >= t.length) throw new GraphQLSyntaxError('unexpected end of query');
    return t[i++];
  };
  const expect = (s: string) => {
    const got = next();
    if (got !== s) throw new GraphQLSyntaxError(`expected ${s}, got ${got}`);
  };
  const skipBalanced = (open: string, close: string) => {
    expect(open);
    for (let depth = 1; depth > 0; ) {
      const s = next();
      if (s === open) depth++;
      else if (s === close) depth--;
    }
  };
  const value = (): unknown => {
    const s = next();
    if (s === '$') {
      const name = next();
      return Object.hasOwn(variables, name) ? variables[name] : null;
    }
    if (s.startsWith('"')) return JSON.parse(s);
    if (/^-?\d/.test(s)) return Number(s);
    if (s === 'true' || s === 'false') return s === 'true';
    if (s === 'null') return null;
    if (s === '[') {
      const list: unknown[] = [];
      while (peek() !== ']') list.push(value());
      next();
      return list;
    }
    if (s === '{') {
      const obj: Args = {};
      while (peek() !== '}') {
        const k = next();
        expect(':');
        obj[k] = value();
      }
      next();
      return obj;
    }
    return s; // an enum value
  };
  const selectionSet = (): Selection[] => {
    expect('{');
    const out: Selection[] = [];
    while (peek() !== '}') {
      if (peek() === '...') {
        next();
        let typeCondition: string | undefined;
        if (peek() === 'on') {
          next();
          typeCondition = next();
        }
        out.push({ kind: 'fragment', typeCondition, selections: selectionSet() });
        continue;
      }
      let name = next();
      let alias: string | undefined;
      if (peek() === ':') {
        next();
        alias = name;
        name = next();
      }
      const args: Args = {};
      if (peek() === '(') {
        next();
        while (peek() !== ')') {
          const k = next();
          expect(':');
          args[k] = value();
        }
        next();
      }
      while (peek() === '@') {
        next();
        next();
        if (peek() === '(') skipBalanced('(', ')');
      }
      out.push({ kind: 'field', name, alias, args, selections: peek() === '{' ? selectionSet() : undefined });
    }
    next();
    return out;
  };
  if (peek() === 'query') {
    next();
    if (peek() !== '(' && peek() !== '{') next(); // the operation's name
  } else if (peek() === 'mutation' || peek() === 'subscription') {
    throw new GraphQLSyntaxError(`${peek()} is not supported by the fake`);
  }
  if (peek() === '(') skipBalanced('(', ')');
  return selectionSet();
}

export interface GraphQLError {
  type?: string;
  path: string[];
  message: string;
}

/**
 * Resolves `selections` against `resolver`. A resolver function gets the field's arguments and
 * may throw a FieldError: the field becomes null and the error is reported, as GitHub does for
 * a repository it cannot find.
 */
export function execute(selections: Selection[], root: Resolver): { data: unknown; errors: GraphQLError[] } {
  const errors: GraphQLError[] = [];
  const project = (value: unknown, sels: Selection[], path: string[]): unknown => {
    if (value === null || value === undefined) return null;
    if (Array.isArray(value)) return value.map((v, n) => project(v, sels, [...path, String(n)]));
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const s of sels) {
      if (s.kind === 'fragment') {
        if (!s.typeCondition || obj.__typename === undefined || obj.__typename === s.typeCondition) Object.assign(out, project(obj, s.selections, path));
        continue;
      }
      const key = s.alias ?? s.name;
      let v: unknown = obj[s.name];
      try {
        if (typeof v === 'function') v = v(s.args);
      } catch (e) {
        if (!(e instanceof FieldError)) throw e;
        errors.push({ ...(e.type ? { type: e.type } : {}), path: [...path, key], message: e.message });
        v = null;
      }
      out[key] = s.selections ? project(v, s.selections, [...path, key]) : (v ?? null);
    }
    return out;
  };
  return { data: project(root, selections, []), errors };
}

export class FieldError extends Error {
  readonly type?: string;
  constructor(message: string, type?: string) {
    super(message);
    this.type = type;
  }
}
