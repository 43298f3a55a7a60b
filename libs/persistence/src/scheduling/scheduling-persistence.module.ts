import { Module } from '@nestjs/common';
import { BackfillRepository } from './backfill.repository';
import { BusinessCalendarRepository } from './business-calendar.repository';
import { FanOutRepository } from './fan-out.repository';
import { JobRecoveryRepository } from './job-recovery.repository';
import { JobStatsRepository } from './job-stats.repository';
import { AdminStatementLimit, JobsAdminRepository } from './jobs-admin.repository';
import { MissingDataRepository } from './missing-data.repository';
import { OperatorAuditRepository } from './operator-audit.repository';
import { RetentionRepository } from './retention.repository';
import { RevaluationsRepository } from './revaluations.repository';
import { WatermarkRepository } from './watermark.repository';

const REPOSITORIES = [
  BusinessCalendarRepository,
  JobRecoveryRepository,
  BackfillRepository,
  FanOutRepository,
  WatermarkRepository,
  JobStatsRepository,
  AdminStatementLimit,
  JobsAdminRepository,
  MissingDataRepository,
  OperatorAuditRepository,
  RetentionRepository,
  RevaluationsRepository,
];

/**
 * The scheduler's SQL. Not global: only the scheduler imports it. The DataSource comes from the
 * global PersistenceModule, so the scheduler shares one pool for its steps and its API.
 */
@Module({ providers: REPOSITORIES, exports: REPOSITORIES })
export class SchedulingPersistenceModule {}
