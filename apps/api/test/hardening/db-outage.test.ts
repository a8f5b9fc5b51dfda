/**
 * Database outage (PostgreSQL): on a cluster this test runs itself, the server is stopped under a
 * running API + worker. Requests must answer 503 problem+json quickly (no hang, no crash); once the
 * server is back, the API and the worker recover by themselves, without a restart.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ROUTES } from '../../src/openapi/openapi-document.js';
import { waitFor } from '../support/wait.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { problemViolations } from './support/checks.js';
import { bearer, postJson } from './support/fixtures.js';
import { inBatches, send, type RawRequest, type RawResponse } from './support/http.js';
import { openRawStream, type RawStream } from './support/stream.js';
import { postgresBinDir, TempPgCluster } from '../support/pg-cluster.js';

const kinds = await databaseKinds();
const available = kinds.includes('postgres') && postgresBinDir() !== null;
if (!available && process.env.JOBTRAIL_REQUIRE_PG === '1')
  throw new Error('the database outage test needs PostgreSQL server binaries under /usr/lib/postgresql/*/bin');

/** Longest a request may take while the database is down. */
const MAX_OUTAGE_ANSWER_MS = 6_000;
/** Longest the API may take to answer normally again once the database is back. */
const MAX_RECOVERY_MS = 15_000;

async function waitJob(t: TestApp, jobId: string, status: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `job ${jobId} to be ${status}`,
    async () => {
      const res = await send(t.server, { method: 'GET', path: `/api/jobs/${jobId}`, headers: bearer(t.adminKey) });
      return res.status === 200 && (JSON.parse(res.text) as { status: string }).status === status ? true : undefined;
    },
    timeoutMs,
    100,
  );
}

if (!available) {
  describe('database outage', () => {
    it('needs PostgreSQL (server and binaries); not run here', () => {
      console.warn('database outage test not run: no PostgreSQL server or binaries');
    });
  });
} else {
  describe('database outage on a PostgreSQL cluster of its own', () => {
    let pg: TempPgCluster;
    let t: TestApp;
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    let fixture: { connectionId: string; pendingJobId: string };
    let doneJobId: string;
    /** A live client connected through the whole outage (a dashboard left open). */
    let throughout: RawStream;

    beforeAll(async () => {
      process.on('unhandledRejection', onCrash);
      process.on('uncaughtException', onCrash);
      pg = await TempPgCluster.start();
      t = await startTestApp('postgres', { role: 'all', database: { kind: 'postgres', url: pg.url() } });
    }, 90_000);
    afterAll(async () => {
      await t?.close().catch(() => undefined);
      throughout?.close();
      await pg?.destroy();
      process.off('unhandledRejection', onCrash);
      process.off('uncaughtException', onCrash);
    });

    it('works normally before the outage', async () => {
      expect((await send(t.server, { method: 'GET', path: '/api/health' })).status).toBe(200);
      throughout = await openRawStream(
        `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/api/events`,
        bearer(t.adminKey),
      );
      expect(throughout.status).toBe(200);
      const created = await postJson<{ connection: { connection_id: string }; job: { job_id: string } }>(
        t.server,
        t.adminKey,
        '/api/connections',
        { institution_id: 'sandbox', login_id: 'user-ok', password: 'p' },
        202,
      );
      doneJobId = created.job.job_id;
      await waitJob(t, doneJobId, 'success');
      // A purge of it, queued just before the outage: the worker runs it before or after.
      const purge = await postJson<{ job_id: string; connection_id: string }>(
        t.server,
        t.adminKey,
        `/api/connections/${created.connection.connection_id}/purge`,
        undefined,
        202,
      );
      fixture = { connectionId: created.connection.connection_id, pendingJobId: purge.job_id };
    });

    it(`answers 503 problem+json (service-unavailable) within ${MAX_OUTAGE_ANSWER_MS / 1000} s to every request while PostgreSQL is stopped, and does not crash`, async () => {
      const doc = JSON.parse((await send(t.server, { method: 'GET', path: '/api/docs/openapi.json' })).text) as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      };
      /** The statuses the document gives the operation a request goes to. */
      const documented = (req: RawRequest): string[] => {
        const path = req.path.split('?')[0]!;
        const route = ROUTES.find(
          (r) =>
            r.method === req.method.toLowerCase() &&
            new RegExp(`^/api${r.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(path),
        );
        return route ? Object.keys(doc.paths[route.path]?.[route.method]?.responses ?? {}) : [];
      };
      await pg.stop('fast');
      const admin = bearer(t.adminKey);
      const json = { ...admin, 'Content-Type': 'application/json' };
      const requests: RawRequest[] = [
        { method: 'GET', path: '/api/me', headers: admin },
        { method: 'GET', path: '/api/connections', headers: admin },
        { method: 'GET', path: `/api/connections/${fixture.connectionId}`, headers: admin },
        { method: 'GET', path: `/api/connections/${fixture.connectionId}/jobs`, headers: admin },
        { method: 'GET', path: `/api/jobs/${doneJobId}`, headers: admin },
        { method: 'GET', path: `/api/jobs/${doneJobId}/logs`, headers: admin },
        { method: 'GET', path: '/api/jobs?status=failed', headers: admin },
        {
          method: 'POST',
          path: '/api/connections',
          headers: json,
          body: JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'p' }),
        },
        { method: 'POST', path: `/api/connections/${fixture.connectionId}/refresh`, headers: json, body: '{}' },
        {
          method: 'POST',
          path: `/api/connections/${fixture.connectionId}/purge`,
          headers: { ...admin, 'Idempotency-Key': 'outage-1' },
        },
        { method: 'POST', path: `/api/jobs/${doneJobId}/retry`, headers: admin },
        { method: 'POST', path: `/api/jobs/${fixture.pendingJobId}/cancel`, headers: admin },
        { method: 'DELETE', path: `/api/connections/${fixture.connectionId}`, headers: admin },
        { method: 'POST', path: '/api/events/token', headers: admin },
        { method: 'GET', path: '/api/events', headers: admin },
      ];
      const answers: { what: string; status: number; ms: number; violations: string[] }[] = [];
      const record = (req: RawRequest, res: RawResponse) => {
        const violations = res.status === 503 ? problemViolations(res) : [];
        if (!documented(req).includes(String(res.status))) violations.push(`${res.status} is not documented`);
        if (res.status === 503) {
          const code = (JSON.parse(res.text) as { code?: string }).code;
          if (code !== 'service-unavailable') violations.push(`code ${code}`);
          if (!/^\d+$/.test(String(res.headers['retry-after']))) violations.push('no Retry-After');
        }
        answers.push({
          what: `${req.method} ${req.path.replace(/[0-9a-f-]{36}/g, ':id')}`,
          status: res.status,
          ms: Math.round(res.ms),
          violations,
        });
      };
      // Three rounds one after the other, then all of them at once (more than the pool holds).
      for (let round = 0; round < 3; round++)
        for (const req of requests) record(req, await send(t.server, { ...req, timeoutMs: 20_000 }));
      const burst = [...requests, ...requests];
      const results = await inBatches(
        burst.map((req) => () => send(t.server, { ...req, timeoutMs: 20_000 })),
        burst.length,
      );
      results.forEach((res, i) => record(burst[i]!, res));
      const health = await send(t.server, { method: 'GET', path: '/api/health', timeoutMs: 20_000 });
      const metrics = await send(t.server, { method: 'GET', path: '/api/metrics', timeoutMs: 20_000 });
      console.log(
        `during the outage: ${answers.length} requests, slowest ${Math.max(...answers.map((a) => a.ms))} ms, statuses ${JSON.stringify(answers.reduce<Record<number, number>>((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {}))}; health ${health.status} in ${Math.round(health.ms)} ms; metrics ${metrics.status} in ${Math.round(metrics.ms)} ms`,
      );
      expect(answers.filter((a) => a.status !== 503 || a.ms > MAX_OUTAGE_ANSWER_MS || a.violations.length > 0)).toEqual(
        [],
      );
      expect(health.status).toBe(503);
      for (const [req, res] of [
        [{ method: 'GET', path: '/api/health' }, health],
        [{ method: 'GET', path: '/api/metrics' }, metrics],
      ] as const)
        expect({ path: req.path, documented: documented(req).includes(String(res.status)) }).toEqual({
          path: req.path,
          documented: true,
        });
      expect(health.ms).toBeLessThan(MAX_OUTAGE_ANSWER_MS);
      expect(JSON.parse(health.text)).toMatchObject({ status: 'unavailable' });
      // Metrics answer without the database, or say it is unavailable (never a 500, never a hang).
      expect([200, 503]).toContain(metrics.status);
      expect(metrics.ms).toBeLessThan(MAX_OUTAGE_ANSWER_MS);
      // Requests that need no database still work: a missing key is still a 401.
      expect((await send(t.server, { method: 'GET', path: '/api/me' })).status).toBe(401);
      expect(crashes).toEqual([]);
    });

    it(`recovers by itself within ${MAX_RECOVERY_MS / 1000} s once PostgreSQL is back, and runs new jobs to success`, async () => {
      // A few seconds of outage with the worker and the event listener retrying in the background.
      await new Promise((r) => setTimeout(r, 2_000));
      await pg.resume();
      const back = Date.now();
      await waitFor(
        'the API to answer again',
        async () =>
          (await send(t.server, { method: 'GET', path: '/api/me', headers: bearer(t.adminKey), timeoutMs: 10_000 }))
            .status === 200
            ? true
            : undefined,
        MAX_RECOVERY_MS,
        250,
      );
      const recoveredMs = Date.now() - back;
      expect((await send(t.server, { method: 'GET', path: '/api/health' })).status).toBe(200);
      // Live events flow again (the LISTEN connection came back) and the worker runs a new job.
      const { port } = t.server.address() as AddressInfo;
      const stream = await openRawStream(`http://127.0.0.1:${port}/api/events`, bearer(t.adminKey));
      try {
        const created = await postJson<{ job: { job_id: string } }>(
          t.server,
          t.adminKey,
          '/api/connections',
          { institution_id: 'sandbox', login_id: 'user-ok', password: 'p' },
          202,
        );
        const jobId = created.job.job_id;
        await waitJob(t, jobId, 'success');
        // On a stream opened after the recovery, and on one that stayed open through the outage.
        for (const [which, s] of [
          ['new stream', stream],
          ['stream open throughout', throughout],
        ] as const) {
          await waitFor(
            `the success event of the new job on the ${which}`,
            async () =>
              new RegExp(`"job_id":"${jobId}","[^\\n]*"status":"success"`).test(s.text()) ? true : undefined,
            10_000,
            100,
          ).catch((err: unknown) => {
            throw new Error(`${String(err)}; the stream had:\n${s.text().slice(-3_000)}`);
          });
        }
        // What was pending before the outage ran too (or had run already).
        await waitJob(t, fixture.pendingJobId, 'success');
      } finally {
        stream.close();
      }
      console.log(`recovered ${recoveredMs} ms after PostgreSQL came back`);
      expect(recoveredMs).toBeLessThan(MAX_RECOVERY_MS);
      expect(crashes).toEqual([]);
    });
  });
}
