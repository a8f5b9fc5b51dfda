import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  ConnectorRegistry,
  Database,
  DatabaseClock,
  JobEventsBus,
  JobsStore,
  SANDBOX_INSTITUTION_ID,
  SandboxConnector,
  databaseFor,
} from '@jobtrail/engine';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { CredentialsCipher } from '../connections/credentials-cipher.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { dataSourceOptions } from '../persistence/data-source.js';
import { databaseOptions } from '../persistence/open-database.js';

/**
 * Starts the bus's LISTEN connection and the database clock with the process (before any worker
 * or request runs), and stops them last.
 */
@Injectable()
class CoreLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(JobEventsBus) private readonly bus: JobEventsBus,
    @Inject(DatabaseClock) private readonly clock: DatabaseClock,
  ) {}
  async onModuleInit(): Promise<void> {
    await this.clock.start();
    await this.bus.start();
  }
  onApplicationShutdown(): Promise<void> {
    this.clock.stop();
    return this.bus.close();
  }
}

/** What a caller may swap in (benchmarks run a no-op institution). */
export interface CoreModuleOptions {
  readonly connectors?: ConnectorRegistry;
}

/**
 * What every process role needs: configuration, logs, the database (TypeORM's DataSource wrapped
 * in the engine's Database), the engine's store and event bus, the connectors (the institutions
 * a connection can be made to), the credentials cipher and the metrics.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, logger: Logger, options: CoreModuleOptions = {}): DynamicModule {
    const connectors =
      options.connectors ??
      new ConnectorRegistry().register(SANDBOX_INSTITUTION_ID, new SandboxConnector(config.worker.sandboxSlowStepMs));
    const databaseUrl = config.database.kind === 'postgres' ? config.database.url : null;
    return {
      module: CoreModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(config.database))],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        {
          provide: Database,
          useFactory: (ds: DataSource) => databaseFor(ds, databaseOptions(config.database)),
          inject: [DataSource],
        },
        { provide: JobsStore, useFactory: (db: Database) => new JobsStore(db), inject: [Database] },
        {
          provide: JobEventsBus,
          useFactory: (db: Database) => new JobEventsBus(db, databaseUrl, logger),
          inject: [Database],
        },
        { provide: DatabaseClock, useFactory: (db: Database) => new DatabaseClock(db), inject: [Database] },
        CoreLifecycle,
        { provide: ConnectorRegistry, useValue: connectors },
        { provide: CredentialsCipher, useValue: new CredentialsCipher(config.encryptionKey) },
        MetricsService,
      ],
      exports: [
        APP_CONFIG,
        LOGGER,
        Database,
        JobsStore,
        JobEventsBus,
        DatabaseClock,
        ConnectorRegistry,
        CredentialsCipher,
        MetricsService,
      ],
    };
  }
}
