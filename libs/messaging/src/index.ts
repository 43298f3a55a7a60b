export * from './kafka-client';
export * from './topics';
export * from './contracts';
export * from './storable';
export * from './messaging.tokens';
export * from './messaging.module';
export * from './event-publisher';
export * from './kafka.readiness';
