import { databaseFor, type Database, type DatabaseOptions } from '@jobtrail/engine';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source.js';

/** Opens the configured database and runs pending migrations (for the CLI and tools). */
export async function openDatabase(config: AppConfig['database']): Promise<{ dataSource: DataSource; db: Database }> {
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  return { dataSource, db: databaseFor(dataSource, databaseOptions(config)) };
}

/** The engine's options for the configured database. */
export function databaseOptions(config: AppConfig['database']): DatabaseOptions {
  return { preparedStatements: config.kind === 'postgres' ? config.preparedStatements !== false : true };
}
