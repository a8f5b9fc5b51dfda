import { circuitIsOpen } from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus } from './bus/job-events.bus.js';
import { systemClock, type Clock } from './clock.js';
import type {
  AttemptObserver,
  CredentialsDecryptor,
  RetentionConfig,
  WebhookConfig,
  WebhookObserver,
  WebhookSecretDecryptor,
  WorkerConfig,
} from './config.js';
import type { ConnectorRegistry } from './connectors/connector.js';
import type { Database } from './database/database.js';
import { RetentionSweeper } from './retention/retention.sweeper.js';
import { BankDataStore } from './store/bank-data.store.js';
import type { JobsStore } from './store/jobs.store.js';
import { JobRunner } from './worker/job-runner.js';
import { JobWorker } from './worker/job-worker.js';
import { RefreshScheduler } from './worker/refresh-scheduler.js';
import { WriteBatcher } from './worker/write-batcher.js';
import type { HostResolver } from './webhooks/url-safety.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';

/** What a worker process needs from its host. */
export interface WorkerRuntimeDeps {
  readonly db: Database;
  readonly store: JobsStore;
  readonly bus: JobEventsBus;
  readonly connectors: ConnectorRegistry;
  readonly credentials: CredentialsDecryptor;
  readonly observer?: AttemptObserver;
  readonly worker: WorkerConfig;
  readonly retention: RetentionConfig;
  /** Where the SQLite worker lock lives. */
  readonly dataDir: string;
  readonly log: Logger;
  /** What "now" is: the database's clock for processes that share a database (default: this machine's). */
  readonly clock?: Clock;
  /** Sending the webhook outbox; absent, this process sends none (another worker does). */
  readonly webhooks?: {
    readonly config: WebhookConfig;
    readonly secrets: WebhookSecretDecryptor;
    readonly observer?: WebhookObserver;
    /** Tests only: a DNS that changes its answers. */
    readonly resolver?: HostResolver;
  };
}

/** The worker side of a process: claiming and running jobs, sweeping leases, retention, sending webhooks. */
export class WorkerRuntime {
  readonly worker: JobWorker;
  readonly runner: JobRunner;
  readonly retention: RetentionSweeper;
  readonly webhooks: WebhookDispatcher | null;
  /** Starts scheduled refreshes (`refresh_every_hours`), one per due slot across all workers. */
  readonly scheduler: RefreshScheduler;

  constructor(deps: WorkerRuntimeDeps) {
    const clock = deps.clock ?? systemClock;
    const batcher = new WriteBatcher(deps.db, deps.store, deps.bus, deps.log);
    this.runner = new JobRunner(
      deps.store,
      batcher,
      new BankDataStore(deps.db, clock),
      deps.connectors,
      deps.credentials,
      deps.bus,
      deps.observer ?? null,
      deps.worker,
      deps.log,
      clock,
    );
    this.worker = new JobWorker(deps.db, deps.store, this.runner, deps.bus, deps.worker, deps.dataDir, deps.log, clock);
    this.retention = new RetentionSweeper(deps.db, deps.retention, deps.log, clock);
    this.scheduler = new RefreshScheduler(
      deps.db,
      deps.store,
      deps.bus,
      deps.log,
      clock,
      deps.worker.schedulePollMs ?? 10_000,
      // Scheduled refreshes to an institution whose circuit is open are deferred.
      async (tx, institutionId) =>
        [...(await deps.store.loadCircuits(tx, [institutionId], false)).values()].some(circuitIsOpen),
    );
    const w = deps.webhooks;
    this.webhooks = w
      ? new WebhookDispatcher(deps.db, w.config, w.secrets, w.observer ?? null, deps.log, deps.bus, w.resolver, clock)
      : null;
  }

  start(): void {
    this.worker.start();
    this.retention.start();
    this.scheduler.start();
    this.webhooks?.start();
  }

  /** Stops claiming; running jobs finish within the grace period or are released. */
  async stop(): Promise<void> {
    this.retention.stop();
    await this.scheduler.stop();
    await this.worker.stop();
    await this.webhooks?.stop();
    this.runner.close();
  }
}
