/**
 * `node bench/dist/bench/csv-memory.js` (after `tsc -p bench/tsconfig.json`, run with
 * `--expose-gc`): the server's memory while it streams a connection's whole history as CSV.
 * Seeds BENCH_JOBS jobs (default 1,000,000) on one connection, collects garbage, then downloads
 * `GET /connections/:id/jobs` with `Accept: text/csv` over loopback, discarding the bytes, while
 * sampling the process's memory every 20 ms. Prints the baseline, the peaks and the CSV's size:
 * constant memory means the peaks stay near the baseline whatever BENCH_JOBS is.
 *
 * Environment: BENCH_JOBS (default 1,000,000); BENCH_DB `sqlite` (default) or `postgres`;
 * BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJob, jobError, type Job, type JobStatus } from '@jobtrail/domain';
import { Database, JOB_COLUMNS, jobToValues, placeholders, uuidv7At, type SqlExecutor } from '@jobtrail/engine';
import pg from 'pg';
import { pino } from 'pino';
import { ApiKeysRepository } from '../src/auth/api-keys.repository.js';
import { loadConfig } from '../src/config/app-config.js';
import { ConnectionsRepository } from '../src/connections/connections.repository.js';
import { CredentialsCipher } from '../src/connections/credentials-cipher.js';
import { createApp } from '../src/create-app.js';
import { createLogger } from '../src/logging/logger.js';

const JOBS = Number((process.env.BENCH_JOBS ?? '1000000').replaceAll('_', ''));
const KIND = (process.env.BENCH_DB ?? 'sqlite') as 'sqlite' | 'postgres';
const PG_URL = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const log = (msg: string) => process.stderr.write(`[csv-memory] ${msg}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const gc = (globalThis as { gc?: () => void }).gc;

function finishedJob(connectionId: string, createdAt: number, n: number): Job {
  const status: JobStatus = n % 10 < 7 ? 'success' : n % 10 < 9 ? 'failed' : 'cancelled';
  const base = createJob({ id: uuidv7At(createdAt), connectionId, action: 'refresh', now: new Date(createdAt) });
  const finishedAt = new Date(createdAt + 3_000);
  return {
    ...base,
    status,
    attempt: 1,
    startedAt: new Date(createdAt + 500),
    finishedAt,
    updatedAt: finishedAt,
    error:
      status === 'failed'
        ? jobError('institution-unavailable', 'The bank did not answer, "twice"')
        : status === 'cancelled'
          ? jobError('cancelled', 'Cancelled on request')
          : null,
    result: status === 'success' ? { accounts: 3, transactions: n % 500 } : null,
  };
}

async function insertRows(tx: SqlExecutor, pgTypes: Record<string, string> | null, rows: unknown[][]): Promise<void> {
  if (pgTypes !== null) {
    const arrays = JOB_COLUMNS.map((c, i) => `$${i + 1}::${pgTypes[c] ?? 'text'}[]`);
    await tx.execute(
      `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) SELECT * FROM unnest(${arrays.join(', ')})`,
      JOB_COLUMNS.map((_, c) => rows.map((r) => r[c])),
    );
    return;
  }
  const width = JOB_COLUMNS.length;
  for (let i = 0; i < rows.length; i += 1_000) {
    const chunk = rows.slice(i, i + 1_000);
    await tx.execute(
      `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES ${chunk.map((_, r) => `(${placeholders(width, width * r + 1)})`).join(', ')}`,
      chunk.flat(),
    );
  }
}

async function seed(db: Database, tenantId: string, connectionId: string): Promise<void> {
  const pgTypes =
    db.kind === 'postgres'
      ? Object.fromEntries(
          (
            await db.query<{ column_name: string; data_type: string }>(
              "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'jobs' AND table_schema = current_schema()",
            )
          ).map((r) => [r.column_name, r.data_type]),
        )
      : null;
  const start = Date.now() - JOBS * 1_000 - 86_400_000;
  const perTx = db.kind === 'sqlite' ? 50_000 : 10_000;
  let batch: unknown[][] = [];
  const t0 = Date.now();
  for (let i = 0; i < JOBS; i++) {
    batch.push(jobToValues(finishedJob(connectionId, start + i * 1_000, i), tenantId));
    if (batch.length === perTx || i === JOBS - 1) {
      const rows = batch;
      batch = [];
      await db.transaction((tx) => insertRows(tx, pgTypes, rows));
    }
    if (i > 0 && i % 200_000 === 0)
      log(`  ${i.toLocaleString('en')} jobs seeded (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  if (db.kind === 'postgres') await db.execute('VACUUM ANALYZE jobs');
  else await db.execute('ANALYZE');
  log(`seeded ${JOBS.toLocaleString('en')} jobs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Downloads the CSV, counting bytes and lines without keeping them. */
function download(url: string, key: string): Promise<{ bytes: number; lines: number; status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/csv' } }, (res) => {
      let bytes = 0;
      let lines = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
      });
      res.on('end', () => resolve({ bytes, lines, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-csv-'));
  let drop: (() => Promise<void>) | null = null;
  const env: Record<string, string> = {};
  if (KIND === 'postgres') {
    const name = `jobtrail_csv_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: `${PG_URL}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    env.DATABASE_URL = `${PG_URL}/${name}`;
    drop = async () => {
      const c = new pg.Client({ connectionString: `${PG_URL}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const adminKey = `jt_bench_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    PORT: '0',
    ...env,
    JOBTRAIL_DATA_DIR: dataDir,
    JOBTRAIL_ROLE: 'api',
    JOBTRAIL_ADMIN_KEY: adminKey,
    JOBTRAIL_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    JOBTRAIL_DEMO: '0',
    JOBTRAIL_LOG_LEVEL: 'warn',
    JOBTRAIL_DASHBOARD_DIR: join(dataDir, 'no-dashboard'),
    JOBTRAIL_RATE_LIMIT_PER_MINUTE: '10000000',
  });
  const { app } = await createApp(config, createLogger('warn', pino.destination({ dest: '/dev/null', sync: false })));
  try {
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const db = app.get(Database);
    const tenant = await app.get(ApiKeysRepository).findTenantByName('default');
    if (!tenant) throw new Error('no default tenant');
    const connectionId = uuidv7At(Date.now() - 10 * 86_400_000);
    const cipher = app.get(CredentialsCipher);
    await db.transaction((tx) =>
      app.get(ConnectionsRepository).insertConnection(tx, {
        id: connectionId,
        tenant_id: tenant.id,
        institution_id: 'sandbox',
        login_id: 'bench-csv',
        credentials_enc: cipher.encrypt({ password: 'bench' }, { tenantId: tenant.id, connectionId }),
        user_ref: null,
        created_at: Date.now(),
      }),
    );
    log(`${KIND}: seeding ${JOBS.toLocaleString('en')} jobs`);
    await seed(db, tenant.id, connectionId);
    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const baseline = process.memoryUsage();
    const peak = { rss: baseline.rss, heapUsed: baseline.heapUsed, external: baseline.external };
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak.rss = Math.max(peak.rss, m.rss);
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
      peak.external = Math.max(peak.external, m.external);
    }, 20);
    const t0 = Date.now();
    const got = await download(`http://127.0.0.1:${port}/api/connections/${connectionId}/jobs`, adminKey);
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    if (got.status !== 200) throw new Error(`the export answered ${got.status}`);
    const rows = got.lines - 1;
    const report = {
      database: KIND,
      jobs: JOBS,
      csv_rows: rows,
      csv_bytes: got.bytes,
      seconds: Number(seconds.toFixed(1)),
      rows_per_second: Math.round(rows / seconds),
      baseline_rss: mb(baseline.rss),
      peak_rss: mb(peak.rss),
      rss_growth: mb(peak.rss - baseline.rss),
      baseline_heap: mb(baseline.heapUsed),
      peak_heap: mb(peak.heapUsed),
      heap_growth: mb(peak.heapUsed - baseline.heapUsed),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (rows !== JOBS) throw new Error(`the CSV has ${rows} rows, expected ${JOBS}`);
  } finally {
    await app.close();
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
