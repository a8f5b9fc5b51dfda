// Native ESM jest (Nest 12 is ESM-only): swc compiles with legacy decorators and decorator
// metadata, which Nest's injection needs; `.js` suffixes of relative imports map back to sources.
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2023',
    keepClassNames: true,
  },
};

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The hardening suite (faults, fuzzing, load) has its own command: `test:hardening`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/hardening/'],
  testTimeout: 60_000,
};
