import type BetterSqlite3 from 'better-sqlite3';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source.js';
import { PostgresDatabase, SqliteDatabase, type Database } from './database.js';

/** Wraps an initialised DataSource in the Database that repositories use. */
export function databaseFor(dataSource: DataSource): Database {
  if (dataSource.options.type === 'postgres') return new PostgresDatabase(dataSource);
  const handle = (dataSource.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
  return new SqliteDatabase(handle);
}

/** Opens the configured database and runs pending migrations (for the CLI and tools). */
export async function openDatabase(config: AppConfig['database']): Promise<{ dataSource: DataSource; db: Database }> {
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  return { dataSource, db: databaseFor(dataSource) };
}
