import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { InitialSchema1733800000000 } from './migrations/1733800000000-initial-schema.js';
import { Engine1733800000001 } from './migrations/1733800000001-engine.js';
import { ApiKeyAudit1733800000100 } from './migrations/1733800000100-api-key-audit.js';

/** Every migration, in order. Schema changes happen only here (`synchronize` is off). */
export const MIGRATIONS = [InitialSchema1733800000000, Engine1733800000001, ApiKeyAudit1733800000100];

/** TypeORM options for the configured database. */
export function dataSourceOptions(config: AppConfig['database']): DataSourceOptions {
  const common = { migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false, entities: [] };
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
