// Production wiring shared by the function modules: config, database, logger and (for the
// functions that call the API server) the cluster, built once per process on first use.
// The Kubernetes client is loaded only by the functions that use it: @kubernetes/client-node
// alone is a large share of a process's heap and resident memory, which the API and admission pods
// need not carry (test/layout.test.ts checks that they do not load it).
import { type Config, loadConfig } from '../config/index.ts';
import { checkConnection, type Db, dbOptions, migrate, openDb } from '../db/index.ts';
import type { ClusterApi } from '../kube/cluster.ts';
import { createLogger, type Logger } from '../log/index.ts';

/** What the API and admission functions need: no Kubernetes client. */
export interface DatabaseRuntime {
  config: Config;
  db: Db;
  log: Logger;
}

/** What the scheduler and the harvester need. */
export interface Runtime extends DatabaseRuntime {
  cluster: ClusterApi;
}

let base: Promise<DatabaseRuntime> | undefined;
let full: Promise<Runtime> | undefined;

function retrying<T>(make: () => Promise<T>, reset: () => void): Promise<T> {
  return make().catch((err) => {
    reset(); // try again on the next request
    throw err;
  });
}

/** Config, database (migrated) and logger. */
export function sharedDatabaseRuntime(name: string): () => Promise<DatabaseRuntime> {
  return () => {
    base ??= retrying(
      async () => {
        const config = loadConfig();
        const log = createLogger({ level: config.logLevel, name });
        const options = dbOptions(config);
        const db = openDb(options);
        await checkConnection(db, options);
        await migrate(db);
        return { config, db, log };
      },
      () => (base = undefined),
    );
    return base;
  };
}

/** The database runtime plus the cluster client (KUBECONFIG, ~/.kube/config or in-cluster). */
export function sharedRuntime(name: string): () => Promise<Runtime> {
  const database = sharedDatabaseRuntime(name);
  return () => {
    full ??= retrying(
      async () => {
        const r = await database();
        const { clusterApi, defaultKubeConfig, transportOptionsOf } = await import('../kube/cluster.ts');
        return { ...r, cluster: clusterApi(defaultKubeConfig(), transportOptionsOf(r.config)) };
      },
      () => (full = undefined),
    );
    return full;
  };
}

export async function closeRuntime(): Promise<void> {
  const r = await base?.catch(() => undefined);
  base = undefined;
  full = undefined;
  await r?.db.destroy();
}
