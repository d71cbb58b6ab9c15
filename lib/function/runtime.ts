// Production wiring shared by the function modules: config, database, cluster, logger, built
// once per process on first use.
import { loadConfig, type Config } from '../config/index.ts';
import { checkConnection, migrate, openDb, type Db } from '../db/index.ts';
import { clusterApi, defaultKubeConfig, transportOptionsOf, type ClusterApi } from '../kube/cluster.ts';
import { createLogger, type Logger } from '../log/index.ts';

export interface Runtime {
  config: Config;
  db: Db;
  cluster: ClusterApi;
  log: Logger;
}

let runtime: Promise<Runtime> | undefined;

export function sharedRuntime(name: string): () => Promise<Runtime> {
  return () => {
    runtime ??= (async () => {
      const config = loadConfig();
      const log = createLogger({ level: config.logLevel, name });
      const options = { databaseUrl: config.databaseUrl, dataDir: config.dataDir };
      const db = openDb(options);
      await checkConnection(db, options);
      await migrate(db);
      return { config, db, cluster: clusterApi(defaultKubeConfig(), transportOptionsOf(config)), log };
    })().catch((err) => {
      runtime = undefined; // try again on the next request
      throw err;
    });
    return runtime;
  };
}

export async function closeRuntime(): Promise<void> {
  const r = await runtime?.catch(() => undefined);
  runtime = undefined;
  await r?.db.destroy();
}
