/**
 * Jobtrail's side of the engine benchmark: the engine's WorkerRuntime, as a worker process runs it, with a
 * no-op institution, on a freshly seeded database.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJob, freshSteps } from '@jobtrail/domain';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import {
  ConnectorRegistry,
  Database,
  JOB_COLUMNS,
  JobEventsBus,
  JobsStore,
  MIGRATIONS,
  WorkerRuntime,
  databaseFor,
  jobToValues,
  placeholders,
  stepsToJson,
  uuidv7,
  type Connector,
  type ConnectorContext,
  type WorkerConfig,
} from '../../src/index.js';
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
export type DatabaseConfig =
  { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string };

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
  /** The ended attempt's steps (JSON), on the completing transition. */
  readonly steps: string | null;
  /** Log lines folded into one row (JSON). */
  readonly lines: string | null;
}

/**
 * A job_events row of `shape` for a job, as the bare loops insert it (EVENT_COLUMNS order of the
 * store): the shape's fields, with the job's ids, the time and, on a transition, the actor.
 */
export function eventShapeValues(
  job: { readonly id: string; readonly tenant_id: string; readonly connection_id: string },
  shape: EventShape,
  at: number,
  actor: string,
): unknown[] {
  return [
    job.id,
    job.tenant_id,
    job.connection_id,
    shape.kind,
    at,
    shape.from_status,
    shape.to_status,
    shape.reason,
    shape.kind === 'transition' ? actor : null,
    shape.attempt,
    shape.level,
    shape.step,
    shape.message,
    shape.steps,
    shape.lines,
  ];
}

/** A refresh's steps as a claim stores them (every step pending), through the store's own mapper. */
export const FRESH_REFRESH_STEPS_JSON = stepsToJson(freshSteps('refresh'));

/** A refresh's steps as stored once every step succeeded at `at` (the bench's no-op attempts). */
export function succeededRefreshStepsJson(at: Date): string {
  return stepsToJson(
    freshSteps('refresh').map((step) => ({ ...step, status: 'success' as const, startedAt: at, finishedAt: at })),
  );
}

/** The job_events rows Jobtrail wrote for one job: in the claim, and when completing it. */
export interface EventTemplate {
  readonly claim: readonly EventShape[];
  readonly completion: readonly EventShape[];
}

/** What the database did per drained job, from PostgreSQL's cumulative statistics (null on SQLite). */
export interface WriteProfile {
  /** Committed transactions per job. */
  readonly commits: number;
  /** Rows inserted, updated (of which HOT: no index touched) and deleted per job, by table. */
  readonly tables: Readonly<Record<string, TableWrites>>;
}

/** One table's row writes, and the growth of the table and of its indexes in bytes (per job in a profile). */
interface TableWrites {
  readonly ins: number;
  readonly upd: number;
  readonly hot: number;
  readonly del: number;
  readonly heapBytes: number;
  readonly indexBytes: number;
}

export interface JobtrailDrainResult extends DrainResult {
  /** job_events rows per job (transitions and log lines), as recorded. */
  readonly eventsPerJob: number;
  readonly writes: WriteProfile | null;
  readonly template: EventTemplate;
}

/** A scratch place for one Jobtrail run: its database (fresh) and data folder, removed by `cleanup`. */
export interface Scratch {
  readonly database: DatabaseConfig;
  readonly dataDir: string;
  cleanup(): Promise<void>;
}

export async function scratch(kind: Kind, pgServer: string, label: string): Promise<Scratch> {
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

/** Production worker defaults (the README's), except the concurrency. */
function benchWorkerConfig(concurrency: number): WorkerConfig {
  return {
    concurrency,
    leaseMs: 30_000,
    jobDeadlineMs: 300_000,
    pollMs: 1_000,
    shutdownGraceMs: 10_000,
    maxAttempts: 3,
    backoffBaseMs: 2_000,
    progressFlushMs: 250,
    sandboxSlowStepMs: 2_000,
    mfaTimeoutMs: 300_000,
  };
}

export const quietLogger = () => pino({ level: 'warn' }, pino.destination({ dest: '/dev/null', sync: false }));

/** The engine's database handle on a migrated database, as a worker process opens it. */
export async function openBenchDatabase(database: DatabaseConfig): Promise<{ dataSource: DataSource; db: Database }> {
  const common = { migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false, entities: [] };
  const dataSource =
    database.kind === 'postgres'
      ? new DataSource({
          ...common,
          type: 'postgres',
          url: database.url,
          extra: { max: 10, options: '-c jit=off' },
        })
      : new DataSource({
          ...common,
          type: 'better-sqlite3',
          database: database.file,
          enableWAL: true,
          prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
            db.pragma('busy_timeout = 5000');
            db.pragma('foreign_keys = ON');
            db.pragma('synchronous = NORMAL');
          },
        });
  await dataSource.initialize();
  return { dataSource, db: databaseFor(dataSource) };
}

/** A worker process's engine (WorkerRuntime) on the scratch database, with the given connector. */
export async function startWorker(
  s: Scratch,
  concurrency: number,
  connector: Connector,
): Promise<{ db: Database; store: JobsStore; bus: JobEventsBus; close: () => Promise<void> }> {
  const { dataSource, db } = await openBenchDatabase(s.database);
  const log = quietLogger();
  const bus = new JobEventsBus(db, s.database.kind === 'postgres' ? s.database.url : null, log);
  await bus.start();
  const store = new JobsStore(db);
  const runtime = new WorkerRuntime({
    db,
    store,
    bus,
    connectors: new ConnectorRegistry().register(NOOP_INSTITUTION, connector),
    credentials: { decrypt: () => ({ password: 'bench' }) },
    worker: benchWorkerConfig(concurrency),
    retention: { successDays: 90, failedDays: 365, cancelledDays: 90, sweepMs: 3_600_000 },
    dataDir: s.dataDir,
    log,
  });
  runtime.start();
  return {
    db,
    store,
    bus,
    close: async () => {
      await runtime.stop();
      await bus.close();
      await dataSource.destroy();
    },
  };
}

/**
 * A tenant and `connections` connections on the no-op institution (login `c<i>`), each with one
 * pending refresh job when `withJobs`, in multi-row inserts. Returns the tenant and connection ids.
 */
export async function seedJobtrail(
  database: DatabaseConfig,
  connections: number,
  withJobs: boolean,
): Promise<{ tenantId: string; connectionIds: string[] }> {
  const { dataSource, db } = await openBenchDatabase(database);
  try {
    const tenantId = uuidv7();
    await db.execute('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [tenantId, 'bench', Date.now()]);
    // The bench's decryptor ignores them: no institution is really called.
    const now = new Date(Date.now() - 1_000);
    const connectionIds: string[] = [];
    const rowsPerInsert = 500;
    for (const [from, to] of chunks(connections, rowsPerInsert)) {
      await db.transaction(async (tx) => {
        const ids = Array.from({ length: to - from }, () => uuidv7());
        connectionIds.push(...ids);
        await tx.execute(
          `INSERT INTO connections (id, tenant_id, institution_id, login_id, credentials_enc, user_ref, created_at, latest_job_id) VALUES ${ids.map((_, i) => `(${placeholders(5, 6 * i + 1)}, NULL, $${6 * i + 6}, NULL)`).join(', ')}`,
          ids.flatMap((id, i) => [id, tenantId, NOOP_INSTITUTION, `c${from + i}`, 'sealed', now.getTime()]),
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
export function noopConnector(onStart: (ctx: ConnectorContext) => void): Connector {
  return {
    verifyCredentials: async (ctx) => onStart(ctx),
    retrieveAccounts: async () => [],
    retrieveTransactions: async () => [],
  };
}

export const BUSY_SQL = `SELECT CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE status = 'pending') OR EXISTS (SELECT 1 FROM jobs WHERE status = 'processing') THEN 1 ELSE 0 END AS busy`;

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
    log(`Jobtrail ${kind}: seeding ${jobs.toLocaleString('en')} connections with a pending refresh each`);
    await seedJobtrail(s.database, jobs, true);
    let firstStep = 0;
    let handled = 0;
    const connector = noopConnector(() => {
      if (handled++ === 0) firstStep = performance.now();
    });
    log(`Jobtrail ${kind}: draining (concurrency ${concurrency})`);
    const before = s.database.kind === 'postgres' ? await pgWriteStats(s.database.url) : null;
    const started = performance.now();
    const worker = await startWorker(s, concurrency, connector);
    closeApp = worker.close;
    const db = worker.db;
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
    await withTimeout(worker.close(), CLOSE_TIMEOUT_MS, 'closing Jobtrail');
    closeApp = null;
    const after = s.database.kind === 'postgres' && before ? await pgWriteStats(s.database.url) : null;
    return {
      jobs,
      seconds: (finished - firstStep) / 1000,
      secondsFromStart: (finished - started) / 1000,
      eventsPerJob: events / jobs,
      writes: before && after ? writeProfile(before, after, jobs) : null,
      template,
    };
  } finally {
    await closeApp?.().catch(() => undefined);
    await s.cleanup();
  }
}

interface PgWriteStats {
  readonly commits: number;
  readonly tables: Record<string, TableWrites>;
}

/**
 * The database's cumulative counters. Other backends flush theirs at most once a second (PostgreSQL
 * 15), so the read waits that long after the worker has closed its connections.
 */
async function pgWriteStats(url: string): Promise<PgWriteStats> {
  await sleep(1_100);
  const c = await pgClient(url);
  try {
    await c.query('SELECT pg_stat_force_next_flush()');
    const db = await c.query<{ xact_commit: string }>(
      'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()',
    );
    const rows = await c.query<{
      relname: string;
      ins: string;
      upd: string;
      hot: string;
      del: string;
      heap: string;
      idx: string;
    }>(
      `SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del,
              pg_relation_size(relid) AS heap, pg_indexes_size(relid) AS idx
         FROM pg_stat_user_tables`,
    );
    const tables: PgWriteStats['tables'] = {};
    for (const r of rows.rows)
      tables[r.relname] = {
        ins: Number(r.ins),
        upd: Number(r.upd),
        hot: Number(r.hot),
        del: Number(r.del),
        heapBytes: Number(r.heap),
        indexBytes: Number(r.idx),
      };
    return { commits: Number(db.rows[0]?.xact_commit ?? 0), tables };
  } finally {
    await c.end();
  }
}

function writeProfile(before: PgWriteStats, after: PgWriteStats, jobs: number): WriteProfile {
  const tables: Record<string, TableWrites> = {};
  for (const [name, a] of Object.entries(after.tables)) {
    const b = before.tables[name] ?? { ins: 0, upd: 0, hot: 0, del: 0, heapBytes: 0, indexBytes: 0 };
    const d = {
      ins: (a.ins - b.ins) / jobs,
      upd: (a.upd - b.upd) / jobs,
      hot: (a.hot - b.hot) / jobs,
      del: (a.del - b.del) / jobs,
      heapBytes: (a.heapBytes - b.heapBytes) / jobs,
      indexBytes: (a.indexBytes - b.indexBytes) / jobs,
    };
    if (d.ins || d.upd || d.del) tables[name] = d;
  }
  return { commits: (after.commits - before.commits) / jobs, tables };
}

/** The events of one drained job, split at the claim (its first transition). */
async function eventTemplate(db: Database): Promise<EventTemplate> {
  const job = (await db.query<{ id: string }>(`SELECT id FROM jobs WHERE status = 'success' ORDER BY id LIMIT 1`))[0];
  if (!job) throw new Error('no drained job to copy events from');
  const rows = await db.query<EventShape & { attempt: number | string | null }>(
    'SELECT kind, from_status, to_status, reason, attempt, level, step, message, steps, lines FROM job_events WHERE job_id = $1 ORDER BY id',
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
 * time as the API starts an action (one commit of the job and its events, then a publish) on distinct connections, the next one `spacingMs` after the
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
    const total = warmup + samples;
    const { tenantId, connectionIds } = await seedJobtrail(s.database, total, false);
    const waiting = new Map<string, (at: number) => void>();
    const stepWaiting = new Map<string, (at: number) => void>();
    const connector = noopConnector((ctx) => stepWaiting.get(ctx.loginId)?.(performance.now()));
    const worker = await startWorker(s, concurrency, connector);
    closeApp = worker.close;
    const unsubscribe = worker.bus.subscribe((c) => {
      if (c.type === 'job.updated' && c.job.status === 'processing') waiting.get(c.connectionId)?.(performance.now());
    });
    const keyId = randomUUID();
    /** What the API does to start an action: one commit of the new job and its events, then publish. */
    const startRefresh = async (connectionId: string) => {
      const now = new Date();
      const job = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'refresh', now, maxAttempts: 3 });
      const [created] = await worker.store.commitNow([
        {
          tenantId,
          before: null,
          next: job,
          events: [
            { kind: 'created', at: now, actor: keyId, reason: 'requested' },
            { kind: 'log', at: now, level: 'info', step: null, message: 'refresh requested by key "bench"' },
          ],
        },
      ]);
      await worker.bus.publish([created!.change]);
    };
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
      await startRefresh(connectionId);
      const created = performance.now();
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
    await withTimeout(worker.close(), CLOSE_TIMEOUT_MS, 'closing Jobtrail');
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
    const { tenantId } = await seedJobtrail({ kind: 'sqlite', file }, jobs, true);
    return { file, tenantId, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
