export * from './money';
export * from './reference-data';
export * from './valuation.types';
export { valueJob } from './valuation';
export * from './retry-backoff';
export * from './job-policy';
export * from './job-repository.port';
export * from './waiting-on-key';
export * from './attempt-plan';
