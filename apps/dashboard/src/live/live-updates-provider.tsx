import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { notifyManager, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { JobSummarySchema, WebhookDeliveryEventSchema, type JobSummaryWire } from '@jobtrail/domain';
import { queryKeys } from '../api/query-keys.js';
import { useSession } from '../auth/auth-context.js';
import { problemOf } from '../components/problem-alert.js';
import { webhookKeys } from '../webhooks/webhooks-api.js';
import { applyJobChange } from './apply-job-change.js';
import { reconnectDelayMs } from './backoff.js';
import { readEventStream, type SseMessage } from './event-stream.js';
import { LiveContext, type LiveState, type LiveStatus } from './live-context.js';

/** The server sends `: ping` every 15 s; three missed pings mean the connection is dead. */
const SILENCE_LIMIT_MS = 45_000;
/** Events are applied in small batches: during a burst, one render per batch rather than per event. */
const FLUSH_MS = 150;
/** The overview recomputes from up to a thousand jobs: at most once per this many ms. */
const OVERVIEW_REFRESH_MS = 5_000;

interface Snapshot {
  readonly status: LiveStatus;
  readonly retryAt: number | null;
  readonly reason: string | null;
}

/**
 * Keeps the caches in step with `/api/events` while the dashboard is open: job.created and
 * job.updated patch the lists and the open job; webhook.delivery refetches the delivery views it
 * touches (the subscriptions' health, that subscription's log, that job's deliveries); the stream
 * reconnects with backoff and resumes from the last event id.
 */
export function LiveUpdatesProvider({
  children,
  enabled = true,
}: {
  readonly children: ReactNode;
  readonly enabled?: boolean;
}) {
  const { client } = useSession();
  const queryClient = useQueryClient();
  const [snapshot, setSnapshot] = useState<Snapshot>({
    status: enabled ? 'connecting' : 'disabled',
    retryAt: null,
    reason: null,
  });
  const wake = useRef<() => void>(() => undefined);

  useEffect(() => {
    if (!enabled) return;
    const stop = new AbortController();
    const batcher = new EventBatcher(queryClient);
    let lastEventId: string | null = null;
    let failures = 0;

    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stop.signal.removeEventListener('abort', done);
          window.removeEventListener('online', done);
          wake.current = () => undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        stop.signal.addEventListener('abort', done);
        // Coming back online, or a click on "Reconnect", ends the wait early.
        window.addEventListener('online', done);
        wake.current = done;
      });

    const run = async () => {
      while (!stop.signal.aborted) {
        const attempt = new AbortController();
        const abortAttempt = () => attempt.abort();
        stop.signal.addEventListener('abort', abortAttempt);
        let watchdog: ReturnType<typeof setTimeout> | undefined;
        const alive = () => {
          clearTimeout(watchdog);
          watchdog = setTimeout(abortAttempt, SILENCE_LIMIT_MS);
        };
        let reason: string | null = null;
        setSnapshot((s) => (s.status === 'offline' ? s : { status: 'connecting', retryAt: null, reason: null }));
        try {
          await readEventStream({
            url: client.url('/events'),
            key: client.key,
            lastEventId,
            signal: attempt.signal,
            onOpen: () => {
              failures = 0;
              alive();
              setSnapshot({ status: 'live', retryAt: null, reason: null });
              // Without an id to resume from, changes made before the stream opened were missed.
              if (lastEventId === null) catchUp(queryClient, Date.now());
            },
            onActivity: alive,
            // Every id, the stream's starting position included: a stream dropped before any event
            // resumes from where it started (nothing made meanwhile is missed).
            onId: (id) => (lastEventId = id),
            onMessage: (message) => batcher.add(message),
          });
          reason = 'The server closed the event stream.';
        } catch (err) {
          reason =
            attempt.signal.aborted && !stop.signal.aborted ? 'No heartbeat from the server.' : problemOf(err).title;
        } finally {
          clearTimeout(watchdog);
          stop.signal.removeEventListener('abort', abortAttempt);
        }
        if (stop.signal.aborted) break;
        failures += 1;
        const delay = reconnectDelayMs(failures);
        setSnapshot({ status: 'offline', retryAt: Date.now() + delay, reason });
        await sleep(delay);
      }
    };
    void run();
    return () => {
      stop.abort();
      batcher.dispose();
    };
  }, [client, enabled, queryClient]);

  const value = useMemo<LiveState>(() => ({ ...snapshot, reconnect: () => wake.current() }), [snapshot]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

/** Refetches what was loaded before now (and is on screen): used when no resume id was available. */
function catchUp(queryClient: QueryClient, openedAt: number): void {
  void queryClient.invalidateQueries({
    predicate: (q) =>
      q.queryKey[0] !== 'me' &&
      q.state.fetchStatus === 'idle' &&
      q.state.dataUpdatedAt > 0 &&
      q.state.dataUpdatedAt < openedAt,
  });
}

/** Collects events for a moment, keeps the latest state of each job, then applies them in one batch. */
class EventBatcher {
  private pending = new Map<string, JobSummaryWire>();
  /** Subscriptions and jobs whose deliveries had an attempt recorded since the last flush. */
  private readonly deliveredTo = new Set<string>();
  private readonly deliveredFor = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastOverview = 0;
  private overviewTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly queryClient: QueryClient) {}

  add(message: SseMessage): void {
    if (message.event === 'webhook.delivery') return this.addDelivery(message);
    if (message.event !== 'job.created' && message.event !== 'job.updated') return;
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    const parsed = JobSummarySchema.safeParse(data);
    // An event the contract does not describe is skipped; the next fetch shows the truth.
    if (!parsed.success) return;
    const job = parsed.data;
    const queued = this.pending.get(job.job_id);
    if (!queued || Date.parse(job.updated_at) >= Date.parse(queued.updated_at)) this.pending.set(job.job_id, job);
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** A recorded webhook attempt: the views showing it are refetched at the next flush (once each). */
  private addDelivery(message: SseMessage): void {
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    const parsed = WebhookDeliveryEventSchema.safeParse(data);
    if (!parsed.success) return;
    this.deliveredTo.add(parsed.data.webhook_id);
    if (parsed.data.job_id !== null) this.deliveredFor.add(parsed.data.job_id);
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const jobs = [...this.pending.values()];
    this.pending.clear();
    const webhooks = [...this.deliveredTo];
    const jobDeliveries = [...this.deliveredFor];
    this.deliveredTo.clear();
    this.deliveredFor.clear();
    notifyManager.batch(() => {
      for (const job of jobs) applyJobChange(this.queryClient, job);
      // Only what is cached is refetched (and only what is on screen at once): a burst of
      // attempts costs one fetch per view per flush.
      if (webhooks.length > 0) {
        void this.queryClient.invalidateQueries({ queryKey: webhookKeys.all, exact: true });
        for (const id of webhooks) void this.queryClient.invalidateQueries({ queryKey: webhookKeys.deliveries(id) });
      }
      for (const id of jobDeliveries) void this.queryClient.invalidateQueries({ queryKey: webhookKeys.job(id) });
    });
    if (jobs.length > 0) this.refreshOverview();
  }

  private refreshOverview(): void {
    if (this.overviewTimer) return;
    const wait = Math.max(0, this.lastOverview + OVERVIEW_REFRESH_MS - Date.now());
    this.overviewTimer = setTimeout(() => {
      this.overviewTimer = undefined;
      this.lastOverview = Date.now();
      void this.queryClient.invalidateQueries({ queryKey: queryKeys.overview() });
    }, wait);
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.overviewTimer);
  }
}
