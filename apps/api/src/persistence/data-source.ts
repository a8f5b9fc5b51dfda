import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { MIGRATIONS } from '@jobtrail/engine';
import { SchemaNamingStrategy, entitiesFor } from './entities.js';

/** TypeORM options for the configured database. */
export function dataSourceOptions(config: AppConfig['database']): DataSourceOptions {
  const common = {
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    logging: false,
    entities: entitiesFor(config.kind),
    namingStrategy: new SchemaNamingStrategy(),
  };
  if (config.kind === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: config.url,
      // Fail fast instead of hanging when the database is down; idle clients that break are dropped.
      // JIT off: the claim query's cost estimate crosses jit_above_cost, and compiling it (20-50 ms)
      // costs far more than running it (under 1 ms) on every claim.
      extra: {
        max: 10,
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 30_000,
        query_timeout: 30_000,
        options: '-c jit=off',
      },
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.file,
    enableWAL: true,
    prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
    },
  };
}
