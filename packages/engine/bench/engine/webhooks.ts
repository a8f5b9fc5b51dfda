/**
 * Webhook delivery in the engine benchmark: the engine's WebhookDispatcher (as a worker process
 * runs it, production settings) sending the outbox to a real HTTP receiver on 127.0.0.1 that
 * verifies every signature with the `standardwebhooks` package, as a consumer would.
 *
 * 1. Paced: job changes committed at `rate` per second (new jobs, in group commits every 10 ms as
 *    the worker's write batcher makes them, announced on the bus as the API does), one
 *    subscription to every event; lag = the commit returned → the receiver answered 2xx.
 * 2. Backlog: `jobs` deliveries already in the outbox, the dispatcher started; deliveries per
 *    second until the last one is delivered (what one dispatcher can send to one endpoint).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createJob } from '@jobtrail/domain';
import { Webhook } from 'standardwebhooks';
import {
  JobEventsBus,
  JobsStore,
  WebhookDispatcher,
  newWebhookSecret,
  uuidv7,
  type Database,
  type WebhookConfig,
} from '../../src/index.js';
import { latencyOf, log, pollUntil, sleep, type LatencyResult } from './common.js';
import { openBenchDatabase, quietLogger, scratch, seedJobtrail, type Kind } from './jobtrail.js';

export interface WebhookBenchResult {
  readonly kind: Kind;
  readonly jobs: number;
  /** The rate job changes were committed at (achieved). */
  readonly changesPerSecond: number;
  /** Deliveries answered 2xx per second over the paced run (first commit → last 2xx). */
  readonly pacedDeliveriesPerSecond: number;
  /** Commit → 2xx. */
  readonly lag: LatencyResult;
  /** Deliveries per second sending a backlog of `jobs`. */
  readonly backlogDeliveriesPerSecond: number;
  readonly endpointConcurrency: number;
}

/** The README's defaults (JOBTRAIL_WEBHOOK_*), polling included. */
function dispatcherConfig(endpointConcurrency: number): WebhookConfig {
  return {
    pollMs: 1_000,
    timeoutMs: 10_000,
    concurrency: 32,
    perEndpointConcurrency: endpointConcurrency,
    backoffScale: 1,
    allowPrivate: true,
    disableAfterFailingMs: 3 * 24 * 3_600_000,
  };
}

/** A receiver that verifies each request and notes when it answered, per job. */
class Receiver {
  readonly answeredAt = new Map<string, number>();
  received = 0;
  unverified = 0;
  private server: http.Server | null = null;
  url = '';

  constructor(private readonly secret: string) {}

  async start(): Promise<void> {
    const wh = new Webhook(this.secret);
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          const body = wh.verify(raw, {
            'webhook-id': String(req.headers['webhook-id']),
            'webhook-timestamp': String(req.headers['webhook-timestamp']),
            'webhook-signature': String(req.headers['webhook-signature']),
          }) as { data: { job_id: string } };
          this.received++;
          res.writeHead(204).end();
          if (!this.answeredAt.has(body.data.job_id)) this.answeredAt.set(body.data.job_id, performance.now());
        } catch {
          this.unverified++;
          res.writeHead(400).end();
        }
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

async function subscribe(db: Database, tenantId: string, url: string, secret: string): Promise<void> {
  await db.execute(
    `INSERT INTO webhooks (id, tenant_id, url, events, description, enabled, secret_enc, created_at, updated_at)
      VALUES ($1, $2, $3, '["*"]', 'bench', TRUE, $4, $5, $5)`,
    [uuidv7(), tenantId, url, secret, Date.now()],
  );
}

export async function webhookBench(
  kind: Kind,
  pgServer: string,
  jobs: number,
  rate: number,
  endpointConcurrency: number,
  timeoutMs: number,
): Promise<WebhookBenchResult> {
  const s = await scratch(kind, pgServer, 'jt_webhooks');
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // One active refresh per connection: each new job on a connection of its own.
    const connections = 2 * jobs;
    const { tenantId, connectionIds } = await seedJobtrail(s.database, connections, false);
    const { dataSource, db } = await openBenchDatabase(s.database);
    cleanups.push(() => dataSource.destroy());
    const bus = new JobEventsBus(db, s.database.kind === 'postgres' ? s.database.url : null, quietLogger());
    await bus.start();
    cleanups.push(() => bus.close());
    const store = new JobsStore(db);
    const secret = newWebhookSecret();
    const receiver = new Receiver(secret);
    await receiver.start();
    cleanups.push(() => receiver.stop());
    await subscribe(db, tenantId, receiver.url, secret);
    const identity = { decryptSecret: (x: string) => x };
    const newDispatcher = () =>
      new WebhookDispatcher(db, dispatcherConfig(endpointConcurrency), identity, null, quietLogger(), bus);

    /** Commits `n` new jobs in one group commit; returns their ids. */
    let made = 0;
    const commitJobs = async (n: number): Promise<string[]> => {
      const now = new Date();
      const changes = Array.from({ length: n }, () => {
        const job = createJob({
          id: uuidv7(now.getTime()),
          connectionId: connectionIds[made++] as string,
          action: 'refresh',
          now,
          maxAttempts: 3,
        });
        return {
          tenantId,
          before: null,
          next: job,
          events: [{ kind: 'created' as const, at: now, actor: 'bench', reason: 'requested' as const }],
        };
      });
      const committed = (await store.commitNow(changes)).filter((c) => c !== null);
      if (committed.length !== n) throw new Error(`${n - committed.length} new jobs were not committed`);
      void bus.publish(committed.map((c) => c.change)).catch(() => undefined);
      return committed.map((c) => c.job.id);
    };

    // 1. Paced.
    log(
      `webhooks ${kind}: ${jobs.toLocaleString('en')} job changes at ${rate}/s to one endpoint (cap ${endpointConcurrency})`,
    );
    const paced = newDispatcher();
    paced.start();
    cleanups.push(() => paced.stop());
    await sleep(300);
    const committedAt = new Map<string, number>();
    const t0 = performance.now();
    let produced = 0;
    while (produced < jobs) {
      const due = Math.min(jobs, Math.floor(((performance.now() - t0) / 1000) * rate)) - produced;
      if (due > 0) {
        const ids = await commitJobs(due);
        const at = performance.now();
        for (const id of ids) committedAt.set(id, at);
        produced += due;
      }
      await sleep(10);
    }
    const producedIn = (performance.now() - t0) / 1000;
    await pollUntil(async () => receiver.answeredAt.size >= jobs, 20, timeoutMs, `webhooks ${kind} paced`);
    const lags = [...committedAt].map(([id, at]) => (receiver.answeredAt.get(id) as number) - at);
    const lastAnswer = Math.max(...receiver.answeredAt.values());
    await paced.stop();
    if (receiver.unverified > 0) throw new Error(`${receiver.unverified} deliveries did not verify`);

    // 2. Backlog: written with no dispatcher running, then sent.
    log(`webhooks ${kind}: a backlog of ${jobs.toLocaleString('en')} deliveries`);
    receiver.answeredAt.clear();
    for (let i = 0; i < jobs; i += 500) await commitJobs(Math.min(500, jobs - i));
    const backlog = newDispatcher();
    const b0 = performance.now();
    backlog.start();
    cleanups.push(() => backlog.stop());
    await pollUntil(async () => receiver.answeredAt.size >= jobs, 20, timeoutMs, `webhooks ${kind} backlog`);
    const b1 = Math.max(...receiver.answeredAt.values());
    await backlog.stop();
    const [pending] = await db.query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status <> 'delivered'",
    );
    if (Number(pending?.n) !== 0) throw new Error(`${String(pending?.n)} deliveries not delivered`);
    return {
      kind,
      jobs,
      changesPerSecond: jobs / producedIn,
      pacedDeliveriesPerSecond: jobs / ((lastAnswer - t0) / 1000),
      lag: latencyOf(lags),
      backlogDeliveriesPerSecond: jobs / ((b1 - b0) / 1000),
      endpointConcurrency,
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await s.cleanup();
  }
}
