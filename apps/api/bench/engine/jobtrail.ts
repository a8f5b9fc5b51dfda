/**
 * Jobtrail's side of the engine benchmark: a real worker (createApp, role `worker` or `all`) with a
 * no-op institution, on a freshly seeded database.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJob } from '@jobtrail/domain';
import { pino } from 'pino';
import type { AuthContext } from '../../src/auth/auth-context.js';
import { loadConfig, type AppConfig, type ProcessRole } from '../../src/config/app-config.js';
import { CredentialsCipher } from '../../src/connections/credentials-cipher.js';
import {
  ConnectorRegistry,
  Database,
  JOB_COLUMNS,
  JobEventsBus,
  jobToValues,
  placeholders,
  uuidv7,
  type Connector,
  type ConnectorContext,
} from '@jobtrail/engine';
import { createApp, createWorkerProcess } from '../../src/create-app.js';
import { JobsService } from '../../src/jobs/jobs.service.js';
import { createLogger } from '../../src/logging/logger.js';
import { openDatabase } from '../../src/persistence/open-database.js';
import {
  chunks,
  createPgDatabase,
  latencyOf,
  log,
  pgClient,
  pollUntil,
  sleep,
  withTimeout,
  type DrainResult,
  type LatencyResult,
} from './common.js';

export type Kind = 'sqlite' | 'postgres';
type DatabaseConfig = AppConfig['database'];

/** The institution id the bench connections use; its connector does nothing. */
const NOOP_INSTITUTION = 'noop';
const CLOSE_TIMEOUT_MS = 60_000;

/** A stored job_events row of a drained job, without what differs per job (ids, times, actor). */
export interface EventShape {
  readonly kind: string;
  readonly from_status: string | null;
  readonly to_status: string | null;
  readonly reason: string | null;
  readonly attempt: number | null;
  readonly level: string | null;
  readonly step: string | null;
  readonly message: string | null;
}

/** The job_events rows Jobtrail wrote for one job: in the claim, and when completing it. */
export interface EventTemplate {
  readonly claim: readonly EventShape[];
  readonly completion: readonly EventShape[];
}

export interface JobtrailDrainResult extends DrainResult {
  /** job_events rows per job (transitions and log lines), as recorded. */
  readonly eventsPerJob: number;
  readonly template: EventTemplate;
}

/** A scratch place for one Jobtrail run: its database (fresh) and data folder, removed by `cleanup`. */
interface Scratch {
  readonly database: DatabaseConfig;
  readonly dataDir: string;
  cleanup(): Promise<void>;
}

async function scratch(kind: Kind, pgServer: string, label: string): Promise<Scratch> {
  const dataDir = mkdtempSync(join(tmpdir(), `jobtrail-engine-bench-${label}-`));
  if (kind === 'sqlite') {
    return {
      database: { kind: 'sqlite', file: join(dataDir, 'jobtrail.sqlite') },
      dataDir,
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  try {
    const db = await createPgDatabase(pgServer, label);
    return {
      database: { kind: 'postgres', url: db.url },
      dataDir,
      cleanup: async () => {
        await db.drop().catch((err: unknown) => log(`could not drop ${db.name}: ${String(err)}`));
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Production defaults (loadConfig), except the role, concurrency and quiet logs. */
function benchConfig(s: Scratch, role: ProcessRole, concurrency: number, encryptionKey: Buffer): AppConfig {
  return loadConfig({
    PORT: '0',
    ...(s.database.kind === 'postgres' ? { DATABASE_URL: s.database.url } : {}),
    JOBTRAIL_DATA_DIR: s.dataDir,
    JOBTRAIL_ROLE: role,
    JOBTRAIL_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    JOBTRAIL_DEMO: '0',
    JOBTRAIL_LOG_LEVEL: 'warn',
    JOBTRAIL_WORKER_CONCURRENCY: String(concurrency),
    JOBTRAIL_PROGRESS_FLUSH_MS: '250',
    JOBTRAIL_DASHBOARD_DIR: join(s.dataDir, 'no-dashboard'),
  });
}

const quietLogger = () => createLogger('warn', pino.destination({ dest: '/dev/null', sync: false }));

/**
 * A tenant and `connections` connections on the no-op institution (login `c<i>`), each with one
 * pending refresh job when `withJobs`, in multi-row inserts. Returns the tenant and connection ids.
 */
export async function seedJobtrail(
  database: DatabaseConfig,
  encryptionKey: Buffer,
  connections: number,
  withJobs: boolean,
): Promise<{ tenantId: string; connectionIds: string[] }> {
  const { dataSource, db } = await openDatabase(database);
  try {
    const tenantId = uuidv7();
    await db.execute('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [tenantId, 'bench', Date.now()]);
    // Credentials are bound to their connection (associated data): one ciphertext per row.
    const cipher = new CredentialsCipher(encryptionKey);
    const now = new Date(Date.now() - 1_000);
    const connectionIds: string[] = [];
    const rowsPerInsert = 500;
    for (const [from, to] of chunks(connections, rowsPerInsert)) {
      await db.transaction(async (tx) => {
        const ids = Array.from({ length: to - from }, () => uuidv7());
        connectionIds.push(...ids);
        await tx.execute(
          `INSERT INTO connections (id, tenant_id, institution_id, login_id, credentials_enc, user_ref, created_at, latest_job_id) VALUES ${ids.map((_, i) => `(${placeholders(5, 6 * i + 1)}, NULL, $${6 * i + 6}, NULL)`).join(', ')}`,
          ids.flatMap((id, i) => [
            id,
            tenantId,
            NOOP_INSTITUTION,
            `c${from + i}`,
            cipher.encrypt({ password: 'bench' }, { tenantId, connectionId: id }),
            now.getTime(),
          ]),
        );
        if (!withJobs) return;
        const jobs = ids.map((connectionId) =>
          createJob({
            id: uuidv7(),
            connectionId,
            action: 'refresh',
            now,
            maxAttempts: 3,
            requestedBy: { id: 'bench', name: 'bench seed' },
          }),
        );
        await tx.execute(
          `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES ${jobs.map((_, i) => `(${placeholders(JOB_COLUMNS.length, JOB_COLUMNS.length * i + 1)})`).join(', ')}`,
          jobs.flatMap((j) => jobToValues(j, tenantId)),
        );
      });
    }
    await db.execute('ANALYZE');
    return { tenantId, connectionIds };
  } finally {
    await dataSource.destroy();
  }
}

/** A connector that does nothing and reports each call of its first step. */
function noopConnector(onStart: (ctx: ConnectorContext) => void): Connector {
  return {
    verifyCredentials: async (ctx) => onStart(ctx),
    retrieveAccounts: async () => [],
    retrieveTransactions: async () => [],
  };
}

const BUSY_SQL = `SELECT CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE status = 'pending') OR EXISTS (SELECT 1 FROM jobs WHERE status = 'processing') THEN 1 ELSE 0 END AS busy`;

/**
 * Drain: `jobs` pending refresh jobs on as many connections, then a worker process (role `worker`,
 * no HTTP) runs them all with the no-op institution. Timed from the first job's first step to the
 * poll (every 20 ms once every job reached the connector, on the partial indexes) that finds
 * nothing pending or processing.
 */
export async function jobtrailDrain(
  kind: Kind,
  pgServer: string,
  jobs: number,
  concurrency: number,
  timeoutMs: number,
): Promise<JobtrailDrainResult> {
  const s = await scratch(kind, pgServer, 'jt_drain');
  let closeApp: (() => Promise<void>) | null = null;
  try {
    const key = randomBytes(32);
    const config = benchConfig(s, 'worker', concurrency, key);
    log(`Jobtrail ${kind}: seeding ${jobs.toLocaleString('en')} connections with a pending refresh each`);
    await seedJobtrail(s.database, key, jobs, true);
    let firstStep = 0;
    let handled = 0;
    const connector = noopConnector(() => {
      if (handled++ === 0) firstStep = performance.now();
    });
    log(`Jobtrail ${kind}: draining (concurrency ${concurrency})`);
    const started = performance.now();
    const app = await createWorkerProcess(config, quietLogger(), {
      connectors: new ConnectorRegistry().register(NOOP_INSTITUTION, connector),
    });
    closeApp = () => app.close();
    const db = app.get(Database);
    // On PostgreSQL the poll runs on its own connection, as it does for the peers.
    const poller = s.database.kind === 'postgres' ? await pgClient(s.database.url) : null;
    let finished: number;
    try {
      const busy = async () =>
        poller
          ? Number((await poller.query<{ busy: number }>(BUSY_SQL)).rows[0]?.busy) === 1
          : Number((await db.query<{ busy: number }>(BUSY_SQL))[0]?.busy) === 1;
      // The database is asked only once every job was handed to the connector (no poll load before).
      finished = await pollUntil(
        async () => handled >= jobs && !(await busy()),
        20,
        timeoutMs,
        `Jobtrail ${kind} drain`,
      );
    } finally {
      await poller?.end().catch(() => undefined);
    }
    const counts = await db.query<{ status: string; n: number | string }>(
      'SELECT status, COUNT(*) AS n FROM jobs GROUP BY status',
    );
    const success = Number(counts.find((c) => c.status === 'success')?.n ?? 0);
    if (success !== jobs)
      throw new Error(`Jobtrail ${kind} drain: ${success} jobs succeeded of ${jobs} (${JSON.stringify(counts)})`);
    const events = Number((await db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM job_events'))[0]?.n ?? 0);
    const template = await eventTemplate(db);
    await withTimeout(app.close(), CLOSE_TIMEOUT_MS, 'closing Jobtrail');
    closeApp = null;
    return {
      jobs,
      seconds: (finished - firstStep) / 1000,
      secondsFromStart: (finished - started) / 1000,
      eventsPerJob: events / jobs,
      template,
    };
  } finally {
    await closeApp?.().catch(() => undefined);
    await s.cleanup();
  }
}

/** The events of one drained job, split at the claim (its first transition). */
async function eventTemplate(db: Database): Promise<EventTemplate> {
  const job = (await db.query<{ id: string }>(`SELECT id FROM jobs WHERE status = 'success' ORDER BY id LIMIT 1`))[0];
  if (!job) throw new Error('no drained job to copy events from');
  const rows = await db.query<EventShape & { attempt: number | string | null }>(
    'SELECT kind, from_status, to_status, reason, attempt, level, step, message FROM job_events WHERE job_id = $1 ORDER BY id',
    [job.id],
  );
  const shapes = rows.map((r) => ({ ...r, attempt: r.attempt === null ? null : Number(r.attempt) }));
  const claimAt = shapes.findIndex((r) => r.kind === 'transition' && r.to_status === 'processing');
  if (claimAt !== 0) throw new Error(`unexpected events of a drained job: ${JSON.stringify(shapes)}`);
  return { claim: shapes.slice(0, 1), completion: shapes.slice(1) };
}

export interface JobtrailLatencyResult {
  /** Creation start → the job's `processing` change seen on the JobEventsBus. */
  readonly processing: LatencyResult;
  /** Creation start → the connector's first step called (what a peer's "task started" is). */
  readonly started: LatencyResult;
  /** Creation start → startAction returned (the API's share of the latency). */
  readonly create: LatencyResult;
}

/**
 * Pickup latency: an idle in-process worker (role `all`, no HTTP), refresh jobs created one at a
 * time through JobsService.startAction on distinct connections, the next one `spacingMs` after the
 * previous creation started (and only once the previous one was picked up).
 */
export async function jobtrailLatency(
  kind: Kind,
  pgServer: string,
  samples: number,
  warmup: number,
  spacingMs: number,
  concurrency: number,
): Promise<JobtrailLatencyResult> {
  const s = await scratch(kind, pgServer, 'jt_latency');
  let closeApp: (() => Promise<void>) | null = null;
  try {
    const key = randomBytes(32);
    const config = benchConfig(s, 'all', concurrency, key);
    const total = warmup + samples;
    const { tenantId, connectionIds } = await seedJobtrail(s.database, key, total, false);
    const waiting = new Map<string, (at: number) => void>();
    const stepWaiting = new Map<string, (at: number) => void>();
    const connector = noopConnector((ctx) => stepWaiting.get(ctx.loginId)?.(performance.now()));
    const { app } = await createApp(config, quietLogger(), {
      connectors: new ConnectorRegistry().register(NOOP_INSTITUTION, connector),
    });
    closeApp = () => app.close();
    const unsubscribe = app.get(JobEventsBus).subscribe((c) => {
      if (c.type === 'job.updated' && c.job.status === 'processing') waiting.get(c.connectionId)?.(performance.now());
    });
    const jobsService = app.get(JobsService);
    const auth: AuthContext = { tenantId, tenantName: 'bench', keyId: randomUUID(), keyName: 'bench', role: 'admin' };
    // Let the worker finish starting (LISTEN connected, first idle poll done).
    await sleep(500);
    log(`Jobtrail ${kind}: pickup latency, ${total} jobs ${spacingMs} ms apart (${warmup} warm-up)`);
    const toProcessing: number[] = [];
    const toStarted: number[] = [];
    const creating: number[] = [];
    let next = performance.now();
    for (let i = 0; i < total; i++) {
      const connectionId = connectionIds[i] as string;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      const processing = new Promise<number>((resolve) => waiting.set(connectionId, resolve));
      const stepped = new Promise<number>((resolve) => stepWaiting.set(`c${i}`, resolve));
      const t0 = performance.now();
      next = t0 + spacingMs;
      const started = await jobsService.startAction(auth, connectionId, 'refresh');
      const created = performance.now();
      if (!started.created) throw new Error('startAction found an active job on a fresh connection');
      const [p, st] = await withTimeout(
        Promise.all([processing, stepped]),
        10_000,
        `Jobtrail ${kind}: job ${i} was not picked up`,
      );
      waiting.delete(connectionId);
      stepWaiting.delete(`c${i}`);
      if (i >= warmup) {
        toProcessing.push(p - t0);
        toStarted.push(st - t0);
        creating.push(created - t0);
      }
    }
    unsubscribe();
    await withTimeout(app.close(), CLOSE_TIMEOUT_MS, 'closing Jobtrail');
    closeApp = null;
    return { processing: latencyOf(toProcessing), started: latencyOf(toStarted), create: latencyOf(creating) };
  } finally {
    await closeApp?.().catch(() => undefined);
    await s.cleanup();
  }
}

/** A seeded SQLite file for the bare loop: the same schema (migrations) and rows as Jobtrail's drain. */
export async function seededSqliteScratch(
  jobs: number,
): Promise<{ file: string; tenantId: string; cleanup: () => void }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-engine-bench-bare-'));
  try {
    const file = join(dataDir, 'bare.sqlite');
    const { tenantId } = await seedJobtrail({ kind: 'sqlite', file }, randomBytes(32), jobs, true);
    return { file, tenantId, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
