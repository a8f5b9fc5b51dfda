import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sqlText, type Sql } from '@jobtrail/engine';
import pg from 'pg';
import request from 'supertest';
import { bearer, insertConnection, nextLinkOf, seedHistory, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

/**
 * A keyset page must start with an index seek at the cursor: a plan that walks the index from the
 * newest row and filters makes page 10,000 cost 10,000 pages. The statements the API runs for a
 * next page are captured and explained: the index condition must bound `created_at`.
 */
describe.each(kinds)('keyset pages seek the index on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  let connectionId: string;
  const captured: { sql: string; params: readonly unknown[] }[] = [];

  beforeAll(async () => {
    t = await startTestApp(kind);
    const k = await tenantKey(t, 'keyset');
    auth = bearer(k.key);
    connectionId = await insertConnection(t, k.tenantId, Date.UTC(2024, 0, 1));
    await seedHistory(t, k.tenantId, connectionId, 300, Date.UTC(2024, 0, 2));
    for (let i = 0; i < 12; i++)
      expect(
        (
          await request(t.server)
            .post('/api/connections')
            .set(auth)
            .send({ institution_id: 'sandbox', login_id: `u${i}`, password: 'pw' })
        ).status,
      ).toBe(202);
    // Reads are built with TypeORM's query builder and run through the Database: capture them there.
    const db = t.db as { queryBuilt: (built: readonly [Sql, readonly unknown[]]) => Promise<unknown[]> };
    const original = db.queryBuilt.bind(t.db);
    db.queryBuilt = (built) => {
      captured.push({ sql: sqlText(built[0]), params: built[1] });
      return original(built);
    };
  });
  afterAll(() => t.close());

  /** The index conditions of the plan of a captured statement. */
  async function indexConditions(statement: { sql: string; params: readonly unknown[] }): Promise<string[]> {
    if (kind === 'sqlite') {
      const rows = await t.db.queryBuilt<{ detail: string }>([`EXPLAIN QUERY PLAN ${statement.sql}`, statement.params]);
      return rows.map((r) => r.detail);
    }
    const url = (t.config.database as { url: string }).url;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Small tables make sequential scans attractive; rule them out to see the index use.
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_bitmapscan = off');
      await client.query('SET enable_sort = off');
      const res = await client.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${statement.sql}`, [
        ...statement.params,
      ]);
      const conds: string[] = [];
      const walk = (node: Record<string, unknown>) => {
        if (typeof node['Index Cond'] === 'string') conds.push(node['Index Cond']);
        for (const child of (node.Plans ?? []) as Record<string, unknown>[]) walk(child);
      };
      walk((res.rows[0]!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
      return conds;
    } finally {
      await client.end();
    }
  }

  async function nextPageStatement(
    firstPage: string,
    table: string,
  ): Promise<{ sql: string; params: readonly unknown[] }> {
    const first = await request(t.server).get(firstPage).set(auth);
    expect(first.status).toBe(200);
    const next = nextLinkOf(first);
    expect(next).not.toBeNull();
    captured.length = 0;
    expect((await request(t.server).get(next!).set(auth)).status).toBe(200);
    const statement = captured.find((c) => new RegExp(`FROM "?${table}"?\\s`).test(c.sql) && /ORDER BY/.test(c.sql));
    expect(statement).toBeDefined();
    return statement!;
  }

  it('for the history of a connection', async () => {
    const statement = await nextPageStatement(`/api/connections/${connectionId}/jobs?limit=20`, 'jobs');
    const conds = await indexConditions(statement);
    expect(conds.join(' | ')).toMatch(/created_at\s*(<|<=)|\(created_at,\s*id\)\s*</);
  });

  it('for the tenant-wide job search', async () => {
    const statement = await nextPageStatement('/api/jobs?limit=20', 'jobs');
    expect((await indexConditions(statement)).join(' | ')).toMatch(/created_at\s*(<|<=)|\(created_at,\s*id\)\s*</);
  });

  it("finds a busy connection's active job through the partial index of active jobs", async () => {
    // POST refresh of a connection with a pending job answers with that job: the lookup must not
    // walk the connection's whole history (SQLite uses a partial index only when the query states
    // its predicate with the same constants: a bound status list could be anything).
    expect((await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth)).status).toBe(202);
    captured.length = 0;
    expect((await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth)).status).toBe(200);
    const statement = captured.find((c) => /"?action"?\s*=/.test(c.sql) && /status"?\s+IN/i.test(c.sql));
    expect(statement).toBeDefined();
    expect(await planText(statement!)).toContain('ux_jobs_active_action');
  });

  /** The plan of a captured statement as text. */
  async function planText(statement: { sql: string; params: readonly unknown[] }): Promise<string> {
    if (kind === 'sqlite') {
      const rows = await t.db.queryBuilt<{ detail: string }>([`EXPLAIN QUERY PLAN ${statement.sql}`, statement.params]);
      return rows.map((r) => r.detail).join(' | ');
    }
    const client = new pg.Client({ connectionString: (t.config.database as { url: string }).url });
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const res = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.sql}`, [...statement.params]);
      return res.rows.map((r) => r['QUERY PLAN']).join(' | ');
    } finally {
      await client.end();
    }
  }

  it('for the list of connections', async () => {
    const statement = await nextPageStatement('/api/connections?limit=5', 'connections');
    expect((await indexConditions(statement)).join(' | ')).toMatch(/created_at\s*(<|<=)|\(created_at,\s*id\)\s*</);
  });
});
