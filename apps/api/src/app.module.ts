import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { ApiModule } from './api.module.js';
import type { AppConfig } from './config/app-config.js';
import { CoreModule, type CoreModuleOptions } from './core/core.module.js';
import { WorkerModule } from './worker/worker.module.js';

/** What a caller may swap in (benchmarks run a no-op institution). */
export type AppModuleOptions = CoreModuleOptions;

/**
 * One process of Jobtrail, assembled from its role: every role has the core (database, store, bus,
 * connectors); `api` and `all` serve HTTP (ApiModule); `worker` and `all` run jobs (WorkerModule).
 * This is the one place a role is looked at.
 */
@Module({})
export class AppModule {
  static forRole(config: AppConfig, logger: Logger, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger, options),
        ...(config.role === 'worker' ? [] : [ApiModule]),
        ...(config.role === 'api' ? [] : [WorkerModule]),
      ],
    };
  }
}
