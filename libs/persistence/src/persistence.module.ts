import { DynamicModule, Inject, Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ValuationJobRepository } from '@app/valuation';
import { dataSourceOptions } from './data-source';
import { DatabaseReadiness } from './database.readiness';
import { ArrivalsRepository } from './events/arrivals.repository';
import { OutboxRepository } from './events/outbox.repository';
import { JobClaimsRepository } from './jobs/job-claims.repository';
import {
  LegacyValuationJobRepository,
  RetryingValuationJobRepository,
  ValuationBatchRunner,
} from './jobs/valuation-job.repositories';
import { PERSISTENCE_OPTIONS, PersistenceOptions } from './persistence.options';

const REPOSITORIES = [ArrivalsRepository, OutboxRepository, JobClaimsRepository, DatabaseReadiness];

/**
 * The database for a process. The validated configuration chooses the job repository here, once:
 * the retrying one (default) or the legacy one, behind the `ValuationJobRepository` port.
 */
@Module({})
export class PersistenceModule implements OnApplicationBootstrap {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  static forRoot(options: PersistenceOptions): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions(options.connection, options.poolSize, options.timeouts),
        }),
      ],
      providers: [
        { provide: PERSISTENCE_OPTIONS, useValue: options },
        ValuationBatchRunner,
        {
          provide: ValuationJobRepository,
          useClass:
            options.jobPolicy === 'legacy' ? LegacyValuationJobRepository : RetryingValuationJobRepository,
        },
        ...REPOSITORIES,
      ],
      exports: [PERSISTENCE_OPTIONS, ValuationJobRepository, ...REPOSITORIES],
    };
  }

  /** A process refuses to run on a schema older than its code. */
  async onApplicationBootstrap(): Promise<void> {
    if (await this.ds.showMigrations()) {
      throw new Error('The database schema is behind the code: run `npm run db:migrate` first.');
    }
  }
}
