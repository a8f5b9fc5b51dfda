import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJob, type Job, type JobAction } from '@jobtrail/domain';
import pg from 'pg';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import {
  Database,
  JobEventsBus,
  JobsStore,
  MIGRATIONS,
  databaseFor,
  uuidv7,
  type DatabaseKind,
  type WorkerConfig,
} from '../../src/index.js';

/** The PostgreSQL server of the integration tests (a fresh database is made per test file). */
export const PG_SERVER_URL = process.env.JOBTRAIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

/**
 * SQLite always, PostgreSQL when a server answers. Without one, the reason is printed; with
 * JOBTRAIL_REQUIRE_PG=1 (as CI sets) its absence is an error instead.
 */
export async function databaseKinds(): Promise<DatabaseKind[]> {
  const client = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres`, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return ['sqlite', 'postgres'];
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (process.env.JOBTRAIL_REQUIRE_PG === '1')
      throw new Error(`PostgreSQL is required but not reachable at ${PG_SERVER_URL}: ${reason}`);
    console.warn(`PostgreSQL suites not run: no server at ${PG_SERVER_URL} (${reason}).`);
    return ['sqlite'];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Worker settings for tests: short leases and backoff. */
export const TEST_WORKER_CONFIG: WorkerConfig = {
  concurrency: 4,
  leaseMs: 2_000,
  jobDeadlineMs: 60_000,
  pollMs: 200,
  shutdownGraceMs: 5_000,
  maxAttempts: 3,
  backoffBaseMs: 50,
  progressFlushMs: 100,
  sandboxSlowStepMs: 300,
  mfaTimeoutMs: 300_000,
};

export const silentLog = pino({ level: 'silent' });

/** A migrated database of its own, with the engine's store and bus over it. */
export interface TestDatabase {
  readonly kind: DatabaseKind;
  /** TypeORM's handle: for tests of the migrations themselves. */
  readonly dataSource: DataSource;
  readonly db: Database;
  readonly store: JobsStore;
  readonly bus: JobEventsBus;
  /** How another process reaches the same database, and a data folder of its own. */
  readonly env: Record<string, string>;
  /** A tenant and one connection of it (sandbox, `user-ok` unless another login is given). */
  seedConnection(login?: string): Promise<{ tenantId: string; connectionId: string }>;
  /** A new pending job, committed through the store like the API's. */
  createJob(tenantId: string, connectionId: string, action: JobAction): Promise<Job>;
  close(): Promise<void>;
}

/**
 * Another pool of `max` connections on a test's PostgreSQL database: to the database, another
 * process. Its migrations already ran.
 */
export async function openSecondPool(t: TestDatabase, max: number): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: t.env.DB_URL,
    migrations: MIGRATIONS,
    migrationsRun: false,
    entities: [],
    extra: { max },
  });
  await dataSource.initialize();
  return dataSource;
}

export async function openTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'jobtrail-engine-'));
  let drop: (() => Promise<void>) | null = null;
  let dataSource: DataSource;
  const common = { migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false, entities: [] };
  let url: string | null = null;
  if (kind === 'postgres') {
    const name = `jobtrail_engine_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url = `${PG_SERVER_URL}/${name}`;
    dataSource = new DataSource({ ...common, type: 'postgres', url, extra: { max: 10 } });
    drop = async () => {
      const c = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } else {
    dataSource = new DataSource({
      ...common,
      type: 'better-sqlite3',
      database: join(dir, 'engine.sqlite'),
      enableWAL: true,
      prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
        db.pragma('busy_timeout = 5000');
        db.pragma('foreign_keys = ON');
      },
    });
  }
  await dataSource.initialize();
  const db = databaseFor(dataSource);
  const store = new JobsStore(db);
  const bus = new JobEventsBus(db, url, silentLog);
  await bus.start();
  return {
    kind,
    dataSource,
    db,
    store,
    bus,
    env: {
      DB_KIND: kind,
      DATA_DIR: dir,
      ...(url ? { DB_URL: url } : { DB_FILE: join(dir, 'engine.sqlite') }),
    },
    async seedConnection(login = 'user-ok') {
      const tenantId = uuidv7();
      const connectionId = uuidv7();
      await db.execute('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [
        tenantId,
        `t-${tenantId}`,
        Date.now(),
      ]);
      await db.execute(
        `INSERT INTO connections (id, tenant_id, institution_id, login_id, credentials_enc, user_ref, created_at)
         VALUES ($1, $2, 'sandbox', $3, 'x', NULL, $4)`,
        [connectionId, tenantId, login, Date.now()],
      );
      return { tenantId, connectionId };
    },
    async createJob(tenantId, connectionId, action) {
      const now = new Date();
      const job = createJob({ id: uuidv7(now.getTime()), connectionId, action, now });
      await store.commitNow([
        {
          tenantId,
          before: null,
          next: job,
          events: [{ kind: 'created', at: now, actor: 'test', reason: 'requested' }],
        },
      ]);
      return job;
    },
    async close() {
      await bus.close();
      await dataSource.destroy();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
