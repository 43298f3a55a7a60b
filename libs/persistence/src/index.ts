export * from './data-source';
export * from './persistence.options';
export * from './persistence.module';
export * from './database.readiness';
export * from './jobs/job-claims.repository';
export * from './jobs/valuation-job.repositories';
export { waitingOnKey } from './jobs/job-outcome.writer';
export * from './events/arrivals.repository';
export * from './events/outbox.repository';
