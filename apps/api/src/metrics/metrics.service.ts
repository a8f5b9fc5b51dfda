import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { JOB_ACTIONS, JOB_STATUSES, TERMINAL_STATUSES, type JobAction, type JobStatus } from '@jobtrail/domain';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Database, type WebhookAttemptOutcome, type WebhookObserver } from '@jobtrail/engine';
import { DataSource } from 'typeorm';
import { JobEntity } from '../persistence/entities.js';

/** Upper bounds (seconds) of the job duration histogram (unchanged: dashboards use these `le`s). */
const BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300];

/** How long the database figures of a scrape may be reused: scrapes never cost more than one count per window. */
export const QUEUE_FIGURES_TTL_MS = 5_000;

/** What one refresh reads from the database. */
interface QueueFigures {
  /** Pending and processing jobs by `status/action`. */
  readonly active: ReadonlyMap<string, number>;
  /** Pending jobs due now, and the `run_at` of the oldest of them. */
  readonly dueCount: number;
  readonly oldestDue: number | null;
  readonly at: number;
}

const isTerminal = (status: JobStatus) => (TERMINAL_STATUSES as readonly string[]).includes(status);

/**
 * Prometheus metrics through prom-client: Node's process metrics (memory, CPU, event-loop lag, GC,
 * handles) and Jobtrail's job families, on a registry of this app (tests run several apps in one
 * process, so the global registry is not used).
 *
 * Cost of a scrape (issue 10: `/metrics` must stay O(1) in the number of jobs):
 * - `pending`/`processing` counts and the due queue come from the database, since any process may
 *   change them. They are read through the partial indexes on active jobs (`ux_jobs_active_action`,
 *   `ix_jobs_due`), so they cost O(active jobs) — bounded by the queue, not by the history — and at
 *   most once per {@link QUEUE_FIGURES_TTL_MS} whatever the scrape rate.
 * - `success`/`failed`/`cancelled` counts would need a scan of the whole history (no index can count
 *   them without walking every row), so they are counters kept in memory: the jobs this process's
 *   workers finished since it started. Summed over the processes (`sum by (status, action)`),
 *   they give the cluster's throughput; `rate()` works on them as on any counter that resets.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy, WebhookObserver {
  readonly registry = new Registry();
  private readonly finished = new Map<string, number>();
  private figures: QueueFigures | null = null;
  private refreshing: Promise<QueueFigures> | null = null;
  private readonly duration: Histogram<'action' | 'status'>;
  private readonly deliveries: Counter<'outcome'>;
  private readonly deliveryLag: Histogram;
  private readonly deliveryBacklog: Gauge;

  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.duration = new Histogram({
      name: 'jobtrail_job_duration_seconds',
      help: 'Duration of finished attempts run by this process.',
      labelNames: ['action', 'status'],
      buckets: BUCKETS,
      registers: [this.registry],
    });
    this.deliveries = new Counter({
      name: 'jobtrail_webhook_deliveries_total',
      help: 'Webhook delivery attempts made by this process, by outcome: delivered (2xx), retrying, failed (no attempt left), gone (410: subscription disabled), refused (unsafe target).',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.deliveryLag = new Histogram({
      name: 'jobtrail_webhook_delivery_lag_seconds',
      help: "From the job change's commit to the receiver's 2xx, for deliveries sent by this process.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3_600, 86_400],
      registers: [this.registry],
    });
    this.deliveryBacklog = new Gauge({
      name: 'jobtrail_webhook_backlog',
      help: 'Pending webhook deliveries (due, or waiting for a retry), as last counted by a dispatcher of this process.',
      registers: [this.registry],
    });
    // Each collect reads the same (cached) figures: one refresh serves the three families.
    const jobs: Gauge<'status' | 'action'> = new Gauge({
      name: 'jobtrail_jobs',
      help: 'Jobs by status and action: pending and processing in the database (all processes, refreshed every 5 s); success, failed and cancelled as finished by this process since it started.',
      labelNames: ['status', 'action'],
      registers: [this.registry],
      collect: async () => {
        const f = await this.queueFigures();
        for (const status of JOB_STATUSES) {
          for (const action of JOB_ACTIONS) {
            const key = `${status}/${action}`;
            jobs.set({ status, action }, (isTerminal(status) ? this.finished : f.active).get(key) ?? 0);
          }
        }
      },
    });
    const depth: Gauge = new Gauge({
      name: 'jobtrail_queue_depth',
      help: 'Pending jobs that are due now.',
      registers: [this.registry],
      collect: async () => depth.set((await this.queueFigures()).dueCount),
    });
    const lag: Gauge = new Gauge({
      name: 'jobtrail_queue_lag_seconds',
      help: 'How long the oldest due pending job has waited.',
      registers: [this.registry],
      collect: async () => {
        const f = await this.queueFigures();
        lag.set(f.oldestDue === null ? 0 : Math.max(0, (Date.now() - f.oldestDue) / 1000));
      },
    });
  }

  /** Records how long a finished attempt took (called once per attempt that ends). */
  observeJob(action: string, status: string, seconds: number): void {
    this.duration.observe({ action, status }, seconds);
    if ((JOB_STATUSES as readonly string[]).includes(status) && isTerminal(status as JobStatus)) {
      const key = `${status}/${action as JobAction}`;
      this.finished.set(key, (this.finished.get(key) ?? 0) + 1);
    }
  }

  /** One webhook delivery attempt (the engine's dispatcher reports each). */
  observeDelivery(outcome: WebhookAttemptOutcome, lagSeconds: number | null): void {
    this.deliveries.inc({ outcome });
    if (lagSeconds !== null) this.deliveryLag.observe(lagSeconds);
  }

  observeBacklog(pending: number): void {
    this.deliveryBacklog.set(pending);
  }

  /** The exposition text of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The media type of {@link render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Drops the cached database figures, so the next scrape reads them again (the bench times that read). */
  forgetCachedFigures(): void {
    this.figures = null;
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }

  /** The database figures, read at most once per TTL; concurrent scrapes share one refresh. */
  private async queueFigures(now = Date.now()): Promise<QueueFigures> {
    if (this.figures && now - this.figures.at < QUEUE_FIGURES_TTL_MS) return this.figures;
    this.refreshing ??= this.readFigures(now).finally(() => {
      this.refreshing = null;
    });
    this.figures = await this.refreshing;
    return this.figures;
  }

  private async readFigures(now: number): Promise<QueueFigures> {
    // The predicate matches `ux_jobs_active_action`'s: only active jobs are read.
    const active = await this.db.queryBuilt<{ status: string; action: string; n: number | string }>(
      this.dataSource
        .createQueryBuilder()
        .select('j.status', 'status')
        .addSelect('j.action', 'action')
        .addSelect('COUNT(*)', 'n')
        .from(JobEntity, 'j')
        .where("j.status IN ('pending', 'processing')")
        .groupBy('j.status')
        .addGroupBy('j.action')
        .getQueryAndParameters(),
    );
    // `ix_jobs_due` (run_at) WHERE status = 'pending'.
    const [due] = await this.db.queryBuilt<{ n: number | string; oldest: number | string | null }>(
      this.dataSource
        .createQueryBuilder()
        .select('COUNT(*)', 'n')
        .addSelect('MIN(j.run_at)', 'oldest')
        .from(JobEntity, 'j')
        .where("j.status = 'pending' AND j.run_at <= :now", { now })
        .getQueryAndParameters(),
    );
    return {
      active: new Map(active.map((r) => [`${r.status}/${r.action}`, Number(r.n)])),
      dueCount: Number(due?.n ?? 0),
      oldestDue: due?.oldest == null ? null : Number(due.oldest),
      at: now,
    };
  }
}
