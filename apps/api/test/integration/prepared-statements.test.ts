import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { bearer, insertConnection, seedHistory, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');

/**
 * The API's hottest reads (the key lookup, the history page, a job, the active job) run as
 * prepared statements on PostgreSQL: parsed and planned once per connection. A prepared statement
 * reading `*` fails once a migration adds a column under the running API ("cached plan must not
 * change result type"): a rolling deploy that adds a column would have broken every request.
 */
describe.each(kinds)('prepared statements on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind);
  });
  afterAll(() => t.close());

  it('the API keeps answering after a migration adds columns to jobs and api_keys', async () => {
    const k = await tenantKey(t, 'prepared');
    const connectionId = await insertConnection(t, k.tenantId, Date.UTC(2024, 0, 1));
    const [newest] = await seedHistory(t, k.tenantId, connectionId, 30, Date.UTC(2024, 0, 2));
    const reads = async () => {
      const bodies: unknown[] = [];
      // Sequential requests: every pooled connection that served one has the statements prepared.
      for (let i = 0; i < 12; i++) {
        bodies.push(
          (await request(t.server).get(`/api/connections/${connectionId}/jobs?limit=5`).set(bearer(k.key)).expect(200))
            .body,
        );
        bodies.push((await request(t.server).get(`/api/jobs/${newest!.id}`).set(bearer(k.key)).expect(200)).body);
      }
      return bodies;
    };
    const before = await reads();
    await t.db.execute('ALTER TABLE jobs ADD COLUMN added_later INTEGER');
    await t.db.execute('ALTER TABLE api_keys ADD COLUMN added_later INTEGER');
    try {
      expect(await reads()).toEqual(before);
      // Starting an action reads the active job and the connection: prepared too.
      await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(bearer(k.key)).expect(202);
    } finally {
      await t.db.execute('ALTER TABLE jobs DROP COLUMN added_later');
      await t.db.execute('ALTER TABLE api_keys DROP COLUMN added_later');
    }
  });
});
