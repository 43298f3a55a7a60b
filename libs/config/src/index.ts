export * from './app-config';
export * from './database-connection';
export * from './operator-tokens';
export * from './kafka-security';
export { ENV_DEFAULTS, EnvName } from './config.schema';
