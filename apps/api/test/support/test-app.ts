import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ApiKeyRole } from '@jobtrail/domain';
import pg from 'pg';
import { ApiKeysRepository } from '../../src/auth/api-keys.repository.js';
import type { AppConfig } from '../../src/config/app-config.js';
import type { AppModuleOptions } from '../../src/app.module.js';
import { createApp } from '../../src/create-app.js';
import { Database } from '@jobtrail/engine';
import { createLogger } from '../../src/logging/logger.js';
import { conformanceFor, fetchServedDocument, recordResponses, type RecordedResponse } from './openapi-conformance.js';

export type DatabaseKind = 'sqlite' | 'postgres';

/** The PostgreSQL server used by the integration tests (a fresh database is made per app). */
export const PG_SERVER_URL = process.env.JOBTRAIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres`, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The databases to run the integration suites against: SQLite always, PostgreSQL when a server
 * answers. Without one, the reason is printed; with JOBTRAIL_REQUIRE_PG=1 (as .ci/run sets) its
 * absence is an error instead.
 */
export async function databaseKinds(): Promise<DatabaseKind[]> {
  const reason = await postgresReachable();
  if (reason === null) return ['sqlite', 'postgres'];
  if (process.env.JOBTRAIL_REQUIRE_PG === '1')
    throw new Error(`PostgreSQL is required but not reachable at ${PG_SERVER_URL}: ${reason}`);
  console.warn(`PostgreSQL suites not run: no server at ${PG_SERVER_URL} (${reason}).`);
  return ['sqlite'];
}

/** A running API on a fresh database, with its captured log lines. */
export interface TestApp {
  readonly kind: DatabaseKind;
  readonly app: NestFastifyApplication;
  readonly server: ReturnType<NestFastifyApplication['getHttpServer']>;
  readonly config: AppConfig;
  readonly db: Database;
  /** Admin key of tenant `default`. */
  readonly adminKey: string;
  /** Every log line written so far. */
  readonly logs: string[];
  /** A new key of `role` in tenant `tenant` (created if needed). */
  createKey(role: ApiKeyRole, tenant?: string): Promise<{ key: string; id: string }>;
  /** Every response sent so far, as recorded for the OpenAPI conformance check. */
  readonly responses: RecordedResponse[];
  /**
   * Stops the app and drops its database; then throws the list of responses that did not match
   * the served OpenAPI document (status, content type, body schema, documented headers), so a
   * suite whose answers drift from the contract fails.
   */
  close(): Promise<void>;
}

/** Starts the API on a new SQLite file or a new PostgreSQL database, migrations run from scratch. */
/** Worker settings for tests: short leases, backoff and sandbox delays, quick polling. */
export const TEST_WORKER_CONFIG: AppConfig['worker'] = {
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
  schedulePollMs: 200,
};

/** Webhook settings for tests: loopback receivers allowed, quick polling, the retry schedule shrunk 1000×. */
export const TEST_WEBHOOK_CONFIG: AppConfig['webhooks'] = {
  pollMs: 50,
  timeoutMs: 2_000,
  concurrency: 16,
  perEndpointConcurrency: 4,
  backoffScale: 0.001,
  allowPrivate: true,
  disableAfterFailingMs: 3 * 24 * 3_600_000,
};

export async function startTestApp(
  kind: DatabaseKind,
  overrides: Omit<Partial<AppConfig>, 'worker' | 'webhooks'> & {
    worker?: Partial<AppConfig['worker']>;
    webhooks?: Partial<AppConfig['webhooks']>;
  } = {},
  options: AppModuleOptions = {},
): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-test-'));
  let dropDatabase: (() => Promise<void>) | null = null;
  let database: AppConfig['database'] = { kind: 'sqlite', file: join(dataDir, 'jobtrail.sqlite') };
  // A `database` override (e.g. a server the test runs itself) is used as given, not created.
  if (kind === 'postgres' && !overrides.database) {
    const name = `jobtrail_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    database = { kind: 'postgres', url: `${PG_SERVER_URL}/${name}` };
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const adminKey = `jt_test_admin_${randomBytes(16).toString('hex')}`;
  const config: AppConfig = {
    port: 0,
    database,
    dataDir,
    role: 'api',
    adminKey,
    encryptionKey: randomBytes(32),
    demo: false,
    bodyLimitBytes: 16 * 1024,
    logLevel: 'debug',
    logFormat: 'json',
    metricsToken: null,
    dashboardDir: join(dataDir, 'no-dashboard'),
    limits: { requestsPerMinute: 1_000_000, refreshesPerHour: 1_000_000 },
    corsOrigins: [],
    http: { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 },
    streams: { perKey: 10, replayLimit: 5_000, maxBufferBytes: 1024 * 1024, tokenTtlMs: 600_000, reauthMs: 500 },
    idempotency: { claimTimeoutMs: 60_000, sweepMs: 600_000 },
    retention: { successDays: 90, failedDays: 365, cancelledDays: 90, sweepMs: 3_600_000 },
    ...overrides,
    worker: { ...TEST_WORKER_CONFIG, ...overrides.worker },
    webhooks: { ...TEST_WEBHOOK_CONFIG, ...overrides.webhooks },
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const { app } = await createApp(config, createLogger(config.logLevel, sink), options);
  const responses = recordResponses(app.getHttpServer());
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  const conformance = conformanceFor(await fetchServedDocument(`http://127.0.0.1:${port}`));
  const keys = app.get(ApiKeysRepository);
  return {
    kind,
    app,
    server: app.getHttpServer(),
    config,
    db: app.get(Database),
    adminKey,
    logs,
    responses,
    async createKey(role, tenant = 'default') {
      const t = (await keys.findTenantByName(tenant)) ?? (await keys.createTenant(tenant));
      const { key, summary } = await keys.createKey(t.id, `${role} key`, role);
      return { key, id: summary.id };
    },
    async close() {
      try {
        await app.close();
      } finally {
        await dropDatabase?.();
        rmSync(dataDir, { recursive: true, force: true });
      }
      // Streams end during app.close(): their responses are recorded by now.
      const violations = conformance.checkAll(responses);
      if (violations.length > 0)
        throw new Error(
          `${violations.length} response(s) do not match the OpenAPI document:\n${violations.slice(0, 40).join('\n')}`,
        );
    },
  };
}
