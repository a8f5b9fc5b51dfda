import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import request from 'supertest';
import { bankData, insertConnection, insertJobs, seededJob, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');

/**
 * Deleting a connection while its refresh writes bank data. The worker's write locks its job's row
 * (the lease fence), then upserts accounts and transactions. The delete used to remove accounts and
 * transactions first and wait for the job's row after: a deadlock, which PostgreSQL broke by failing
 * one side (seen in CI: the DELETE answered 500).
 */
describe.each(kinds)('deleting a connection during a bank-data write on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind);
  });
  afterAll(() => t.close());

  it('waits for the write instead of deadlocking with it, and then deletes everything', async () => {
    const { key, tenantId } = await tenantKey(t, `delete-locks-${kind}`, 'admin');
    const now = Date.now();
    const connectionId = await insertConnection(t, tenantId, now - 60_000);
    const job = seededJob(connectionId, now - 30_000, 'processing', 'refresh');
    await insertJobs(t, tenantId, [job]);
    const accountId = '0190a000-0000-7000-8000-00000000a001';
    await t.db.execute(
      `INSERT INTO accounts (id, connection_id, external_id, name, currency, balance_cents, updated_at)
       VALUES ($1, $2, 'acc-1', 'Current', 'EUR', 100, $3)`,
      [accountId, connectionId, now],
    );

    // The worker's write, as BankDataStore runs it: its job's row locked first, the rows after.
    const worker = new pg.Client({ connectionString: (t.config.database as { url: string }).url });
    await worker.connect();
    try {
      await worker.query('BEGIN');
      await worker.query('SELECT status FROM jobs WHERE id = $1 FOR UPDATE', [job.id]);
      const deleting = request(t.server)
        .delete(`/api/connections/${connectionId}`)
        .set('Authorization', `Bearer ${key}`);
      const answer = deleting.then((res) => res);
      // Let the delete go as far as it can while the job's row is held.
      await sleep(500);
      await worker.query(
        `INSERT INTO transactions (id, connection_id, account_id, external_id, amount_cents, description, booked_at)
         VALUES ('0190a000-0000-7000-8000-00000000b001', $1, $2, 'tx-1', -500, 'Coffee', $3)`,
        [connectionId, accountId, now],
      );
      await worker.query('COMMIT');
      const res = await answer;
      expect(res.status).toBe(204);
    } finally {
      await worker.end();
    }
    expect(await bankData(t, connectionId)).toEqual({ accounts: 0, transactions: 0 });
    const left = await t.db.query('SELECT id FROM jobs WHERE connection_id = $1', [connectionId]);
    expect(left).toEqual([]);
  });
});
