import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeysRepository } from './auth/api-keys.repository.js';
import { ProblemFilter } from './common/problem.filter.js';
import { RateLimitGuard } from './common/rate-limit.guard.js';
import { APP_CONFIG, LOGGER } from './common/tokens.js';
import type { AppConfig } from './config/app-config.js';
import { ConnectionsController } from './connections/connections.controller.js';
import { ConnectionsRepository } from './connections/connections.repository.js';
import { ConnectionsService } from './connections/connections.service.js';
import { CredentialsCipher } from './connections/credentials-cipher.js';
import { CredentialsUpgrade } from './connections/credentials-upgrade.service.js';
import { dataSourceOptions } from './database/data-source.js';
import { Database } from './database/database.js';
import { databaseFor } from './database/open-database.js';
import { DemoSeeder } from './demo/demo-seeder.js';
import { HealthController } from './health/health.controller.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyRepository } from './idempotency/idempotency.repository.js';
import { IdempotencySweeper } from './idempotency/idempotency-sweeper.service.js';
import { JobsController } from './jobs/jobs.controller.js';
import { JobsRepository } from './jobs/jobs.repository.js';
import { JobsService } from './jobs/jobs.service.js';
import { EventTokens } from './events/event-tokens.js';
import { EventsController } from './events/events.controller.js';
import { JobEventsBus } from './events/job-events.bus.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { SANDBOX_INSTITUTION_ID, SandboxConnector } from './sandbox/sandbox.connector.js';
import { BankDataRepository } from './worker/bank-data.repository.js';
import { ConnectorRegistry } from './worker/connector.js';
import { JobRunner } from './worker/job-runner.js';
import { WorkerRepository } from './worker/worker.repository.js';
import { WorkerService } from './worker/worker.service.js';
import { WriteBatcher } from './worker/write-batcher.js';
import { RetentionService } from './worker/retention.service.js';

/** What a caller may swap in (benchmarks run a no-op institution). */
export interface AppModuleOptions {
  readonly connectors?: ConnectorRegistry;
}

@Module({})
export class AppModule {
  /** The whole API for one configuration; tests build it with their own database and log sink. */
  static forRoot(config: AppConfig, logger: Logger, options: AppModuleOptions = {}): DynamicModule {
    const connectors =
      options.connectors ??
      new ConnectorRegistry().register(SANDBOX_INSTITUTION_ID, new SandboxConnector(config.worker.sandboxSlowStepMs));
    return {
      module: AppModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(config.database))],
      controllers: [HealthController, ConnectionsController, JobsController, EventsController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: Database, useFactory: (ds: DataSource) => databaseFor(ds), inject: [DataSource] },
        { provide: CredentialsCipher, useValue: new CredentialsCipher(config.encryptionKey) },
        // Guards run in this order: who is calling, then whether they are over their limit.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        // One instance, also injected into the events controller (it authenticates streams itself).
        RateLimitGuard,
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        { provide: APP_FILTER, useValue: new ProblemFilter(logger) },
        ApiKeysRepository,
        ConnectionsRepository,
        ConnectionsService,
        CredentialsUpgrade,
        JobsRepository,
        JobsService,
        IdempotencyRepository,
        IdempotencyInterceptor,
        IdempotencySweeper,
        DemoSeeder,
        { provide: ConnectorRegistry, useValue: connectors },
        { provide: EventTokens, useValue: new EventTokens(config.encryptionKey) },
        JobEventsBus,
        MetricsService,
        WorkerRepository,
        BankDataRepository,
        JobRunner,
        WriteBatcher,
        WorkerService,
        RetentionService,
      ],
    };
  }
}
