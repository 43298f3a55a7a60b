export * from './readiness';
export * from './observability.module';
export * from './logger';
export * from './graceful-shutdown';
