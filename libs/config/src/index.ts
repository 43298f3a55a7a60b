export * from './app-config';
export * from './operator-tokens';
export * from './kafka-security';
export * from './kafka-security';
export { ENV_DEFAULTS, EnvName } from './config.schema';
