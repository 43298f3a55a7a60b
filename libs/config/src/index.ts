export * from './app-config';
export { ENV_DEFAULTS, EnvName } from './config.schema';
