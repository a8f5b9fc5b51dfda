import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import type { INestApplication } from '@nestjs/common';
import { Database, uuidv7At } from '@jobtrail/engine';
import type { Logger } from 'pino';
import { ApiKeysRepository } from '../src/auth/api-keys.repository.js';
import type { AppConfig } from '../src/config/app-config.js';
import { ConnectionsRepository } from '../src/connections/connections.repository.js';
import { CredentialsCipher } from '../src/connections/credentials-cipher.js';
import { createApp } from '../src/create-app.js';

/** Jobtrail as the API benches run it: listening on loopback, with the default tenant's five connections. */
export interface BenchApp {
  readonly app: INestApplication;
  readonly appUrl: string;
  readonly db: Database;
  readonly tenantId: string;
  /** Five sandbox connections, oldest first; the benches seed most jobs on the first. */
  readonly connectionIds: string[];
}

/**
 * Starts Jobtrail in this process on `config`'s database (it migrates it and makes the admin key's
 * tenant) and adds five connections with encrypted credentials. `onStarted` receives the close
 * function as soon as the app listens, so a failure while seeding still closes it.
 */
export async function startBenchApp(
  config: AppConfig,
  logger: Logger,
  onStarted: (close: () => Promise<void>) => void,
): Promise<BenchApp> {
  const { app } = await createApp(config, logger);
  await app.listen(0, '127.0.0.1');
  onStarted(() => app.close());
  const appUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const db = app.get(Database);
  const tenant = await app.get(ApiKeysRepository).findTenantByName('default');
  if (!tenant) throw new Error('no default tenant');
  const cipher = app.get(CredentialsCipher);
  const connectionIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const id = uuidv7At(Date.now() - 10 * 86_400_000 + i);
    await db.transaction((tx) =>
      app.get(ConnectionsRepository).insertConnection(tx, {
        id,
        tenant_id: tenant.id,
        institution_id: 'sandbox',
        login_id: `bench-${i}`,
        credentials_enc: cipher.encrypt({ password: 'bench' }, { tenantId: tenant.id, connectionId: id }),
        user_ref: null,
        created_at: Date.now(),
      }),
    );
    connectionIds.push(id);
  }
  return { app, appUrl, db, tenantId: tenant.id, connectionIds };
}

/** Where a bench's Jobtrail keeps its data: a SQLite file, or a fresh PostgreSQL database. */
export type BenchDatabase = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/**
 * A fresh database for one bench run: a SQLite file in `dataDir`, or a new database named after
 * `prefix` on the PostgreSQL server at `pgUrl`, with the function that drops it (null for SQLite).
 */
export async function scratchDatabase(
  kind: 'sqlite' | 'postgres',
  dataDir: string,
  pgUrl: string,
  prefix: string,
): Promise<{ database: BenchDatabase; drop: (() => Promise<void>) | null }> {
  if (kind === 'sqlite') return { database: { kind, file: join(dataDir, 'jobtrail.sqlite') }, drop: null };
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: `${pgUrl}/postgres` });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  return {
    database: { kind, url: `${pgUrl}/${name}` },
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
