import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/app-config.js';

const postgres = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/jobtrail',
  JOBTRAIL_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  ...extra,
});

describe('JOBTRAIL_PG_PREPARED_STATEMENTS', () => {
  it('is on by default, and off when set to false (a pooler that keeps no prepared statements)', () => {
    expect(loadConfig(postgres()).database).toMatchObject({ kind: 'postgres', preparedStatements: true });
    expect(loadConfig(postgres({ JOBTRAIL_PG_PREPARED_STATEMENTS: 'false' })).database).toMatchObject({
      preparedStatements: false,
    });
    expect(loadConfig(postgres({ JOBTRAIL_PG_PREPARED_STATEMENTS: 'true' })).database).toMatchObject({
      preparedStatements: true,
    });
  });

  it('refuses anything but a boolean, naming the variable', () => {
    expect(() => loadConfig(postgres({ JOBTRAIL_PG_PREPARED_STATEMENTS: 'sometimes' }))).toThrow(
      /JOBTRAIL_PG_PREPARED_STATEMENTS must be true or false/,
    );
  });
});
