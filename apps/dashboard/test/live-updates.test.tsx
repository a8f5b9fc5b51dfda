import { describe, expect, it } from '@jest/globals';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { QueryClient } from '@tanstack/react-query';
import type { InfiniteData } from '@tanstack/react-query';
import type { JobSummaryWire } from '@jobtrail/domain';
import { App } from '../src/app.js';
import type { Page } from '../src/api/client.js';
import { NO_FILTERS } from '../src/api/endpoints.js';
import { queryKeys } from '../src/api/query-keys.js';
import { applyJobChange, patchHistory } from '../src/live/apply-job-change.js';
import { FakeStream, installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, detail, job, me, uuid } from './support/fixtures.js';

const pending = job({
  job_id: uuid(500),
  status: 'pending',
  started_at: null,
  finished_at: null,
  attempt: 0,
  date: '2024-12-10T04:33:00.000Z',
  updated_at: '2024-12-10T04:33:00.000Z',
});
const sse = (id: number, event: string, data: JobSummaryWire) =>
  `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('live updates', () => {
  it('goes Live, patches the open history from job events, and resumes with Last-Event-ID after the stream drops', async () => {
    const streams: FakeStream[] = [];
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection({ latest_job: pending }) })],
      [
        'GET',
        `/api/connections/${CONNECTION_ID}/jobs`,
        (req) => ({ body: req.url.searchParams.get('status') === 'pending,processing' ? [pending] : [pending] }),
      ],
      [
        'GET',
        '/api/events',
        () => {
          const stream = new FakeStream();
          streams.push(stream);
          return { headers: { 'Content-Type': 'text/event-stream' }, stream };
        },
      ],
    ]);
    sessionStorage.setItem('jobtrail.api-key', 'k');
    window.history.replaceState(null, '', `/connections/${CONNECTION_ID}`);
    render(<App />);

    expect(await screen.findByTestId('live-status')).toHaveTextContent('Live');
    const row = () => screen.getAllByRole('row').find((r) => r.getAttribute('data-job-id') === pending.job_id)!;
    await waitFor(() => expect(row()).toHaveTextContent('🕒 Pending'));
    expect(screen.getByRole('button', { name: 'Refresh queued…' })).toBeDisabled();

    streams[0]!.write(': ping\n\n');
    streams[0]!.write(
      sse(1, 'job.updated', {
        ...pending,
        status: 'processing',
        attempt: 1,
        started_at: '2024-12-10T04:33:01.000Z',
        updated_at: '2024-12-10T04:33:01.000Z',
      }),
    );
    await waitFor(() => expect(row()).toHaveTextContent('⏳ Processing'));
    expect(screen.getByRole('button', { name: 'Refresh running…' })).toBeDisabled();

    const done = {
      ...pending,
      status: 'success' as const,
      attempt: 1,
      started_at: '2024-12-10T04:33:01.000Z',
      finished_at: '2024-12-10T04:33:03.000Z',
      updated_at: '2024-12-10T04:33:03.000Z',
    };
    const next = job({
      job_id: uuid(501),
      status: 'pending',
      action: 'purge',
      started_at: null,
      finished_at: null,
      attempt: 0,
      date: '2024-12-10T04:40:00.000Z',
      updated_at: '2024-12-10T04:40:00.000Z',
    });
    streams[0]!.write(sse(2, 'job.updated', done) + sse(3, 'job.created', next));
    await waitFor(() => expect(row()).toHaveTextContent('✅ Success'));
    expect(within(screen.getAllByRole('row')[1]!).getByRole('link', { name: next.job_id })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Refresh' })).toBeEnabled();

    streams[0]!.end();
    await waitFor(() => expect(screen.getByTestId('live-status')).toHaveTextContent('Offline'));
    await waitFor(() => expect(streams).toHaveLength(2), { timeout: 3_000 });
    expect(fake.requests('GET', /\/api\/events$/)[1]?.headers['last-event-id']).toBe('3');
    expect(await screen.findByTestId('live-status')).toHaveTextContent('Live');

    // A stream that drops before any event resumes from the position it started with (an id-only
    // block, as the server sends first), not from wherever the next stream would start.
    streams[1]!.write('retry: 2000\n: connected\nid: 7\n\n');
    streams[1]!.end();
    await waitFor(() => expect(streams).toHaveLength(3), { timeout: 3_000 });
    expect(fake.requests('GET', /\/api\/events$/)[2]?.headers['last-event-id']).toBe('7');
  });

  it('refetches a subscription’s health and delivery log when an attempt is announced (webhook.delivery), not by polling', async () => {
    const streams: FakeStream[] = [];
    const WEBHOOK = uuid(700);
    const DELIVERY = uuid(801);
    let delivered = false;
    const deliveryNow = () => ({
      delivery_id: DELIVERY,
      webhook_id: WEBHOOK,
      event_id: 'msg_1',
      event_type: 'job.succeeded',
      job_id: uuid(100),
      status: delivered ? 'delivered' : 'pending',
      attempts: delivered ? 2 : 1,
      last_status_code: delivered ? 200 : 503,
      last_error: delivered ? null : 'HTTP 503',
      next_attempt_at: delivered ? null : '2024-12-10T05:00:05.000Z',
      created_at: '2024-12-10T05:00:00.000Z',
      delivered_at: delivered ? '2024-12-10T05:00:06.000Z' : null,
      attempt_log: [],
    });
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me('admin') })],
      [
        'GET',
        '/api/webhooks',
        () => ({
          body: [
            {
              webhook_id: WEBHOOK,
              url: 'https://hooks.example.com/in',
              events: ['*'],
              description: null,
              enabled: true,
              disabled_reason: null,
              created_at: '2024-12-10T04:00:00.000Z',
              updated_at: '2024-12-10T04:00:00.000Z',
              last_success_at: delivered ? '2024-12-10T05:00:06.000Z' : null,
              last_failure_at: '2024-12-10T05:00:01.000Z',
              failing_since: delivered ? null : '2024-12-10T05:00:01.000Z',
              previous_secret_expires_at: null,
            },
          ],
        }),
      ],
      ['GET', `/api/webhooks/${WEBHOOK}/deliveries`, () => ({ body: [deliveryNow()] })],
      [
        'GET',
        '/api/events',
        () => {
          const stream = new FakeStream();
          streams.push(stream);
          return { headers: { 'Content-Type': 'text/event-stream' }, stream };
        },
      ],
    ]);
    sessionStorage.setItem('jobtrail.api-key', 'k');
    window.history.replaceState(null, '', '/webhooks');
    render(<App />);
    expect(await screen.findByTestId('live-status')).toHaveTextContent('Live');
    fireEvent.click(await screen.findByRole('button', { name: 'Deliveries' }));
    const log = await screen.findByRole('region', { name: 'Delivery log' });
    expect(await within(log).findByText('503')).toBeInTheDocument();
    const logFetches = () => fake.requests('GET', /\/deliveries/).length;
    const listFetches = () => fake.requests('GET', /\/api\/webhooks$/).length;
    const [logBefore, listBefore] = [logFetches(), listFetches()];

    // A malformed event is skipped; the well-formed one refetches each view once.
    streams[0]!.write('event: webhook.delivery\ndata: {"delivery_id": "nope"}\n\n');
    delivered = true;
    streams[0]!.write(
      `event: webhook.delivery\ndata: ${JSON.stringify({
        delivery_id: DELIVERY,
        webhook_id: WEBHOOK,
        job_id: uuid(100),
        event_type: 'job.succeeded',
        status: 'delivered',
        attempts: 2,
        status_code: 200,
      })}\n\n`,
    );
    expect(await within(log).findByText('200')).toBeInTheDocument();
    expect(within(log).getByText('delivered')).toBeInTheDocument();
    expect(logFetches()).toBe(logBefore + 1);
    expect(listFetches()).toBe(listBefore + 1);
  });

  it('refetches the open job’s webhook deliveries when one of its attempts is announced, and only that job’s', async () => {
    const streams: FakeStream[] = [];
    const JOB = uuid(100);
    let attempts = 0;
    const delivery = () => ({
      delivery_id: uuid(801),
      webhook_id: uuid(700),
      event_id: 'msg_1',
      event_type: 'job.succeeded',
      job_id: JOB,
      status: attempts > 0 ? 'delivered' : 'pending',
      attempts,
      last_status_code: attempts > 0 ? 200 : null,
      last_error: null,
      next_attempt_at: attempts > 0 ? null : '2024-12-10T05:00:00.000Z',
      created_at: '2024-12-10T05:00:00.000Z',
      delivered_at: attempts > 0 ? '2024-12-10T05:00:01.000Z' : null,
      attempt_log: [],
    });
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me('admin') })],
      ['GET', `/api/jobs/${JOB}`, () => ({ body: detail({ job_id: JOB }) })],
      ['GET', `/api/jobs/${JOB}/logs`, () => ({ body: [] })],
      ['GET', `/api/jobs/${JOB}/deliveries`, () => ({ body: [delivery()] })],
      [
        'GET',
        '/api/events',
        () => {
          const stream = new FakeStream();
          streams.push(stream);
          return { headers: { 'Content-Type': 'text/event-stream' }, stream };
        },
      ],
    ]);
    sessionStorage.setItem('jobtrail.api-key', 'k');
    window.history.replaceState(null, '', `/jobs/${JOB}`);
    render(<App />);
    expect(await screen.findByTestId('live-status')).toHaveTextContent('Live');
    const section = (await screen.findByRole('heading', { name: 'Webhook deliveries' })).closest('section')!;
    expect(await within(section).findByText('pending')).toBeInTheDocument();
    const fetches = () => fake.requests('GET', /\/deliveries/).length;
    const before = fetches();

    // Another job's attempt does not touch this view.
    const announce = (jobId: string) =>
      streams[0]!.write(
        `event: webhook.delivery\ndata: ${JSON.stringify({
          delivery_id: uuid(802),
          webhook_id: uuid(700),
          job_id: jobId,
          event_type: 'job.succeeded',
          status: 'delivered',
          attempts: 1,
          status_code: 200,
        })}\n\n`,
      );
    announce(uuid(101));
    attempts = 1;
    announce(JOB);
    expect(await within(section).findByText('delivered')).toBeInTheDocument();
    expect(within(section).getByText('200')).toBeInTheDocument();
    expect(fetches()).toBe(before + 1);
  });

  it('shows Offline when the event stream is refused, with a way to retry at once', async () => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', '/api/connections', () => ({ body: [] })],
    ]);
    sessionStorage.setItem('jobtrail.api-key', 'k');
    render(<App />);
    expect(await screen.findByTestId('live-status')).toHaveTextContent('Offline');
    expect(screen.getByRole('button', { name: 'Reconnect live updates now' })).toBeInTheDocument();
  });
});

describe('applyJobChange', () => {
  it('does not let a late event overwrite a fresher state', () => {
    const fresh = { ...pending, status: 'success' as const, updated_at: '2024-12-10T05:00:00.000Z' };
    const data: InfiniteData<Page<JobSummaryWire>, string | null> = {
      pages: [{ items: [fresh], next: null }],
      pageParams: [null],
    };
    expect(patchHistory(data, pending, NO_FILTERS)).toBe(data);
  });

  it('puts a new job on top only when it matches the filters', () => {
    const client = new QueryClient();
    const failedOnly = { ...NO_FILTERS, statuses: ['failed' as const] };
    const seed = { pages: [{ items: [pending], next: null }], pageParams: [null] };
    client.setQueryData(queryKeys.history(CONNECTION_ID, NO_FILTERS), seed);
    client.setQueryData(queryKeys.history(CONNECTION_ID, failedOnly), {
      pages: [{ items: [], next: null }],
      pageParams: [null],
    });
    const created = job({
      job_id: uuid(600),
      status: 'pending',
      date: '2024-12-11T00:00:00.000Z',
      updated_at: '2024-12-11T00:00:00.000Z',
    });
    applyJobChange(client, created);
    const all = client.getQueryData<InfiniteData<Page<JobSummaryWire>>>(queryKeys.history(CONNECTION_ID, NO_FILTERS));
    const failed = client.getQueryData<InfiniteData<Page<JobSummaryWire>>>(
      queryKeys.history(CONNECTION_ID, failedOnly),
    );
    expect(all?.pages[0]?.items.map((j) => j.job_id)).toEqual([created.job_id, pending.job_id]);
    expect(failed?.pages[0]?.items).toEqual([]);
  });
});
