// The audit's last conclusions, for the dashboard's "running workloads below the bar" page (the
// score API has no Kubernetes access; the auditor writes here as it writes the PolicyReports).
// One row of the last audit and its findings that are not passes, replaced whole by each audit.
import type { Knex } from 'knex';

const upStatements = [
  `CREATE TABLE audit_runs (
     id          integer PRIMARY KEY CHECK (id = 1),
     finished_at timestamptz NOT NULL,
     summary     jsonb NOT NULL          -- counts by result, workloads listed, namespaces
   )`,
  `CREATE TABLE audit_findings (
     id        bigserial PRIMARY KEY,
     namespace text NOT NULL,
     kind      text NOT NULL,
     name      text NOT NULL,
     uid       text NOT NULL,
     repo      text NOT NULL,            -- canonical, or the declared value when it does not parse
     score     numeric(3,1),             -- null: never scored, or not a repository
     result    text NOT NULL CHECK (result IN ('fail', 'warn', 'error')),
     message   text NOT NULL
   )`,
  `CREATE INDEX audit_findings_order_idx ON audit_findings (result, score, namespace, name)`,
];

const downStatements = [`DROP TABLE IF EXISTS audit_findings`, `DROP TABLE IF EXISTS audit_runs`];

export async function up(knex: Knex): Promise<void> {
  for (const s of upStatements) await knex.raw(s);
}

export async function down(knex: Knex): Promise<void> {
  for (const s of downStatements) await knex.raw(s);
}
