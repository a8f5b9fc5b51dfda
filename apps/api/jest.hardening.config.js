// The hardening suite (authorization matrix, fuzzing, canary secrets, HTTP hardening, database
// outages, restarts, model-based tests): `pnpm --filter @jobtrail/api test:hardening`.
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/test/hardening/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120_000,
};
