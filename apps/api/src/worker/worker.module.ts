import {
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ConnectorRegistry, Database, DatabaseClock, JobEventsBus, JobsStore, WorkerRuntime } from '@jobtrail/engine';
import type { Logger } from 'pino';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { CredentialsCipher } from '../connections/credentials-cipher.js';
import { CredentialsUpgrade } from '../connections/credentials-upgrade.service.js';
import { MetricsService } from '../metrics/metrics.service.js';

/** Starts the engine's worker with the application and stops it (SIGTERM grace) before shutdown. */
@Injectable()
class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(WorkerRuntime) private readonly runtime: WorkerRuntime) {}
  onApplicationBootstrap(): void {
    this.runtime.start();
  }
  beforeApplicationShutdown(): Promise<void> {
    return this.runtime.stop();
  }
}

/**
 * The worker role: the engine's WorkerRuntime (claims, runner, lease sweeper, retention) built by a
 * provider factory from what the CoreModule provides. Imported only by processes that run jobs.
 */
@Module({
  providers: [
    {
      provide: WorkerRuntime,
      useFactory: (
        db: Database,
        store: JobsStore,
        bus: JobEventsBus,
        connectors: ConnectorRegistry,
        credentials: CredentialsCipher,
        metrics: MetricsService,
        config: AppConfig,
        log: Logger,
        clock: DatabaseClock,
      ) =>
        new WorkerRuntime({
          db,
          store,
          bus,
          connectors,
          credentials,
          observer: metrics,
          worker: config.worker,
          retention: config.retention,
          dataDir: config.dataDir,
          log,
          clock,
          webhooks: {
            config: config.webhooks,
            // Signing secrets are sealed with the bank credentials' cipher and key, bound to their subscription.
            secrets: {
              decryptSecret: (enc, owner) =>
                credentials.decrypt(enc, { tenantId: owner.tenantId, connectionId: owner.webhookId }).password,
            },
            observer: metrics,
          },
        }),
      inject: [
        Database,
        JobsStore,
        JobEventsBus,
        ConnectorRegistry,
        CredentialsCipher,
        MetricsService,
        APP_CONFIG,
        LOGGER,
        DatabaseClock,
      ],
    },
    WorkerLifecycle,
    CredentialsUpgrade,
  ],
  exports: [WorkerRuntime],
})
export class WorkerModule {}
