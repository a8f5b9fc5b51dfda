import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CIRCUIT_OPEN_AFTER,
  InstitutionSchema,
  JobDetailSchema,
  isTerminal,
  type JobDetailWire,
} from '@jobtrail/domain';
import request from 'supertest';
import { z } from 'zod';
import { bearer } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();
const COOLDOWN_MS = 2_000;

describe.each(kinds)('institution health and the circuit breaker on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all', worker: { circuitCooldownMs: COOLDOWN_MS } });
    auth = { Authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(() => t.close());

  const sandbox = async (key = auth) => {
    const list = z
      .array(InstitutionSchema)
      .parse((await request(t.server).get('/api/institutions').set(key).expect(200)).body);
    return list.find((i) => i.institution_id === 'sandbox')!;
  };
  const detail = async (jobId: string): Promise<JobDetailWire> =>
    JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200)).body);
  const settled = (jobId: string) =>
    waitFor(
      `job ${jobId} to finish`,
      async () => {
        const d = await detail(jobId);
        return isTerminal(d.status) ? d : undefined;
      },
      30_000,
    );
  const connect = async (login: string) =>
    (
      await request(t.server)
        .post('/api/connections')
        .set(auth)
        .send({ institution_id: 'sandbox', login_id: login, password: 'pw' })
        .expect(202)
    ).body.job.job_id as string;

  it('operational with no refresh in the hour; a viewer of any tenant may read it', async () => {
    const viewer = bearer((await t.createKey('viewer')).key);
    expect(await sandbox(viewer)).toEqual({
      institution_id: 'sandbox',
      name: 'Sandbox bank',
      status: 'operational',
      success_rate_1h: null,
      jobs_1h: 0,
      last_failure_at: null,
    });
  });

  it(`${CIRCUIT_OPEN_AFTER} outages in a row open the circuit: down, other jobs held without using attempts; a probe's success closes it`, async () => {
    // Two user-down refreshes: 6 attempts, each institution-unavailable; the 5th opens the circuit.
    const down = [await connect('user-down'), await connect('user-down')];
    for (const id of down) expect((await settled(id)).error?.code).toBe('institution-unavailable');
    const health = await sandbox();
    expect(health.status).toBe('down');
    expect(health).toMatchObject({ success_rate_1h: 0, jobs_1h: 2 });
    expect(health.last_failure_at).not.toBeNull();

    // A healthy login's refresh waits for the cool-down: pending, no attempt used, a log line says why.
    const ok = await connect('user-ok');
    const held = await waitFor('the hold', async () => {
      const d = await detail(ok);
      return d.status === 'pending' && Date.parse(d.run_at) > Date.now() ? d : undefined;
    });
    expect(held.attempt).toBe(0);
    const logs = (await request(t.server).get(`/api/jobs/${ok}/logs`).set(auth).expect(200)).body as Array<{
      message: string;
    }>;
    expect(logs.some((l) => /held until .*institution sandbox is down/.test(l.message))).toBe(true);

    // After the cool-down it is the probe: it succeeds, the circuit closes.
    const done = await settled(ok);
    expect(done.status).toBe('success');
    expect(done.attempt).toBe(1);
    const after = await sandbox();
    expect(after.status).toBe('degraded');
    expect(after).toMatchObject({ jobs_1h: 3, success_rate_1h: 0.333 });
    // Closed: the next refresh runs at once.
    const next = await connect('user-ok');
    const quick = await settled(next);
    expect(quick.transitions.map((x) => x.reason)).toEqual(['claimed', 'completed']);
  });
});
