import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Logger } from 'pino';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeysRepository } from './auth/api-keys.repository.js';
import { KeyUsageRecorder } from './auth/key-usage.recorder.js';
import { KeysController } from './auth/keys.controller.js';
import { KeysService } from './auth/keys.service.js';
import { JobLocationInterceptor } from './common/job-location.interceptor.js';
import { ProblemFilter } from './common/problem.filter.js';
import { RateLimitGuard } from './common/rate-limit.guard.js';
import { SealedPositions } from './common/sealed-positions.js';
import { APP_CONFIG, LOGGER } from './common/tokens.js';
import type { AppConfig } from './config/app-config.js';
import { ConnectionsController } from './connections/connections.controller.js';
import { ConnectionsRepository } from './connections/connections.repository.js';
import { ConnectionsService } from './connections/connections.service.js';
import { DemoSeeder } from './demo/demo-seeder.js';
import { EventTokens } from './events/event-tokens.js';
import { EventsController } from './events/events.controller.js';
import { HealthController } from './health/health.controller.js';
import { InstitutionsController, InstitutionsService } from './institutions/institutions.controller.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyRepository } from './idempotency/idempotency.repository.js';
import { IdempotencySweeper } from './idempotency/idempotency-sweeper.service.js';
import { ConnectionJobsController } from './jobs/connection-jobs.controller.js';
import { JobsController } from './jobs/jobs.controller.js';
import { JobsRepository } from './jobs/jobs.repository.js';
import { JobsService } from './jobs/jobs.service.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { JobDeliveriesController, WebhooksController } from './webhooks/webhooks.controller.js';
import { WebhooksRepository } from './webhooks/webhooks.repository.js';
import { WebhooksService } from './webhooks/webhooks.service.js';

/**
 * The HTTP API role: controllers, guards (who is calling, then whether they are over their
 * limit), the problem+json filter, and the services and repositories behind them. Imported only
 * by processes that serve HTTP.
 */
@Module({
  controllers: [
    HealthController,
    ConnectionsController,
    ConnectionJobsController,
    JobsController,
    EventsController,
    MetricsController,
    KeysController,
    WebhooksController,
    JobDeliveriesController,
    InstitutionsController,
  ],
  providers: [
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    RateLimitGuard,
    { provide: APP_GUARD, useExisting: RateLimitGuard },
    { provide: APP_FILTER, useFactory: (logger: Logger) => new ProblemFilter(logger), inject: [LOGGER] },
    { provide: APP_INTERCEPTOR, useClass: JobLocationInterceptor },
    {
      provide: SealedPositions,
      useFactory: (config: AppConfig) => new SealedPositions(config.encryptionKey),
      inject: [APP_CONFIG],
    },
    {
      provide: EventTokens,
      useFactory: (config: AppConfig) => new EventTokens(config.encryptionKey),
      inject: [APP_CONFIG],
    },
    ApiKeysRepository,
    KeysService,
    KeyUsageRecorder,
    ConnectionsRepository,
    ConnectionsService,
    JobsRepository,
    JobsService,
    IdempotencyRepository,
    IdempotencyInterceptor,
    IdempotencySweeper,
    DemoSeeder,
    WebhooksRepository,
    WebhooksService,
    InstitutionsService,
  ],
})
export class ApiModule {}
