/**
 * Two jest projects. `unit`: the specs that need neither PostgreSQL nor a broker (the domain, the
 * contracts, configuration parsing, pure helpers, the documents checked against the schema); `npm run
 * test:unit` runs them in seconds, with no infrastructure at all. `integration`: every other spec,
 * against the real PostgreSQL and the real broker (global setup: database, broker, build). `npm test`
 * runs both. A new spec that needs no infrastructure belongs in UNIT.
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  },
];

/** Relative to the repository root. */
const UNIT = [
  'libs/valuation/**/*.spec.ts',
  'libs/config/**/*.spec.ts',
  'libs/messaging/src/{contracts,storable}.spec.ts',
  'libs/messaging/src/contracts/*.spec.ts',
  'libs/persistence/src/database-errors.spec.ts',
  'apps/calculator/src/consumer/refusal-isolation.spec.ts',
  'apps/scheduler/src/cycle/scheduler-loop.service.spec.ts',
  'apps/scheduler/src/operators/operator-token.store.spec.ts',
  'apps/scheduler/test/alert-rules.spec.ts',
  'test/{config-reference,dependency-rule,docker-compose}.spec.ts',
  'scripts/bench/{,peers/}*.spec.ts',
];

const shared = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/scripts'],
  // The fault suite has its own config and runner (npm run test:faults).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@app/(valuation|persistence|config|messaging|observability)$': '<rootDir>/libs/$1/src/index.ts',
  },
};

module.exports = {
  // Options of the whole run (jest ignores them inside a project).
  maxWorkers: 2,
  testTimeout: 60000,
  // Jest lists the failing tests at the end only past 20 suites; CI shows the tail of the output.
  reporters: [['default', { summaryThreshold: 0 }]],
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: UNIT.map((glob) => `<rootDir>/${glob}`),
      setupFiles: ['<rootDir>/test/setup-unit.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      // Jest expands <rootDir> only at the start of a pattern, so the exclusions match from anywhere.
      testMatch: ['<rootDir>/**/*.spec.ts', ...UNIT.map((glob) => `!**/${glob}`)],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
      setupFiles: ['<rootDir>/test/setup-env.ts'],
    },
  ],
};
