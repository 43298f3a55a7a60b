/**
 * The fault-injection suite (`npm run test:faults`): the built apps as separate OS processes against the
 * real PostgreSQL and the real broker, one scenario at a time (--runInBand: scenarios restart shared
 * infrastructure, so they must never overlap).
 */
// The transform and the aliases of the other specs (any project of jest.config.js has them).
const [base] = require('./jest.config').projects;

module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/test/faults'],
  testMatch: ['**/*.fault.spec.ts'],
  transform: base.transform,
  moduleNameMapper: base.moduleNameMapper,
  globalSetup: '<rootDir>/test/faults/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
  setupFiles: ['<rootDir>/test/faults/setup-env.ts'],
  testTimeout: 180000,
  maxWorkers: 1,
  // Jest lists the failing tests at the end only past 20 suites; CI shows the tail of the output.
  reporters: [['default', { summaryThreshold: 0 }]],
};
