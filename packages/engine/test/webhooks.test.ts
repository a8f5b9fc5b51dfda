import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, stepsOf, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import {
  WebhookDispatcher,
  newWebhookSecret,
  transitionEvents,
  uuidv7,
  type WebhookConfig,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '../src/index.js';
import { databaseKinds, openTestDatabase, silentLog, type TestDatabase } from './support/test-database.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

const kinds = await databaseKinds();

const CONFIG: WebhookConfig = {
  pollMs: 20,
  timeoutMs: 1_000,
  concurrency: 16,
  perEndpointConcurrency: 2,
  // 5 s becomes 5 ms: the whole schedule runs in about 100 ms.
  backoffScale: 0.001,
  allowPrivate: true,
  disableAfterFailingMs: 3 * 24 * 3_600_000,
};

// Secrets are stored as they are: the test's decryptor is the identity.
const identity = { decryptSecret: (s: string) => s };

async function until<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(kinds)('webhook outbox and dispatcher on %s', (kind) => {
  let t: TestDatabase;
  const receivers: WebhookReceiver[] = [];
  const dispatchers: WebhookDispatcher[] = [];
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop();
    for (const r of receivers.splice(0)) await r.stop();
  });
  afterAll(() => t.close());

  const receiver = async (): Promise<WebhookReceiver> => {
    const r = new WebhookReceiver();
    await r.start();
    receivers.push(r);
    return r;
  };
  const dispatcher = (config: Partial<WebhookConfig> = {}): WebhookDispatcher => {
    const d = new WebhookDispatcher(t.db, { ...CONFIG, ...config }, identity, null, silentLog, t.bus);
    dispatchers.push(d);
    d.start();
    return d;
  };
  const subscribe = async (
    tenantId: string,
    url: string,
    events: string[] = ['*'],
  ): Promise<{ id: string; secret: string }> => {
    const id = uuidv7();
    const secret = newWebhookSecret();
    await t.db.execute(
      `INSERT INTO webhooks (id, tenant_id, url, events, description, enabled, secret_enc, created_at, updated_at)
        VALUES ($1, $2, $3, $4, NULL, TRUE, $5, $6, $6)`,
      [id, tenantId, url, JSON.stringify(events), secret, Date.now()],
    );
    return { id, secret };
  };
  const deliveries = (webhookId: string) =>
    t.db.query<WebhookDeliveryRow>('SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at, id', [
      webhookId,
    ]);
  const webhook = async (id: string) =>
    (await t.db.query<WebhookRow>('SELECT * FROM webhooks WHERE id = $1', [id]))[0]!;

  /** Claims the job and runs it to `outcome` through the store, as a worker would. */
  const runJob = async (tenantId: string, job: Job, outcome: 'success' | 'fail'): Promise<Job> => {
    let current = job;
    const step = async (event: Parameters<typeof transitionJobOrThrow>[1]) => {
      const res = transitionJobOrThrow(current, event, { now: new Date(), actor: 'worker-T' });
      const [c] = await t.store.commitNow([
        { tenantId, before: current, next: res.job, events: transitionEvents(res.transition) },
      ]);
      current = c!.job;
    };
    await step({ type: 'claim', workerId: 'worker-T', leaseMs: 60_000, deadlineMs: 60_000 });
    if (outcome === 'success') {
      for (const name of stepsOf(job.action)) {
        await step({ type: 'step-started', step: name });
        await step({ type: 'step-succeeded', step: name });
      }
      await step({ type: 'succeed', result: { accounts: 1 } });
    } else {
      await step({ type: 'step-started', step: 'verify-credentials' });
      await step({ type: 'fail', error: jobError('invalid-credentials', 'wrong password') });
    }
    return current;
  };

  it('writes deliveries in the job change’s transaction, with version and previous status, and none without subscriptions', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const other = await t.seedConnection();
    const all = await subscribe(tenantId, 'http://127.0.0.1:9/none');
    const terminalOnly = await subscribe(tenantId, 'http://127.0.0.1:9/none', ['job.succeeded', 'job.failed']);
    const job = await t.createJob(tenantId, connectionId, 'refresh');
    const done = await runJob(tenantId, job, 'success');
    expect(done.version).toBe(9); // created, claimed, three steps started and succeeded, succeeded

    const rows = await deliveries(all.id);
    // No dispatcher runs: the rows wait in the outbox.
    expect(rows.map((r) => [r.event_type, r.status])).toEqual([
      ['job.created', 'pending'],
      ['job.updated', 'pending'],
      ['job.updated', 'pending'],
      ['job.succeeded', 'pending'],
    ]);
    const bodies = rows.map(
      (r) => JSON.parse(r.payload) as { data: { previous_status: string; version: number; status: string } },
    );
    expect(bodies.map((b) => [b.data.previous_status, b.data.status, b.data.version])).toEqual([
      [null, 'pending', 1],
      ['pending', 'processing', 2],
      ['processing', 'success', 9],
      ['processing', 'success', 9],
    ]);
    // job.updated and job.succeeded of one transition are two events: two webhook-ids.
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(4);
    expect((await deliveries(terminalOnly.id)).map((r) => r.event_type)).toEqual(['job.succeeded']);

    // The other tenant has no subscription: its job changes write nothing.
    const before = await t.db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM webhook_deliveries');
    await runJob(other.tenantId, await t.createJob(other.tenantId, other.connectionId, 'refresh'), 'fail');
    const after = await t.db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM webhook_deliveries');
    expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
  });

  it('a crash between commit and send loses nothing: a dispatcher started later sends the outbox, signed', async () => {
    const r = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, r.url);
    r.secrets = [sub.secret];
    await runJob(tenantId, await t.createJob(tenantId, connectionId, 'refresh'), 'fail');
    expect(r.received).toHaveLength(0);
    dispatcher();
    await until(
      () => deliveries(sub.id),
      (rows) => rows.every((d) => d.status === 'delivered'),
    );
    expect(r.unverified).toEqual([]);
    expect(r.received.map((x) => x.type).sort()).toEqual(
      ['job.created', 'job.failed', 'job.updated', 'job.updated'].sort(),
    );
    const failed = r.received.find((x) => x.type === 'job.failed')!;
    expect(failed.body.data).toMatchObject({ status: 'failed', previous_status: 'processing', version: 4 });
    expect(failed.headers['content-type']).toBe('application/json');
    expect((await webhook(sub.id)).last_success_at).not.toBeNull();
  });

  it('retries while the receiver is down and delivers everything once it is back, same webhook-id', async () => {
    const r = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, r.url);
    r.secrets = [sub.secret];
    await r.stop();
    dispatcher({ backoffScale: 0.01 }); // 50 ms, 3 s, ...
    await runJob(tenantId, await t.createJob(tenantId, connectionId, 'refresh'), 'success');
    await until(
      () => deliveries(sub.id),
      (rows) => rows.length === 4 && rows.every((d) => Number(d.attempts) >= 1),
    );
    const down = await deliveries(sub.id);
    expect(down.every((d) => d.status === 'pending' && d.last_error !== null)).toBe(true);
    await r.start();
    await until(
      () => deliveries(sub.id),
      (rows) => rows.every((d) => d.status === 'delivered'),
      15_000,
    );
    expect(r.ids()).toEqual(new Set(down.map((d) => d.event_id)));
    const attempts = await t.db.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM webhook_delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
        WHERE d.webhook_id = $1`,
      [sub.id],
    );
    expect(Number(attempts[0]!.n)).toBeGreaterThanOrEqual(8);
  });

  it('a slow endpoint past the timeout is retried and never delays another endpoint', async () => {
    const slow = await receiver();
    const fast = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const s = await subscribe(tenantId, slow.url);
    const f = await subscribe(tenantId, fast.url);
    slow.secrets = [s.secret];
    fast.secrets = [f.secret];
    let slowCalls = 0;
    // The first attempts hang past the timeout; later ones answer.
    slow.answer = () => (++slowCalls <= 2 ? new Promise((resolve) => setTimeout(() => resolve(204), 3_000)) : 204);
    dispatcher({ timeoutMs: 300, backoffScale: 0.01 });
    const started = Date.now();
    await runJob(tenantId, await t.createJob(tenantId, connectionId, 'refresh'), 'success');
    await until(
      () => deliveries(f.id),
      (rows) => rows.length === 4 && rows.every((d) => d.status === 'delivered'),
    );
    // The fast endpoint got everything while the slow one held its two slots.
    expect(Date.now() - started).toBeLessThan(2_000);
    await until(
      () => deliveries(s.id),
      (rows) => rows.length === 4 && rows.every((d) => d.status === 'delivered'),
      15_000,
    );
    const timedOut = await t.db.query<{ error: string | null }>(
      `SELECT a.error FROM webhook_delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
        WHERE d.webhook_id = $1 AND a.error IS NOT NULL`,
      [s.id],
    );
    expect(timedOut.map((x) => x.error)).toContain('timed out after 300 ms');
  });

  it('two dispatchers together never exceed an endpoint’s cap, counted in the database', async () => {
    const slow = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, slow.url);
    slow.secrets = [sub.secret];
    let now = 0;
    let most = 0;
    slow.answer = async () => {
      most = Math.max(most, ++now);
      await new Promise((resolve) => setTimeout(resolve, 150));
      now--;
      return 204;
    };
    // Each dispatcher has free slots for far more than the cap: only the shared count holds them back.
    dispatcher({ perEndpointConcurrency: 2, concurrency: 16 });
    dispatcher({ perEndpointConcurrency: 2, concurrency: 16 });
    for (let i = 0; i < 3; i++) await runJob(tenantId, await t.createJob(tenantId, connectionId, 'refresh'), 'success');
    await until(
      () => deliveries(sub.id),
      (rows) => rows.length === 12 && rows.every((d) => d.status === 'delivered'),
      20_000,
    );
    expect(slow.ids().size).toBe(12);
    expect(most).toBe(2);
    // Recorded attempts release their claims.
    expect((await deliveries(sub.id)).every((d) => d.claimed_until === null)).toBe(true);
  });

  it('410 Gone disables the subscription and says why', async () => {
    const r = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, r.url);
    r.secrets = [sub.secret];
    r.answer = () => 410;
    dispatcher();
    await t.createJob(tenantId, connectionId, 'refresh');
    const w = await until(
      () => webhook(sub.id),
      (x) => !x.enabled,
    );
    expect(w.disabled_reason).toBe('the endpoint answered 410 Gone');
    const [d] = await deliveries(sub.id);
    expect(d).toMatchObject({ status: 'failed', last_status_code: 410 });
  });

  it('fails a delivery after the whole schedule and disables a subscription failing for days', async () => {
    const r = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, r.url);
    r.secrets = [sub.secret];
    r.answer = () => 500;
    // Failing since four days: the next failure disables it.
    await t.db.execute('UPDATE webhooks SET failing_since = $1 WHERE id = $2', [Date.now() - 4 * 86_400_000, sub.id]);
    // About 24 h of retries in about 2 s.
    dispatcher({ backoffScale: 0.00002 });
    await t.createJob(tenantId, connectionId, 'refresh');
    const w = await until(
      () => webhook(sub.id),
      (x) => !x.enabled,
    );
    expect(w.disabled_reason).toMatch(/^every delivery failed for \d+ h$/);

    const again = await subscribe(tenantId, r.url);
    r.secrets = [again.secret];
    await t.createJob(tenantId, connectionId, 'purge');
    const [d] = await until(
      () => deliveries(again.id),
      (rows) => rows.length > 0 && rows[0]!.status === 'failed',
      15_000,
    );
    expect(Number(d!.attempts)).toBe(8);
    expect(d!.last_status_code).toBe(500);
  });

  it('after a rotation both the new and the previous secret verify, until the overlap ends', async () => {
    const r = await receiver();
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, r.url);
    const rotated = newWebhookSecret();
    await t.db.execute(
      'UPDATE webhooks SET secret_enc = $1, previous_secret_enc = $2, previous_secret_expires_at = $3 WHERE id = $4',
      [rotated, sub.secret, Date.now() + 86_400_000, sub.id],
    );
    r.secrets = [rotated, sub.secret];
    dispatcher();
    await t.createJob(tenantId, connectionId, 'refresh');
    await until(
      () => r.received.length,
      (n) => n === 1,
    );
    expect(r.received[0]!.verifiedWith).toEqual([0, 1]);
    // Overlap over: the previous secret no longer signs.
    await t.db.execute('UPDATE webhooks SET previous_secret_expires_at = $1 WHERE id = $2', [Date.now() - 1, sub.id]);
    await t.createJob(tenantId, connectionId, 'purge');
    await until(
      () => r.received.length,
      (n) => n === 2,
    );
    expect(r.received[1]!.verifiedWith).toEqual([0]);
  });

  it('refuses at send time a host whose DNS answer turned private (rebinding)', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const sub = await subscribe(tenantId, 'https://hooks.rebind.test/in');
    // The check at creation saw a public address; at send time the same name answers loopback.
    const d = new WebhookDispatcher(
      t.db,
      { ...CONFIG, allowPrivate: false },
      identity,
      null,
      silentLog,
      t.bus,
      async () => ['127.0.0.1'],
    );
    dispatchers.push(d);
    d.start();
    await t.createJob(tenantId, connectionId, 'refresh');
    const [row] = await until(
      () => deliveries(sub.id),
      (rows) => rows.length > 0 && Number(rows[0]!.attempts) > 0,
    );
    expect(row!.last_error).toBe('refused: resolves to a loopback address (127.0.0.1)');
    expect(row!.last_status_code).toBeNull();
  });
});
