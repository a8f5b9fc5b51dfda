import { afterEach, describe, expect, it } from '@jest/globals';
import {
  apiClient,
  createTestDatabase,
  freePort,
  newAdminKey,
  ProcessGroup,
  sleep,
  testEnv,
  type TestDatabase,
} from '../support/processes.js';
import { databaseKinds, type DatabaseKind } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const kinds = await databaseKinds();

describe.each(kinds)('a worker SIGKILLed while sending webhooks (%s)', (kind: DatabaseKind) => {
  let db: TestDatabase | null = null;
  let group: ProcessGroup | null = null;
  const receiver = new WebhookReceiver();

  afterEach(async () => {
    await group?.killAll();
    await db?.drop();
    await receiver.stop();
    group = null;
    db = null;
  });

  it('loses no event: every delivery written with a job change reaches the receiver (counted by webhook-id)', async () => {
    await receiver.start();
    // Slow answers, so that the kill lands while requests are in flight.
    receiver.answer = () => new Promise((resolve) => setTimeout(() => resolve(204), 150));
    db = await createTestDatabase(kind);
    const adminKey = newAdminKey();
    const g = new ProcessGroup({
      ...testEnv(),
      ...db.env,
      JOBTRAIL_ADMIN_KEY: adminKey,
      JOBTRAIL_LEASE_MS: '1000',
      JOBTRAIL_POLL_MS: '100',
      JOBTRAIL_BACKOFF_BASE_MS: '50',
      JOBTRAIL_MAX_ATTEMPTS: '10',
      JOBTRAIL_WEBHOOK_ALLOW_PRIVATE: '1',
      JOBTRAIL_WEBHOOK_POLL_MS: '50',
      JOBTRAIL_WEBHOOK_TIMEOUT_MS: '1000',
      JOBTRAIL_WEBHOOK_BACKOFF_PERMILLE: '1',
    });
    group = g;
    const api = g.start('api', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
    await api.waitHealthy();
    const client = apiClient(api.base, adminKey);
    const created = await client.call('POST', '/webhooks', { url: receiver.url, events: ['*'] });
    expect(created.status).toBe(201);
    receiver.secrets = [created.body.secret as string];
    let worker = g.start('worker-0', { JOBTRAIL_ROLE: 'worker' });
    await worker.waitWorkerReady();

    for (let i = 0; i < 12; i++) await client.connect(i % 3 === 0 ? 'user-flaky' : 'user-ok');
    await waitFor('requests in flight', async () => (receiver.received.length >= 5 ? true : undefined), 20_000, 10);
    expect(await worker.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    await sleep(200);
    worker = g.start('worker-1', { JOBTRAIL_ROLE: 'worker' });
    await worker.waitWorkerReady();

    const reader = db.reader;
    await waitFor(
      'every job finished and every delivery delivered',
      async () => {
        const [open] = await reader.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM jobs WHERE status IN ('pending', 'processing')",
        );
        const [undelivered] = await reader.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status <> 'delivered'",
        );
        return Number(open?.n) === 0 && Number(undelivered?.n) === 0 ? true : undefined;
      },
      60_000,
      100,
    );
    const events = await reader.query<{ event_id: string }>('SELECT event_id FROM webhook_deliveries');
    const transitions = await reader.query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM job_events WHERE kind IN ('created', 'transition')",
    );
    // One delivery per created/transition event (terminal ones have their convenience event too).
    expect(events.length).toBeGreaterThanOrEqual(Number(transitions[0]?.n));
    const got = receiver.ids();
    expect(events.filter((e) => !got.has(e.event_id))).toEqual([]);
    expect(receiver.unverified).toEqual([]);
    console.log(
      `webhooks crash (${kind}): ${events.length} events, ${receiver.received.length} requests received (${receiver.received.length - got.size} duplicates after the kill)`,
    );
  }, 120_000);
});
