import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DatabaseClock,
  JobEventsBus,
  JobsStore,
  LeaseSweeper,
  RefreshScheduler,
  RetentionSweeper,
  type DatabaseKind,
} from '@jobtrail/engine';
import pg from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { LOGGER } from '../../src/common/tokens.js';
import { JobsRepository } from '../../src/jobs/jobs.repository.js';
import { bearer, insertConnection, nextLinkOf, seedHistory, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

/** Statements that touch no table (or only insert), and retention's partition DDL: nothing to plan. */
const UNPLANNED =
  /^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SELECT 1\b|SELECT pg_notify|LISTEN|SET |SHOW |SELECT version\(\)|INSERT INTO (tenants|api_keys|connections|accounts|transactions|idempotency_keys)\b|(CREATE|DROP|ALTER) TABLE job_events)/i;

/** The tables whose reads need an index; on PostgreSQL a scan of `job_events` is a scan of its partitions. */
const WATCHED = /^(jobs|job_events(_p\d{4}_\d{2}|_past|_default)?|webhook_deliveries|webhook_delivery_attempts)$/;

/**
 * Every query the API and the engine run, captured while the product does its work over a seeded
 * database, then explained: none may read `jobs`, `job_events` or the webhook deliveries by a sequential scan (PostgreSQL,
 * with sequential scans priced out so that only a missing index shows one) or a full table scan
 * (SQLite's `SCAN <table>` without an index).
 */
describe.each(kinds)('query plans of everything the product runs on %s', (kind: DatabaseKind) => {
  let t: TestApp;
  const captured = new Map<string, readonly unknown[]>();
  let capturing = false;
  let restore = () => {};

  beforeAll(async () => {
    t = await startTestApp(kind, {
      role: 'all',
      retention: { successDays: 1, failedDays: 1, cancelledDays: 1, sweepMs: 3_600_000 },
    });
    const k = await tenantKey(t, 'plans');
    const seededConnection = await insertConnection(t, k.tenantId, Date.UTC(2024, 0, 1));
    await seedHistory(t, k.tenantId, seededConnection, 3_000, Date.UTC(2024, 0, 2));
    if (kind === 'postgres') await t.db.execute('ANALYZE');

    // Capture from here on: every statement sent to PostgreSQL (node-postgres's clients: the engine
    // runs its statements on them, prepared, and TypeORM's query runners do too), or prepared by
    // SQLite (TypeORM's calls go through its query runners; the engine's statements through the
    // Database's statement cache).
    if (kind === 'postgres') {
      const query = pg.Client.prototype.query;
      restore = () => (pg.Client.prototype.query = query);
      pg.Client.prototype.query = function (this: pg.Client, config: unknown, values?: unknown, ...rest: unknown[]) {
        if (capturing) {
          const text = typeof config === 'string' ? config : (config as { text?: string }).text;
          const params = Array.isArray(values) ? values : ((config as { values?: unknown[] }).values ?? []);
          if (text) captured.set(text, params);
        }
        return (query as (...args: unknown[]) => unknown).call(this, config, values, ...rest);
      } as typeof query;
    } else {
      const ds = t.app.get(DataSource);
      const create = ds.createQueryRunner.bind(ds);
      ds.createQueryRunner = (...args: Parameters<typeof create>) => {
        const runner = create(...args);
        const query = runner.query.bind(runner);
        runner.query = ((sql: string, params?: unknown[], structured?: boolean) => {
          if (capturing) captured.set(sql, params ?? []);
          return query(sql, params, structured as never);
        }) as typeof runner.query;
        return runner;
      };
      const db = t.db as unknown as { statement: (sql: string) => unknown };
      const statement = db.statement.bind(db);
      db.statement = (sql: string) => {
        if (capturing) captured.set(sql, []);
        return statement(sql);
      };
    }

    capturing = true;
    // The product at work: connections made, refreshed, purged, listed, searched, read, cancelled,
    // retried and deleted; the worker claims, runs and sweeps; retention cleans up.
    const auth = bearer(k.key);
    const api = () => request(t.server);
    // A subscription (to a closed loopback port: every attempt fails and is retried), so the outbox
    // is written with every job change and the dispatcher claims, sends and records.
    const webhook = (
      await api()
        .post('/api/webhooks')
        .set(auth)
        .send({ url: 'http://127.0.0.1:9/plans', events: ['*'] })
        .expect(201)
    ).body as { webhook_id: string };
    const made = [];
    for (const login of ['user-ok', 'user-bad-password', 'user-flaky', 'user-mfa']) {
      made.push(
        (
          await api()
            .post('/api/connections')
            .set(auth)
            .send({ institution_id: 'sandbox', login_id: login, password: 'pw' })
        ).body,
      );
    }
    const connectionId: string = made[0].connection.connection_id;
    await api().post(`/api/connections/${connectionId}/purge`).set(auth).expect(202);
    await api().post(`/api/connections/${connectionId}/refresh`).set(auth);
    const queued = await api().post(`/api/connections/${made[2].connection.connection_id}/purge`).set(auth);
    await api().post(`/api/jobs/${queued.body.job_id}/cancel`).set(auth);
    // A one-time-code challenge: parked, answered wrong then right, resumed by the worker.
    const mfaJob = made[3].job.job_id as string;
    await waitFor('the challenge', async () =>
      (await api().get(`/api/jobs/${mfaJob}`).set(auth)).body.challenge ? true : undefined,
    );
    await api().post(`/api/jobs/${mfaJob}/mfa`).set(auth).send({ code: '000000' }).expect(422);
    await api().post(`/api/jobs/${mfaJob}/mfa`).set(auth).send({ code: '123456' }).expect(202);
    await waitFor(
      'the worker to drain',
      async () => {
        const res = await api().get('/api/jobs?status=pending&status=processing').set(auth);
        return res.body.length === 0 ? true : undefined;
      },
      20_000,
      100,
    );
    const failed = made[1].job.job_id as string;
    await api().post(`/api/jobs/${failed}/retry`).set(auth);
    await api()
      .patch(`/api/connections/${made[1].connection.connection_id}`)
      .set(auth)
      .send({ login_id: 'user-ok', password: 'pw2' });
    await api().post('/api/jobs/retry').set(auth).send({ dry_run: true }).expect(200);
    await api().post('/api/jobs/retry').set(auth).send({ status: 'cancelled', institution_id: 'sandbox' }).expect(200);
    await api().post('/api/jobs/retry').set(auth).send({ error_code: 'institution-unavailable' }).expect(200);
    for (const path of [
      `/api/connections/${seededConnection}/jobs?limit=20`,
      `/api/connections/${seededConnection}/jobs?limit=20&status=failed&action=refresh&from=2024-01-02T00:00:00Z&to=2024-03-01T00:00:00Z`,
      '/api/jobs?limit=20',
      `/api/jobs?limit=20&connection_id=${seededConnection}`,
      '/api/jobs?job_id=ffff',
      '/api/connections?limit=2',
      '/api/connections?limit=2&status=active',
      '/api/connections?limit=2&institution_id=sandbox&user_ref=nobody',
      `/api/connections?q=user-ok`,
      `/api/connections?q=${seededConnection.slice(0, 8)}`,
      '/api/connections?limit=2&latest_job_status=failed',
      '/api/connections?limit=2&latest_job_status=failed&status=invalid&institution_id=sandbox',
      '/api/jobs?limit=20&error_code=institution-unavailable',
      '/api/jobs?limit=20&institution_id=sandbox&status=failed',
      '/api/jobs/stats?from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z',
      '/api/institutions',
    ]) {
      const first = await api().get(path).set(auth).expect(200);
      const next = nextLinkOf(first);
      if (next) await api().get(next).set(auth).expect(200);
    }
    for (const path of [
      `/api/webhooks/${webhook.webhook_id}/deliveries?limit=2`,
      `/api/webhooks/${webhook.webhook_id}/deliveries?limit=2&status=pending&event_type=job.updated&job_id=${failed}`,
      `/api/jobs/${failed}/deliveries?limit=2`,
    ]) {
      const first = await api().get(path).set(auth).expect(200);
      const next = nextLinkOf(first);
      if (next) await api().get(next).set(auth).expect(200);
    }
    const [delivery] = (await api().get(`/api/jobs/${failed}/deliveries`).set(auth).expect(200)).body as {
      delivery_id: string;
    }[];
    await api()
      .post(`/api/webhooks/${webhook.webhook_id}/deliveries/${delivery!.delivery_id}/redeliver`)
      .set(auth)
      .expect(202);
    await api().patch(`/api/webhooks/${webhook.webhook_id}`).set(auth).send({ enabled: false }).expect(200);
    await api().get(`/api/connections/${connectionId}`).set(auth).expect(200);
    await api().get(`/api/jobs/${failed}`).set(auth).expect(200);
    await api().get(`/api/jobs/${failed}/logs?limit=1`).set(auth).expect(200);
    await api().get('/api/health').expect(200);
    // The live stream's resume reads, and the sweeps the worker runs on a timer.
    const jobs = t.app.get(JobsRepository);
    await jobs.findEventsAfter(k.tenantId, connectionId, 0, 100);
    await jobs.findNewestEventId(k.tenantId);
    await new LeaseSweeper(
      t.db,
      t.app.get(JobsStore),
      {} as never,
      t.config.worker,
      t.app.get(LOGGER),
      'plans',
    ).sweepExpiredLeases();
    await new RetentionSweeper(t.db, t.config.retention, t.app.get(LOGGER)).purgeExpired();
    // A schedule, its slot made due, claimed by the scheduler (a refresh starts).
    await api().patch(`/api/connections/${connectionId}`).set(auth).send({ refresh_every_hours: 1 }).expect(200);
    await t.db.execute('UPDATE connections SET next_refresh_at = $1 WHERE id = $2', [
      t.app.get(DatabaseClock).now() - 1,
      connectionId,
    ]);
    await new RefreshScheduler(
      t.db,
      t.app.get(JobsStore),
      t.app.get(JobEventsBus),
      t.app.get(LOGGER),
      t.app.get(DatabaseClock),
    ).runDue();
    await api().delete(`/api/connections/${made[2].connection.connection_id}`).set(auth).expect(204);
    capturing = false;
    restore();
  }, 120_000);
  afterAll(() => t.close());

  /** The scans of `jobs` or `job_events` that use no index, in the plan of one statement. */
  async function fullScans(sql: string, params: readonly unknown[]): Promise<string[]> {
    if (kind === 'sqlite') {
      const count = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
      const anonymous = (sql.match(/\?/g) ?? []).length;
      // Through the Database, which binds `$n` and `?` placeholders as it does for the product.
      const rows = await t.db.query<{ detail: string }>(
        `EXPLAIN QUERY PLAN ${sql}`,
        Array.from({ length: count > 0 ? count : anonymous }, () => null),
      );
      return rows
        .map((r) => r.detail)
        .filter(
          (d) =>
            /^SCAN (jobs|job_events|webhook_deliveries|webhook_delivery_attempts)\b(?! USING)/.test(d) ||
            /^SCAN (j|e|p|d|a|n)\b(?! USING)/.test(d),
        );
    }
    const client = new pg.Client({ connectionString: (t.config.database as { url: string }).url });
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const res = await client.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`, [...params]);
      const scans: string[] = [];
      const walk = (node: Record<string, unknown>) => {
        if (node['Node Type'] === 'Seq Scan' && WATCHED.test(String(node['Relation Name'])))
          scans.push(`Seq Scan on ${String(node['Relation Name'])}`);
        for (const child of (node.Plans ?? []) as Record<string, unknown>[]) walk(child);
      };
      walk((res.rows[0]!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
      return scans;
    } finally {
      await client.end();
    }
  }

  it('captures the statements of every part of the product', () => {
    const all = [...captured.keys()].join('\n');
    const parts = [
      /FROM "?jobs"? "?j"?/,
      /job_events/,
      /UPDATE jobs SET/,
      /DELETE FROM/i,
      /INSERT INTO webhook_deliveries/,
      /INSERT INTO webhook_delivery_attempts/,
      /FROM "?webhook_deliveries"? "?d"?/,
      // Resuming answered challenges, and failing lapsed ones.
      /lease_expires_at IS NULL AND j.challenge_expires_at IS NULL/,
      /challenge_expires_at < \$1/,
      // Claiming due refresh slots.
      /next_refresh_at <= \$1/,
      /SET next_refresh_at = \$1 WHERE id = \$2 AND next_refresh_at = \$3/,
      // Institution health and its circuit.
      /FROM institution_circuits/,
      /MAX\("?j"?\."?finished_at"?\)/,
    ];
    // Retention on PostgreSQL: the oldest job it keeps, then old event partitions dropped whole.
    if (kind === 'postgres')
      parts.push(/FOR UPDATE/, /ORDER BY created_at LIMIT 1/, /DETACH PARTITION job_events_past/);
    for (const part of parts) {
      expect(all).toMatch(part);
    }
  });

  it('reads jobs and job_events only through indexes', async () => {
    const violations: string[] = [];
    let explained = 0;
    for (const [sql, params] of [...captured]) {
      if (UNPLANNED.test(sql) || !/\b(jobs|job_events|webhook_deliveries|webhook_delivery_attempts)\b/.test(sql))
        continue;
      explained++;
      const scans = await fullScans(sql, params).catch((err: Error) => [`cannot explain (${err.message})`]);
      if (scans.length > 0) violations.push(`${scans.join(', ')}: ${sql.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
    expect(violations).toEqual([]);
    expect(explained).toBeGreaterThan(20);
  });
});
