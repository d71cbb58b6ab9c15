// The single source of truth for posture's settings: the loader, the ajv schema and the
// configuration table in docs/operate/configuration.md are all derived from this list.

export type SettingType = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'enum' | 'url' | 'regex-list';

export interface Setting {
  /** Key in the typed config object. */
  key: string;
  /** Environment variable that sets it. */
  env: string;
  type: SettingType;
  default?: string | number | boolean | string[];
  minimum?: number;
  maximum?: number;
  values?: readonly string[];
  /** For strings: a pattern the value must match. */
  pattern?: string;
  /** Never printed in logs or errors. */
  secret?: boolean;
  doc: string;
}

export const settings = [
  // Storage
  { key: 'databaseUrl', env: 'DATABASE_URL', type: 'url', secret: true, pattern: '^postgres(ql)?://',
    doc: 'PostgreSQL connection URL. Unset: the embedded PGlite database in `<dataDir>/db`.' },
  { key: 'dbPreparedStatements', env: 'POSTURE_DB_PREPARED_STATEMENTS', type: 'boolean', default: true,
    doc: "PostgreSQL: prepare the harvest's write once per connection (a named statement) instead of parsing and planning it for every result. Turn it off behind a pooler that cannot keep named prepared statements across transactions (PgBouncer in transaction mode before 1.21, or with `max_prepared_statements = 0`)." },
  { key: 'dataDir', env: 'POSTURE_DATA_DIR', type: 'string', default: '.posture',
    doc: 'Folder for the embedded database and local state, relative to the working directory.' },
  { key: 'logLevel', env: 'POSTURE_LOG_LEVEL', type: 'enum', default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], doc: 'Log level (JSON logs on stdout).' },
  { key: 'allowedHosts', env: 'POSTURE_ALLOWED_HOSTS', type: 'list', default: ['github.com'],
    pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$',
    doc: 'Source hosts accepted in repository names (lower-case DNS names).' },

  // Kubernetes
  { key: 'namespace', env: 'POSTURE_NAMESPACE', type: 'string', default: 'posture',
    pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', doc: "posture's own namespace, where Scorecard Jobs run." },

  // Scheduler
  { key: 'maxConcurrentJobs', env: 'POSTURE_MAX_CONCURRENT_JOBS', type: 'integer', default: 10, minimum: 1, maximum: 10000,
    doc: 'Most posture Jobs active in the cluster at once (counted from the cluster).' },
  { key: 'claimBatch', env: 'POSTURE_CLAIM_BATCH', type: 'integer', default: 100, minimum: 1, maximum: 10000,
    doc: 'Most repositories claimed by one tick.' },
  { key: 'leaseSeconds', env: 'POSTURE_LEASE_SECONDS', type: 'integer', default: 7200, minimum: 30, maximum: 604800,
    doc: 'How long a claim holds a repository before another tick may take it (longer than a Job can run).' },
  { key: 'rescoreIntervalSeconds', env: 'POSTURE_RESCORE_INTERVAL_SECONDS', type: 'integer', default: 604800, minimum: 60, maximum: 31536000,
    doc: 'Time between two scores of the same repository (Scorecard\'s public data is weekly).' },
  { key: 'jitterSeconds', env: 'POSTURE_JITTER_SECONDS', type: 'integer', default: 3600, minimum: 0, maximum: 604800,
    doc: 'Random spread added to the next due time so repositories do not come due together.' },
  { key: 'failureBackoffBaseSeconds', env: 'POSTURE_FAILURE_BACKOFF_BASE_SECONDS', type: 'integer', default: 3600, minimum: 1, maximum: 604800,
    doc: 'First retry delay of a repository whose run failed; doubles with each consecutive failure.' },
  { key: 'failureBackoffMaxSeconds', env: 'POSTURE_FAILURE_BACKOFF_MAX_SECONDS', type: 'integer', default: 2592000, minimum: 1, maximum: 31536000,
    doc: 'Cap of a failing repository\'s retry delay.' },
  { key: 'idleBackoffBaseSeconds', env: 'POSTURE_IDLE_BACKOFF_BASE_SECONDS', type: 'integer', default: 60, minimum: 1, maximum: 86400,
    doc: 'Ticks are skipped this long after a tick that found no work or failed; doubles each time.' },
  { key: 'idleBackoffMaxSeconds', env: 'POSTURE_IDLE_BACKOFF_MAX_SECONDS', type: 'integer', default: 900, minimum: 1, maximum: 86400,
    doc: 'Cap of the tick backoff.' },
  { key: 'githubTokenCount', env: 'POSTURE_GITHUB_TOKEN_COUNT', type: 'integer', default: 1, minimum: 0, maximum: 1000,
    doc: 'Number of GitHub tokens in the Secret (0: no budget limit, for hosts without rate limits).' },
  { key: 'githubCallsPerHour', env: 'POSTURE_GITHUB_CALLS_PER_HOUR', type: 'integer', default: 5000, minimum: 1, maximum: 1000000,
    doc: 'GitHub API calls each token may make per hour.' },
  { key: 'callsPerRun', env: 'POSTURE_CALLS_PER_RUN', type: 'integer', default: 70, minimum: 1, maximum: 100000,
    doc: 'GitHub API calls one Scorecard run costs (about 66 REST + 4 GraphQL).' },
  { key: 'scorecardImage', env: 'POSTURE_SCORECARD_IMAGE', type: 'string', default: 'ghcr.io/ossf/scorecard:v5.3.0',
    pattern: '^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$',
    doc: 'Scorecard image, pinned by tag or digest (`latest` is refused).' },
  { key: 'scorecardChecks', env: 'POSTURE_SCORECARD_CHECKS', type: 'list', default: [], pattern: '^[A-Za-z][A-Za-z-]*$',
    doc: 'Checks to run (`--checks`); empty runs all.' },
  { key: 'githubTokenSecret', env: 'POSTURE_GITHUB_TOKEN_SECRET', type: 'string', default: 'posture-github-tokens',
    pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', doc: 'Secret holding the GitHub token(s) for Scorecard Jobs.' },
  { key: 'githubTokenSecretKey', env: 'POSTURE_GITHUB_TOKEN_SECRET_KEY', type: 'string', default: 'GITHUB_AUTH_TOKEN',
    pattern: '^[-._a-zA-Z0-9]+$', doc: 'Key in that Secret (comma-separated tokens are rotated by Scorecard).' },
  { key: 'jobDeadlineSeconds', env: 'POSTURE_JOB_DEADLINE_SECONDS', type: 'integer', default: 1800, minimum: 60, maximum: 86400,
    doc: '`activeDeadlineSeconds` of a Scorecard Job (Scorecard sleeps until a rate limit resets).' },
  { key: 'jobTtlSeconds', env: 'POSTURE_JOB_TTL_SECONDS', type: 'integer', default: 86400, minimum: 300, maximum: 2592000,
    doc: '`ttlSecondsAfterFinished` of a Scorecard Job: long enough for the harvester and the reconcile.' },
  { key: 'breakerWindowSeconds', env: 'POSTURE_BREAKER_WINDOW_SECONDS', type: 'integer', default: 900, minimum: 60, maximum: 86400,
    doc: 'The fleet-wide circuit breaker looks at runs that finished this recently.' },
  { key: 'breakerSample', env: 'POSTURE_BREAKER_SAMPLE', type: 'integer', default: 20, minimum: 1, maximum: 1000,
    doc: 'How many of those runs (the newest) it looks at.' },
  { key: 'breakerMinRuns', env: 'POSTURE_BREAKER_MIN_RUNS', type: 'integer', default: 10, minimum: 1, maximum: 1000,
    doc: 'Fewer runs than this never open it (a handful of failures is not an outage).' },
  { key: 'breakerShare', env: 'POSTURE_BREAKER_SHARE', type: 'number', default: 0.5, minimum: 0, maximum: 1,
    doc: 'It opens when more than this share of them failed for infrastructure reasons (network, GitHub, evictions, image, Secret); 1 turns it off.' },
  { key: 'breakerProbeRuns', env: 'POSTURE_BREAKER_PROBE_RUNS', type: 'integer', default: 1, minimum: 1, maximum: 1000,
    doc: 'Runs a tick starts while it is open, so the fleet resumes when the outage ends.' },
  { key: 'kubeRetries', env: 'POSTURE_KUBE_RETRIES', type: 'integer', default: 3, minimum: 0, maximum: 10,
    doc: 'Retries of a Kubernetes call that failed with 429, 5xx or a timeout (a Retry-After from the API server is waited out, up to 30 s).' },
  { key: 'kubeQps', env: 'POSTURE_KUBE_QPS', type: 'integer', default: 50, minimum: 1, maximum: 10000,
    doc: 'Kubernetes API calls per second one process makes at most, sustained (client-go\'s QPS, whose default is 5: too few for a harvester that makes three calls per result).' },
  { key: 'kubeBurst', env: 'POSTURE_KUBE_BURST', type: 'integer', default: 100, minimum: 1, maximum: 10000,
    doc: 'Kubernetes API calls one process may make at once above that rate (client-go\'s burst, default 10).' },
  { key: 'kubeTimeoutSeconds', env: 'POSTURE_KUBE_TIMEOUT_SECONDS', type: 'integer', default: 30, minimum: 1, maximum: 600,
    doc: 'Longest a Kubernetes API call may take (for a pod log: the wait for its start and between its chunks).' },

  // Harvester
  { key: 'logByteCap', env: 'POSTURE_LOG_BYTE_CAP', type: 'integer', default: 10485760, minimum: 1024, maximum: 1073741824,
    doc: 'Most bytes of a Scorecard pod log read by the harvester.' },
  { key: 'detailedResults', env: 'POSTURE_DETAILED_RESULTS', type: 'integer', default: 10, minimum: 1, maximum: 100000,
    doc: 'Results per repository that keep their raw Scorecard document and check details; older ones keep scores, check scores and reasons only (`posture db prune`; the scheduler prunes a little every tick).' },
  { key: 'keepJobs', env: 'POSTURE_KEEP_JOBS', type: 'boolean', default: false,
    doc: 'Keep harvested Jobs (otherwise they are deleted once stored).' },

  // Admission
  { key: 'adminGroups', env: 'POSTURE_ADMIN_GROUPS', type: 'list', default: ['system:masters', 'posture:admins'],
    doc: 'Groups exempt from the protection webhooks.' },
  { key: 'adminUsers', env: 'POSTURE_ADMIN_USERS', type: 'list', default: [],
    doc: 'Users exempt from the protection webhooks.' },
  { key: 'protectedNamespaces', env: 'POSTURE_PROTECTED_NAMESPACES', type: 'regex-list', default: ['^kube-.*', '^default$'],
    doc: "Namespace name patterns non-admins may not change (posture's own namespace is always added)." },
  { key: 'schedulerServiceAccount', env: 'POSTURE_SCHEDULER_SERVICE_ACCOUNT', type: 'string', default: 'posture-scheduler',
    pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', doc: 'ServiceAccount (in posture\'s namespace) allowed to create posture Jobs.' },
  // Score changes and the dashboard
  { key: 'scoreChangeThreshold', env: 'POSTURE_SCORE_CHANGE_THRESHOLD', type: 'number', default: 0.5, minimum: 0.1, maximum: 10,
    doc: 'Smallest move of a score (either way) that sends a `dev.posture.score.changed` event; a check falling to 0 always does. Smaller moves are noise.' },

  { key: 'gateThreshold', env: 'POSTURE_GATE_THRESHOLD', type: 'integer', default: 5, minimum: 0, maximum: 10,
    doc: 'Lowest Scorecard score the gate admits (a namespace label `posture.dev/min-score` overrides it).' },
  { key: 'gateUnknown', env: 'POSTURE_GATE_UNKNOWN', type: 'enum', default: 'warn', values: ['allow', 'warn', 'deny'],
    doc: 'What the gate does with a repository it has no score for.' },
  { key: 'gateCacheSize', env: 'POSTURE_GATE_CACHE_SIZE', type: 'integer', default: 100000, minimum: 1, maximum: 10000000,
    doc: 'Repositories the gate\'s score index is sized for at start. It holds every repository\'s latest score whatever this says and grows past it; nothing is evicted (`node bench/admission.ts --in-process` prints the memory per repository, sized for a million and at this default).' },
  { key: 'gateRefreshSeconds', env: 'POSTURE_GATE_REFRESH_SECONDS', type: 'integer', default: 30, minimum: 1, maximum: 3600,
    doc: 'How often the gate reloads scores from the database; older than 10 times this, the cache counts as stale.' },
  { key: 'tlsCertFile', env: 'POSTURE_TLS_CERT_FILE', type: 'string',
    doc: 'Serving certificate of the admission server (PEM); unset in `posture up`: a generated self-signed one.' },
  { key: 'tlsKeyFile', env: 'POSTURE_TLS_KEY_FILE', type: 'string', doc: 'Key of that certificate (PEM).' },
  { key: 'webhookEnforcement', env: 'POSTURE_WEBHOOK_ENFORCEMENT', type: 'list', default: [], pattern: '^[a-z0-9-]+=(deny|warn|dry-run)$',
    doc: 'Per-webhook enforcement overrides, e.g. `scorecard-gate=warn` (deny, warn: admit with a warning, dry-run: admit, log and count).' },
  { key: 'admissionMaxBodyBytes', env: 'POSTURE_ADMISSION_MAX_BODY_BYTES', type: 'integer', default: 8388608, minimum: 3145728, maximum: 67108864,
    doc: 'Largest AdmissionReview the admission server reads (an UPDATE carries the object twice; the API server accepts 3 MiB objects).' },
  { key: 'tlsReloadSeconds', env: 'POSTURE_TLS_RELOAD_SECONDS', type: 'integer', default: 10, minimum: 1, maximum: 3600,
    doc: 'How often the admission server re-reads its certificate and key (it also watches them), so rotation needs no restart.' },

  // Serving
  { key: 'port', env: 'PORT', type: 'integer', default: 8080, minimum: 0, maximum: 65535,
    doc: 'HTTP port of a function (Knative sets it).' },
  { key: 'metricsPort', env: 'POSTURE_METRICS_PORT', type: 'integer', default: 9090, minimum: 0, maximum: 65535,
    doc: 'Port of `/metrics` for the score API, apart from its public port (Knative routes only `PORT`); 0 turns it off.' },
  { key: 'admissionPort', env: 'POSTURE_ADMISSION_PORT', type: 'integer', default: 8443, minimum: 0, maximum: 65535,
    doc: 'HTTPS port of the admission server.' },
  { key: 'tickSeconds', env: 'POSTURE_TICK_SECONDS', type: 'integer', default: 60, minimum: 60, maximum: 86400,
    doc: '`posture up` only: seconds between two scheduler ticks (a tick is identified by its minute, as a cron slot; in a cluster the PingSource schedule decides).' },
] as const satisfies readonly Setting[];
