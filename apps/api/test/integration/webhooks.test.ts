import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreatedWebhookSchema,
  JobDetailSchema,
  WebhookDeliveryEventSchema,
  WebhookDeliverySchema,
  WebhookSchema,
  isTerminal,
  type JobDetailWire,
  type WebhookDeliveryWire,
} from '@jobtrail/domain';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { expectProblem, nextLinkOf, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { openSse } from '../support/sse.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver, type Received } from '../support/webhook-receiver.js';

const kinds = await databaseKinds();

describe.each(kinds)('webhooks end to end on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    await receiver.start();
    t = await startTestApp(kind, { role: 'all' });
    auth = { Authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  const subscribe = async (url: string, events: string[] = ['*'], key = auth) => {
    const res = await request(t.server).post('/api/webhooks').set(key).send({ url, events }).expect(201);
    return CreatedWebhookSchema.parse(res.body);
  };
  const detail = async (jobId: string) =>
    JobDetailSchema.parse((await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200)).body);
  const settled = (jobId: string) =>
    waitFor(`job ${jobId} to finish`, async () => {
      const d = await detail(jobId);
      return isTerminal(d.status) ? d : undefined;
    });
  const connect = async (login: string) => {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: login, password: 'pw' })
      .expect(202);
    return res.body.job.job_id as string;
  };
  const jobDeliveries = async (jobId: string) =>
    (await request(t.server).get(`/api/jobs/${jobId}/deliveries?limit=200`).set(auth).expect(200))
      .body as WebhookDeliveryWire[];

  /** What a receiver that trusts `version` ends with: the events of a job in version order. */
  const eventsOf = (jobId: string): Received[] =>
    receiver.received
      .filter((r) => (r.body.data as { job_id?: string }).job_id === jobId)
      .sort(
        (a, b) => (a.body.data.version as number) - (b.body.data.version as number) || a.type.localeCompare(b.type),
      );

  it('every transition of the sandbox logins arrives, signed, with its type, previous status and version', async () => {
    const sub = await subscribe(receiver.url);
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    receiver.secrets = [sub.secret];
    const jobs = {
      ok: await connect('user-ok'),
      bad: await connect('user-bad-password'),
      flaky: await connect('user-flaky'),
    };
    const done: Record<string, JobDetailWire> = {};
    for (const [k, id] of Object.entries(jobs)) done[k] = await settled(id);
    await waitFor('every delivery delivered', async () => {
      const all = (await Promise.all(Object.values(jobs).map(jobDeliveries))).flat();
      return all.length > 0 && all.every((d) => d.status === 'delivered') ? all : undefined;
    });
    expect(receiver.unverified).toEqual([]);

    for (const [k, id] of Object.entries(jobs)) {
      const d = done[k]!;
      const events = eventsOf(id);
      // The created event, then one job.updated per recorded transition (and the terminal convenience).
      const expected = [
        'job.created:null>pending',
        ...d.transitions.flatMap((tr) => {
          const updated = `job.updated:${tr.from}>${tr.to}`;
          const terminal = { success: 'job.succeeded', failed: 'job.failed', cancelled: 'job.cancelled' }[
            tr.to as string
          ];
          return terminal ? [updated, `${terminal}:${tr.from}>${tr.to}`] : [updated];
        }),
      ];
      const got = events.map((e) => `${e.type}:${String(e.body.data.previous_status)}>${String(e.body.data.status)}`);
      expect(got.sort()).toEqual(expected.sort());
      // Versions only grow; the last event carries the job's final version.
      const versions = events.map((e) => e.body.data.version as number);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(Math.max(...versions)).toBe(d.version);
      for (const e of events) {
        expect(e.headers['content-type']).toBe('application/json');
        expect(e.body.timestamp).toMatch(/Z$/);
      }
    }
    expect(eventsOf(jobs.bad).map((e) => e.type)).toContain('job.failed');
    expect(
      eventsOf(jobs.flaky).filter(
        (e) => e.body.data.previous_status === 'processing' && e.body.data.status === 'pending',
      ),
    ).toHaveLength(1);
    expect(eventsOf(jobs.ok).find((e) => e.type === 'job.succeeded')?.body.data).toMatchObject({
      status: 'success',
      previous_status: 'processing',
    });

    // The job's deliveries, and the subscription's log with its attempts.
    const okDeliveries = await jobDeliveries(jobs.ok);
    for (const d of okDeliveries) WebhookDeliverySchema.parse(d);
    expect(okDeliveries[0]!.attempt_log[0]).toMatchObject({ attempt: 1, status_code: 204 });
    const page1 = await request(t.server)
      .get(`/api/webhooks/${sub.webhook_id}/deliveries?limit=3&event_type=job.updated`)
      .set(auth)
      .expect(200);
    expect(page1.body).toHaveLength(3);
    const next = nextLinkOf(page1);
    expect(next).not.toBeNull();
    const page2 = await request(t.server).get(next!).set(auth).expect(200);
    const ids = [...page1.body, ...page2.body].map((d: WebhookDeliveryWire) => d.delivery_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...page1.body, ...page2.body].every((d: WebhookDeliveryWire) => d.event_type === 'job.updated')).toBe(true);
    const health = WebhookSchema.parse(
      (await request(t.server).get(`/api/webhooks/${sub.webhook_id}`).set(auth).expect(200)).body,
    );
    expect(health.last_success_at).not.toBeNull();
    expect(health.failing_since).toBeNull();
    await request(t.server).delete(`/api/webhooks/${sub.webhook_id}`).set(auth).expect(204);
  });

  it('each recorded attempt is announced on the tenant’s event stream as webhook.delivery (not to others)', async () => {
    const base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/api`;
    const mine = await openSse(`${base}/events`, auth);
    const other = await tenantKey(t, `webhooks-other-${kind}`, 'admin');
    const theirs = await openSse(`${base}/events`, { Authorization: `Bearer ${other.key}` });
    try {
      const sub = await subscribe(receiver.url);
      receiver.secrets = [sub.secret];
      const jobId = await connect('user-ok');
      await settled(jobId);
      const delivered = await mine.waitFor('the job’s deliveries announced as delivered', (events) => {
        const got = events
          .filter((e) => e.event === 'webhook.delivery')
          .map((e) => WebhookDeliveryEventSchema.parse(JSON.parse(e.data)))
          .filter((d) => d.job_id === jobId && d.status === 'delivered');
        return got.some((d) => d.event_type === 'job.succeeded') ? got : undefined;
      });
      expect(delivered.every((d) => d.webhook_id === sub.webhook_id && d.status_code === 204)).toBe(true);
      // Not stored: no id, so a resume neither replays it nor moves past a job change.
      expect(mine.events.filter((e) => e.event === 'webhook.delivery').every((e) => e.id === null)).toBe(true);
      expect(theirs.events.filter((e) => e.event === 'webhook.delivery')).toEqual([]);
      await request(t.server).delete(`/api/webhooks/${sub.webhook_id}`).set(auth).expect(204);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('receiver down: deliveries retry and all arrive once it is back; a redelivery keeps the webhook-id', async () => {
    const down = new WebhookReceiver();
    await down.start();
    const sub = await subscribe(down.url, ['job.created', 'job.succeeded']);
    down.secrets = [sub.secret];
    await down.stop();
    const jobId = await connect('user-ok');
    await settled(jobId);
    await waitFor('failed attempts', async () => {
      const ds = await jobDeliveries(jobId);
      return ds.length === 2 && ds.every((d) => d.attempts >= 2 && d.status === 'pending') ? ds : undefined;
    });
    await down.start();
    const delivered = await waitFor(
      'deliveries after the receiver is back',
      async () => {
        const ds = await jobDeliveries(jobId);
        return ds.every((d) => d.status === 'delivered') ? ds : undefined;
      },
      30_000,
    );
    expect(down.ids()).toEqual(new Set(delivered.map((d) => d.event_id)));
    expect(delivered[0]!.attempt_log.at(-1)).toMatchObject({ status_code: 204 });
    expect(delivered[0]!.attempt_log[0]!.status_code).toBeNull();

    const first = delivered[0]!;
    const again = await request(t.server)
      .post(`/api/webhooks/${sub.webhook_id}/deliveries/${first.delivery_id}/redeliver`)
      .set(auth)
      .expect(202);
    expect(again.body.status).toBe('pending');
    await waitFor('the redelivery', async () =>
      down.received.filter((r) => r.id === first.event_id).length >= 2 ? true : undefined,
    );
    await down.stop();
  });

  it('410 disables the subscription; rotation signs with both secrets; a test event arrives', async () => {
    const r = new WebhookReceiver();
    await r.start();
    const sub = await subscribe(r.url, ['webhook.test']);
    const rotated = (
      await request(t.server).post(`/api/webhooks/${sub.webhook_id}/rotate-secret`).set(auth).expect(200)
    ).body as { secret: string; previous_secret_expires_at: string };
    expect(rotated.secret).not.toBe(sub.secret);
    expect(Date.parse(rotated.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    r.secrets = [rotated.secret, sub.secret];
    const test = await request(t.server).post(`/api/webhooks/${sub.webhook_id}/test`).set(auth).expect(202);
    expect(test.body).toMatchObject({ event_type: 'webhook.test', status: 'pending', job_id: null });
    await waitFor('the test event', async () => (r.received.length === 1 ? true : undefined));
    expect(r.received[0]!.verifiedWith).toEqual([0, 1]);
    expect(r.received[0]!.type).toBe('webhook.test');

    r.answer = () => 410;
    await request(t.server).post(`/api/webhooks/${sub.webhook_id}/test`).set(auth).expect(202);
    const disabled = await waitFor('the subscription disabled', async () => {
      const w = WebhookSchema.parse(
        (await request(t.server).get(`/api/webhooks/${sub.webhook_id}`).set(auth).expect(200)).body,
      );
      return w.enabled ? undefined : w;
    });
    expect(disabled.disabled_reason).toBe('the endpoint answered 410 Gone');
    // Enabled again by an admin: the reason goes.
    const enabled = await request(t.server)
      .patch(`/api/webhooks/${sub.webhook_id}`)
      .set(auth)
      .send({ enabled: true })
      .expect(200);
    expect(enabled.body).toMatchObject({ enabled: true, disabled_reason: null });
    await r.stop();
  });

  it('manages subscriptions per tenant: another tenant’s is answered like a missing one', async () => {
    const sub = await subscribe('http://127.0.0.1:9/nothing', ['job.failed'], auth);
    const other = await tenantKey(t, `other-${kind}`);
    const otherAuth = { Authorization: `Bearer ${other.key}` };
    const theirs = await request(t.server).get(`/api/webhooks/${sub.webhook_id}`).set(otherAuth);
    expectProblem(theirs, 404, 'not-found');
    expect((await request(t.server).get('/api/webhooks').set(otherAuth).expect(200)).body).toEqual([]);
    const listed = (await request(t.server).get('/api/webhooks').set(auth).expect(200)).body as {
      webhook_id: string;
      secret?: string;
    }[];
    expect(listed.map((w) => w.webhook_id)).toContain(sub.webhook_id);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    const patched = await request(t.server)
      .patch(`/api/webhooks/${sub.webhook_id}`)
      .set(auth)
      .send({ events: ['*'], description: 'all of it' })
      .expect(200);
    expect(patched.body).toMatchObject({ events: ['*'], description: 'all of it', enabled: true });
    const viewer = await t.createKey('viewer');
    expectProblem(
      await request(t.server)
        .get('/api/webhooks')
        .set({ Authorization: `Bearer ${viewer.key}` }),
      403,
      'forbidden',
    );
    expectProblem(
      await request(t.server)
        .post('/api/webhooks')
        .set(auth)
        .send({ url: 'http://127.0.0.1:9/x', events: ['job.nope'] }),
      400,
      'validation-failed',
    );
    await request(t.server).delete(`/api/webhooks/${sub.webhook_id}`).set(auth).expect(204);
    expectProblem(await request(t.server).delete(`/api/webhooks/${sub.webhook_id}`).set(auth), 404, 'not-found');
  });

  it('refuses private, link-local and metadata targets, and http beyond loopback', async () => {
    for (const url of [
      'https://10.0.0.7/hook',
      'https://192.168.1.2/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[fe80::1]/hook',
      'https://100.64.0.1/hook',
      'https://0.0.0.0/hook',
      'https://metadata.google.internal/computeMetadata',
      'ftp://127.0.0.1/hook',
    ]) {
      const res = await request(t.server)
        .post('/api/webhooks')
        .set(auth)
        .send({ url, events: ['*'] });
      const problem = expectProblem(res, 400, 'validation-failed');
      expect(problem.errors?.map((e) => e.field)).toEqual(['body.url']);
    }
  });
});

describe.each(kinds)('webhook targets without JOBTRAIL_WEBHOOK_ALLOW_PRIVATE on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind, { webhooks: { allowPrivate: false } });
  });
  afterAll(() => t.close());

  it('refuses loopback (literal or through DNS) and plain http', async () => {
    const auth = { Authorization: `Bearer ${t.adminKey}` };
    for (const [url, message] of [
      ['https://127.0.0.1/hook', 'must not target a loopback address'],
      ['https://[::1]/hook', 'must not target a loopback address'],
      ['https://localhost/hook', 'resolves to a loopback address'],
      ['http://127.0.0.1:8080/hook', 'must be an https URL'],
    ] as const) {
      const res = await request(t.server)
        .post('/api/webhooks')
        .set(auth)
        .send({ url, events: ['*'] });
      const problem = expectProblem(res, 400, 'validation-failed');
      expect(problem.errors?.[0]?.message).toContain(message);
    }
  });
});
