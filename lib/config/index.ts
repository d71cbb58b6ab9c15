// Builds posture's typed configuration from environment variables and an optional YAML/JSON
// file (POSTURE_CONFIG_FILE; the environment wins), validated by an ajv schema derived from spec.ts.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { redactUrl } from './redact.ts';
import { type Setting, settings } from './spec.ts';

export { DATABASE_UNAVAILABLE, redactUrl, redactUrlsIn } from './redact.ts';

type Spec = (typeof settings)[number];
type ValueOf<S extends Spec> = S['type'] extends 'integer' | 'number'
  ? number
  : S['type'] extends 'boolean'
    ? boolean
    : S['type'] extends 'list' | 'regex-list'
      ? string[]
      : S extends { values: readonly (infer V)[] }
        ? V
        : string;

export type Config = {
  [S in Spec as S['key']]: S extends { default: unknown } ? ValueOf<S> : ValueOf<S> | undefined;
};

export const CONFIG_FILE_ENV = 'POSTURE_CONFIG_FILE';

/** A configuration problem: names the variable, the bad value and what is allowed. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function allowed(s: Setting, pattern: (p: string) => string = (p) => p): string {
  switch (s.type) {
    case 'integer':
      return `an integer from ${s.minimum} to ${s.maximum}`;
    case 'number':
      return `a number from ${s.minimum} to ${s.maximum}`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${s.values!.join(', ')}`;
    case 'list':
      return s.pattern ? `a comma-separated list of values matching ${pattern(s.pattern)}` : 'a comma-separated list';
    case 'regex-list':
      return 'a comma-separated list of regular expressions';
    case 'url':
    case 'string':
      return s.pattern ? `a value matching ${pattern(s.pattern)}` : 'a non-empty string';
  }
}

function schemaOf(s: Setting): object {
  switch (s.type) {
    case 'integer':
      return { type: 'integer', minimum: s.minimum, maximum: s.maximum };
    case 'number':
      return { type: 'number', minimum: s.minimum, maximum: s.maximum };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { enum: s.values };
    case 'list':
      return { type: 'array', items: s.pattern ? { type: 'string', pattern: s.pattern } : { type: 'string', minLength: 1 } };
    case 'regex-list':
      return { type: 'array', items: { type: 'string', minLength: 1 } };
    case 'url':
    case 'string':
      return s.pattern ? { type: 'string', pattern: s.pattern } : { type: 'string', minLength: 1 };
  }
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries((settings as readonly Setting[]).map((s) => [s.key, schemaOf(s)])),
};
const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(schema);

/** Turns one raw string (from the environment) into the setting's type, or undefined if malformed. */
function coerce(s: Setting, raw: string): unknown {
  const v = raw.trim();
  switch (s.type) {
    case 'integer':
      return /^-?\d+$/.test(v) ? Number(v) : raw;
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : raw;
    case 'boolean':
      if (/^(true|1|yes)$/i.test(v)) return true;
      if (/^(false|0|no)$/i.test(v)) return false;
      return raw;
    case 'list':
    case 'regex-list':
      return v === ''
        ? []
        : v
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== '');
    default:
      return v;
  }
}

function show(s: Setting, value: unknown): string {
  if (s.secret && s.type === 'url' && typeof value === 'string') return JSON.stringify(redactUrl(value));
  if (s.secret) return '(hidden)';
  return JSON.stringify(value);
}

/**
 * Loads the configuration. Throws ConfigError listing every bad value; never returns a partial config.
 * @param env the environment (process.env in production, a literal in tests)
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  let file: Record<string, unknown> = {};
  const filePath = env[CONFIG_FILE_ENV];
  if (filePath) {
    try {
      const parsed = parseYaml(readFileSync(filePath, 'utf8'));
      if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error('not a mapping of setting names to values');
      file = (parsed ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError([`${CONFIG_FILE_ENV}=${JSON.stringify(filePath)}: cannot read: ${(err as Error).message}`]);
    }
    const known = new Set((settings as readonly Setting[]).map((s) => s.key));
    for (const k of Object.keys(file)) {
      if (!known.has(k)) problems.push(`${filePath}: unknown setting ${JSON.stringify(k)}; allowed: ${[...known].join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const s of settings as readonly Setting[]) {
    const raw = env[s.env];
    if (raw !== undefined && raw !== '') {
      out[s.key] = coerce(s, raw);
      origin[s.key] = s.env;
    } else if (s.key in file) {
      out[s.key] = file[s.key];
      origin[s.key] = `${filePath}: ${s.key}`;
    } else if (s.default !== undefined) {
      out[s.key] = structuredClone(s.default);
    }
  }
  if (!validate(out)) {
    for (const e of validate.errors ?? []) {
      const key = e.instancePath.split('/')[1];
      const s = (settings as readonly Setting[]).find((x) => x.key === key);
      if (!s) continue;
      const msg = `${origin[key] ?? s.env}=${show(s, out[key])} is invalid: expected ${allowed(s)}`;
      if (!problems.includes(msg)) problems.push(msg);
    }
  }
  for (const s of settings as readonly Setting[]) {
    if (s.type !== 'regex-list' || !Array.isArray(out[s.key])) continue;
    for (const p of out[s.key] as string[]) {
      try {
        new RegExp(p);
      } catch (err) {
        problems.push(
          `${origin[s.key] ?? s.env}=${show(s, out[s.key])} is invalid: ${JSON.stringify(p)} is not a regular expression (${(err as Error).message})`,
        );
      }
    }
  }
  if ((out.tlsCertFile === undefined) !== (out.tlsKeyFile === undefined)) {
    problems.push('POSTURE_TLS_CERT_FILE and POSTURE_TLS_KEY_FILE must be set together');
  }
  if (typeof out.scorecardImage === 'string' && /:latest$/.test(out.scorecardImage)) {
    problems.push(
      `${origin.scorecardImage ?? 'POSTURE_SCORECARD_IMAGE'}=${JSON.stringify(out.scorecardImage)} is invalid: pin a version tag or a digest, not latest`,
    );
  }
  // A shard's Job passes --repos, which Scorecard has from v5.4.0: an older pinned tag would fail every shard.
  const tag = typeof out.scorecardImage === 'string' ? /:v(\d+)\.(\d+)\.\d+(?:[-+].*)?$/.exec(out.scorecardImage) : null;
  if (tag && typeof out.shardSize === 'number' && out.shardSize > 1 && (Number(tag[1]) < 5 || (Number(tag[1]) === 5 && Number(tag[2]) < 4))) {
    problems.push(
      `POSTURE_SHARD_SIZE=${out.shardSize} needs Scorecard v5.4.0 or later (--repos), but ${origin.scorecardImage ?? 'POSTURE_SCORECARD_IMAGE'}=${JSON.stringify(out.scorecardImage)}: set POSTURE_SHARD_SIZE=1 or use a newer image`,
    );
  }
  if (typeof out.leaseSeconds === 'number' && typeof out.jobDeadlineSeconds === 'number' && out.leaseSeconds <= out.jobDeadlineSeconds) {
    problems.push(
      `POSTURE_LEASE_SECONDS=${out.leaseSeconds} is invalid: it must be longer than POSTURE_JOB_DEADLINE_SECONDS=${out.jobDeadlineSeconds}, or a running Job's repository could be claimed again`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as Config;
}

/** The defaults alone: what tests start from. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({}), ...overrides }) as Config;
}

/** A pattern as a Markdown table cell shows it: code, its `|` escaped so it does not end the cell. */
const asCode = (p: string) => `\`${p.replace(/\|/g, '\\|')}\``;

/** Markdown table of every setting, for docs/operate/configuration.md (generated by `npm run generate`, checked for staleness by a test). */
export function configTable(): string {
  const rows = (settings as readonly Setting[]).map((s) => {
    const def = s.default === undefined ? '' : Array.isArray(s.default) ? s.default.join(',') : String(s.default);
    return `| \`${s.env}\` | ${def === '' ? '' : `\`${def}\``} | ${allowed(s, asCode)} | ${s.doc} |`;
  });
  return ['| Variable | Default | Allowed | What it does |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
