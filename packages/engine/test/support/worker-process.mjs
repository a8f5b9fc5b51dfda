// A worker process made of the engine alone (no Nest, no HTTP), for the engine's process-level
// tests: it runs the built engine (`dist`) against the database the test gives it, with the
// sandbox institution, until SIGTERM (graceful stop, exit 0) or SIGKILL.
import process from 'node:process';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import {
  ConnectorRegistry,
  JobEventsBus,
  JobsStore,
  MIGRATIONS,
  SANDBOX_INSTITUTION_ID,
  SandboxConnector,
  WorkerRuntime,
  databaseFor,
} from '../../dist/index.js';

const env = process.env;
const int = (name, fallback) => (env[name] === undefined ? fallback : Number(env[name]));
const common = { migrations: MIGRATIONS, migrationsRun: false, synchronize: false, logging: false, entities: [] };
const dataSource =
  env.DB_KIND === 'postgres'
    ? new DataSource({ ...common, type: 'postgres', url: env.DB_URL, extra: { max: 5 } })
    : new DataSource({
        ...common,
        type: 'better-sqlite3',
        database: env.DB_FILE,
        enableWAL: true,
        prepareDatabase: (db) => {
          db.pragma('busy_timeout = 5000');
          db.pragma('foreign_keys = ON');
        },
      });
await dataSource.initialize();
const log = pino({ level: 'warn' }, pino.destination(2));
const db = databaseFor(dataSource);
const bus = new JobEventsBus(db, env.DB_KIND === 'postgres' ? env.DB_URL : null, log);
await bus.start();
const worker = {
  concurrency: int('CONCURRENCY', 4),
  leaseMs: int('LEASE_MS', 1_000),
  jobDeadlineMs: 60_000,
  pollMs: 100,
  shutdownGraceMs: int('GRACE_MS', 5_000),
  maxAttempts: int('MAX_ATTEMPTS', 10),
  backoffBaseMs: 50,
  progressFlushMs: 50,
  sandboxSlowStepMs: int('SLOW_STEP_MS', 200),
  mfaTimeoutMs: int('MFA_TIMEOUT_MS', 300_000),
  // The refresh scheduler runs in every worker process; tests of it shorten its poll.
  schedulePollMs: int('SCHEDULE_POLL_MS', 10_000),
};
const runtime = new WorkerRuntime({
  db,
  store: new JobsStore(db),
  bus,
  connectors: new ConnectorRegistry().register(SANDBOX_INSTITUTION_ID, new SandboxConnector(worker.sandboxSlowStepMs)),
  credentials: { decrypt: () => ({ password: 'pw' }) },
  worker,
  retention: { successDays: 90, failedDays: 365, cancelledDays: 90, sweepMs: 3_600_000 },
  dataDir: env.DATA_DIR,
  log,
});
runtime.start();
process.stdout.write(`ready ${runtime.worker.workerId}\n`);
process.on('SIGTERM', async () => {
  await runtime.stop();
  await bus.close();
  await dataSource.destroy();
  process.exit(0);
});
