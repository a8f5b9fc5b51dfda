import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sqlText, type Sql } from '@jobtrail/engine';
import pg from 'pg';
import request from 'supertest';
import { bearer, insertConnection, seedHistory, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const postgres = (await databaseKinds()).filter((k) => k === 'postgres');

/**
 * PostgreSQL plans with statistics, so its plan of a history batch depends on the table: with
 * ordinary costs (unlike query-plans.test.ts, which prices sequential scans out to find missing
 * indexes), a CSV export's batches of 1,000 must still walk an index, not scan and sort the table
 * once per batch (what a tenant check PostgreSQL could not estimate led to: 0.9 s a batch at 1M jobs).
 */
// jest refuses `describe.each([])`, hence the condition (SQLite's plans are in keyset-index.test.ts).
if (postgres.length > 0)
  describe('history export batches on postgres, ordinary planner costs', () => {
    let t: TestApp;
    let auth: Record<string, string>;
    let connectionId: string;
    /** A connection whose jobs are all older than the other two's. */
    let oldConnection: string;
    const captured: { sql: string; params: readonly unknown[] }[] = [];

    beforeAll(async () => {
      t = await startTestApp('postgres');
      const k = await tenantKey(t, 'export-plan');
      auth = bearer(k.key);
      connectionId = await insertConnection(t, k.tenantId, Date.UTC(2024, 0, 1));
      const other = await insertConnection(t, k.tenantId, Date.UTC(2024, 0, 1, 1));
      await seedHistory(t, k.tenantId, connectionId, 1_000, Date.UTC(2024, 0, 2));
      await seedHistory(t, k.tenantId, other, 1_000, Date.UTC(2024, 0, 2));
      // 30 times as many, in one statement (finished jobs: no active-job index applies): 60,000 jobs.
      const columns = (
        await t.db.query<{ column_name: string }>(
          "SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs' AND table_schema = current_schema() ORDER BY ordinal_position",
        )
      ).map((r) => r.column_name);
      const copy = columns.map((c) =>
        c === 'id' ? 'gen_random_uuid()::text' : c === 'created_at' ? 'created_at + g * 100000000000' : c,
      );
      await t.db.execute(
        `INSERT INTO jobs (${columns.join(', ')}) SELECT ${copy.join(', ')} FROM jobs CROSS JOIN generate_series(1, 29) AS g`,
      );
      // As many jobs again on a third connection, all older than the others' (a bank relinked as a
      // new connection leaves its old one so): a tenant-wide index walked from the newest job reads
      // the 60,000 newer ones before reaching them.
      oldConnection = await insertConnection(t, k.tenantId, Date.UTC(2019, 0, 1));
      await seedHistory(t, k.tenantId, oldConnection, 2_000, Date.UTC(2019, 0, 2));
      await t.db.execute(
        `INSERT INTO jobs (${columns.join(', ')}) SELECT ${copy.join(', ').replace('created_at + g * 100000000000', 'created_at - g * 1000000000::bigint')} FROM jobs CROSS JOIN generate_series(1, 29) AS g WHERE connection_id = $1`,
        [oldConnection],
      );
      await t.db.execute('ANALYZE jobs');
      const db = t.db as { queryBuilt: (built: readonly [Sql, readonly unknown[]]) => Promise<unknown[]> };
      const original = db.queryBuilt.bind(t.db);
      db.queryBuilt = (built) => {
        captured.push({ sql: sqlText(built[0]), params: built[1] });
        return original(built);
      };
    }, 120_000);
    afterAll(() => t.close());

    /** The plan's nodes, `Node Type` and index name, of a captured statement (ordinary costs). */
    async function planNodes(statement: { sql: string; params: readonly unknown[] }): Promise<string[]> {
      const client = new pg.Client({ connectionString: (t.config.database as { url: string }).url });
      await client.connect();
      try {
        const plan = await client.query<{ 'QUERY PLAN': { Plan: Record<string, unknown> }[] }>(
          `EXPLAIN (FORMAT JSON) ${statement.sql}`,
          [...statement.params],
        );
        const nodes: string[] = [];
        const walk = (node: Record<string, unknown>) => {
          nodes.push(`${String(node['Node Type'])}${node['Index Name'] ? ` ${String(node['Index Name'])}` : ''}`);
          for (const child of (node.Plans ?? []) as Record<string, unknown>[]) walk(child);
        };
        walk(plan.rows[0]!['QUERY PLAN'][0]!.Plan);
        return nodes;
      } finally {
        await client.end();
      }
    }

    it.each([
      ['the busiest connection', () => connectionId],
      ['a connection whose jobs are all older than the others', () => oldConnection],
    ])("walks the connection's history index for a page of %s, first and deep", async (_, connection) => {
      for (const query of ['limit=50', 'limit=50&cursor=']) {
        let path = `/api/connections/${connection()}/jobs?${query}`;
        if (query.endsWith('=')) {
          // A cursor halfway through the history.
          const [mid] = await t.db.query<{ created_at: string; id: string }>(
            'SELECT created_at, id FROM jobs WHERE connection_id = $1 ORDER BY created_at DESC, id DESC OFFSET 15000 LIMIT 1',
            [connection()],
          );
          path += Buffer.from(JSON.stringify([Number(mid!.created_at), mid!.id])).toString('base64url');
        }
        captured.length = 0;
        expect((await request(t.server).get(path).set(auth)).status).toBe(200);
        const page = captured.find((c) => /FROM "jobs"/.test(c.sql) && /LIMIT 51/.test(c.sql));
        expect(page).toBeDefined();
        const nodes = await planNodes(page!);
        expect(nodes).not.toContainEqual(expect.stringMatching(/Seq Scan|Sort/));
        expect(nodes).toContainEqual('Index Scan ix_jobs_history');
      }
    });

    it("walks the connection's history index for the tenant-wide search narrowed to that connection", async () => {
      captured.length = 0;
      expect((await request(t.server).get(`/api/jobs?connection_id=${oldConnection}&limit=50`).set(auth)).status).toBe(
        200,
      );
      const page = captured.find((c) => /FROM "jobs"/.test(c.sql) && /LIMIT 51/.test(c.sql));
      expect(page).toBeDefined();
      const nodes = await planNodes(page!);
      expect(nodes).not.toContainEqual(expect.stringMatching(/Seq Scan|Sort/));
      expect(nodes).toContainEqual('Index Scan ix_jobs_history');
    });

    it('reads each batch through an index', async () => {
      const res = await request(t.server)
        .get(`/api/connections/${connectionId}/jobs`)
        .set({ ...auth, Accept: 'text/csv' })
        .buffer(true)
        .parse((r, done) => {
          let n = 0;
          r.on('data', (c: Buffer) => (n += c.length));
          r.on('end', () => done(null, n));
        });
      expect(res.status).toBe(200);
      // A batch after the first: it carries the keyset position, as nearly every batch of an export does.
      const batches = captured.filter((c) => /FROM "jobs"/.test(c.sql) && /LIMIT 1000/.test(c.sql));
      expect(batches.length).toBeGreaterThan(2);
      const nodes = await planNodes(batches[Math.floor(batches.length / 2)]!);
      expect(nodes).not.toContainEqual(expect.stringMatching(/Seq Scan|Sort/));
      expect(nodes).toContainEqual(expect.stringMatching(/^Index Scan/));
    });
  });

// Without PostgreSQL (and JOBTRAIL_REQUIRE_PG unset) there is no statistics-based plan to check; databaseKinds() said why.
if (postgres.length === 0) {
  describe('history export batches', () => {
    it('needs PostgreSQL (not reachable: not run)', () => {
      expect(postgres).toEqual([]);
    });
  });
}
