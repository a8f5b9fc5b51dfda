// The browser suite: a real API process (SQLite in a temp folder) and a real Chromium, driven by
// playwright-core. Node environment: the tests talk to the browser, they are not in it.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' } }],
  },
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'],
  // A browser start, worker round-trips and 120 jobs to create: far above the unit-test default.
  testTimeout: 120_000,
  maxWorkers: 1,
};
