import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/persistence/data-source.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

/**
 * The TypeORM entities and the migrations describe one schema: after every migration has run,
 * TypeORM's schema builder (what `typeorm migration:generate` uses) must find nothing to change.
 * A column, index or constraint added to one and not the other fails here, on both databases.
 */
describe.each(kinds)('entities and migrations agree on %s', (kind) => {
  let t: TestApp;
  let dataSource: DataSource;
  beforeAll(async () => {
    t = await startTestApp(kind);
    dataSource = new DataSource({ ...dataSourceOptions(t.config.database), migrationsRun: false });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await t.close();
  });

  it('migration:generate would generate nothing', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });
});
