import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ApiKeyRole, BulkRetryResponse } from '@jobtrail/domain';
import { bulkRetryNotice, bulkRetryRequest, describeSkipped } from '../src/jobs-list/bulk-retry.js';
import { installFakeApi, problem, type FakeReply, type FakeRequest } from './support/fake-api.js';
import { CONNECTION_ID, jobs, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const FROM = '2024-12-09T12:00:00.000Z';

const answer = (overrides: Partial<BulkRetryResponse> = {}): BulkRetryResponse => ({
  matched: 5,
  retried: 0,
  skipped: { superseded: 1, 'credentials-update-required': 1 },
  job_ids: [uuid(1), uuid(2), uuid(3)],
  dry_run: true,
  ...overrides,
});

/** The Jobs page's API, with `POST /jobs/retry` answered by `retry`. */
function server(retry: (req: FakeRequest) => FakeReply, role: ApiKeyRole = 'operator') {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', '/api/jobs', () => ({ body: jobs(5, 20_000, { status: 'failed' }) })],
    ['POST', '/api/jobs/retry', retry],
  ]);
}

const failedPage = `/jobs?status=failed&action=refresh&error_code=institution-unavailable&from=${encodeURIComponent(FROM)}`;

describe('bulk retry: the request and its words', () => {
  it('sends the page filters, and offers nothing for a page of several statuses or none', () => {
    expect(
      bulkRetryRequest(
        { status: 'failed', action: 'purge', connection_id: CONNECTION_ID.toUpperCase(), from: FROM },
        true,
      ),
    ).toEqual({ status: 'failed', action: 'purge', connection_id: CONNECTION_ID, from: FROM, dry_run: true });
    expect(bulkRetryRequest({ status: 'cancelled' }, false)).toEqual({ status: 'cancelled', dry_run: false });
    expect(bulkRetryRequest({ status: 'pending,failed' }, true)).toBeNull();
    expect(bulkRetryRequest({ action: 'refresh' }, true)).toBeNull();
  });

  it('words every skip reason with its count, singular and plural', () => {
    expect(
      describeSkipped({
        superseded: 2,
        'active-job': 1,
        'credentials-update-required': 3,
        'already-retried': 1,
        'over-limit': 40,
      }),
    ).toBe(
      '2 already have a newer job of the same action; 1 has a job of the same action already queued or running; ' +
        '3 need new credentials first (the bank rejected them); 1 was retried by someone else first; ' +
        '40 are beyond the 10,000 a run can retry: run it again',
    );
    expect(describeSkipped({})).toBeNull();
    expect(bulkRetryNotice(answer({ retried: 1, skipped: {}, dry_run: false }))).toBe(
      'Retried 1 job: each runs as a new job.',
    );
  });
});

describe('bulk retry on the Jobs page', () => {
  it('counts with a dry run, asks naming N and the filters (focus on Cancel), then runs once with an Idempotency-Key', async () => {
    const fake = server((req) => {
      const body = req.body as { dry_run: boolean };
      return { body: body.dry_run ? answer() : answer({ retried: 3, dry_run: false }) };
    });
    const user = userEvent.setup();
    renderApp(failedPage);
    await user.click(await screen.findByRole('button', { name: 'Retry matching jobs' }));

    const dialog = await screen.findByRole('dialog', { name: 'Retry 3 jobs?' });
    const [dry] = fake.requests('POST', /^\/api\/jobs\/retry$/);
    expect(dry!.body).toEqual({
      status: 'failed',
      action: 'refresh',
      error_code: 'institution-unavailable',
      from: FROM,
      dry_run: true,
    });
    // Nothing is retried before the answer.
    expect(dry!.headers['idempotency-key']).toBeUndefined();
    expect(dialog).toHaveTextContent('The 3 failed jobs matching these filters will be retried, each as a new job.');
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    const filters = within(dialog).getByRole('list', { name: 'Filters' });
    expect(
      within(filters)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual([
      'Status: failed',
      'Action: refresh',
      expect.stringMatching(/^From: /),
      'Error code: institution-unavailable',
    ]);
    expect(dialog).toHaveTextContent(
      'Of the 5 jobs matching, not retried: 1 already has a newer job of the same action; 1 needs new credentials first (the bank rejected them).',
    );

    const confirm = within(dialog).getByRole('button', { name: 'Retry 3 matching jobs' });
    await user.dblClick(confirm);
    const notices = screen.getByTestId('notices');
    await waitFor(() =>
      expect(notices).toHaveTextContent(
        'Retried 3 jobs: each runs as a new job. Not retried: 1 already has a newer job of the same action; 1 needs new credentials first (the bank rejected them).',
      ),
    );
    const runs = fake.requests('POST', /^\/api\/jobs\/retry$/).filter((r) => !(r.body as { dry_run: boolean }).dry_run);
    // The double click sent one run, with the confirmed filters and a key of its own.
    expect(runs).toHaveLength(1);
    expect(runs[0]!.body).toEqual({ ...(dry!.body as object), dry_run: false });
    expect(runs[0]!.headers['idempotency-key']).toMatch(/^bulk-retry-[0-9a-f]{32}$/);
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('a network failure of the run is tried again with the same key; a new confirmation gets a new key', async () => {
    let runs = 0;
    const fake = server((req) => {
      if ((req.body as { dry_run: boolean }).dry_run) return { body: answer({ skipped: {} }) };
      runs++;
      // The first answer is lost on the way: the server did the work, the client saw a 503.
      if (runs === 1) return problem(503, 'service-unavailable', 'Service unavailable');
      return { body: answer({ retried: 3, skipped: {}, dry_run: false }) };
    });
    const user = userEvent.setup();
    renderApp(failedPage);
    await user.click(await screen.findByRole('button', { name: 'Retry matching jobs' }));
    await user.click(await screen.findByRole('button', { name: 'Retry 3 matching jobs' }));
    await waitFor(() => expect(screen.getByTestId('notices')).toHaveTextContent('Retried 3 jobs'), { timeout: 4_000 });
    const sent = fake.requests('POST', /^\/api\/jobs\/retry$/).filter((r) => !(r.body as { dry_run: boolean }).dry_run);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.headers['idempotency-key']).toBe(sent[0]!.headers['idempotency-key']);

    await user.click(screen.getByRole('button', { name: 'Retry matching jobs' }));
    await user.click(await screen.findByRole('button', { name: 'Retry 3 matching jobs' }));
    await waitFor(() => expect(runs).toBe(3));
    const third = fake.requests('POST', /^\/api\/jobs\/retry$/).at(-1)!;
    expect(third.headers['idempotency-key']).not.toBe(sent[0]!.headers['idempotency-key']);
  });

  it('Cancel (or Escape) retries nothing', async () => {
    const fake = server(() => ({ body: answer() }));
    const user = userEvent.setup();
    renderApp(failedPage);
    const open = await screen.findByRole('button', { name: 'Retry matching jobs' });
    await user.click(open);
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(open).toHaveFocus();
    await user.click(open);
    await screen.findByRole('dialog');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    const calls = fake.requests('POST', /^\/api\/jobs\/retry$/);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => (c.body as { dry_run: boolean }).dry_run)).toBe(true);
    expect(screen.getByTestId('notices')).toBeEmptyDOMElement();
  });

  it('says why nothing can be retried instead of asking', async () => {
    server(() => ({ body: answer({ matched: 2, job_ids: [], skipped: { 'active-job': 2 } }) }));
    const user = userEvent.setup();
    renderApp(failedPage);
    await user.click(await screen.findByRole('button', { name: 'Retry matching jobs' }));
    expect(
      await screen.findByText(
        'None of the 2 jobs matching can be retried: 2 have a job of the same action already queued or running.',
      ),
    ).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it("shows the API's problem when the run is refused", async () => {
    server((req) =>
      (req.body as { dry_run: boolean }).dry_run
        ? { body: answer() }
        : problem(422, 'idempotency-key-reused', 'Idempotency key reused', 'This key was used for another request.'),
    );
    const user = userEvent.setup();
    renderApp(failedPage);
    await user.click(await screen.findByRole('button', { name: 'Retry matching jobs' }));
    await user.click(await screen.findByRole('button', { name: 'Retry 3 matching jobs' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The jobs were not retried');
    expect(alert).toHaveTextContent('Idempotency key reused');
    expect(alert).toHaveTextContent('idempotency-key-reused');
    expect(alert).toHaveTextContent('This key was used for another request.');
    expect(screen.getByTestId('notices')).toBeEmptyDOMElement();
  });

  it('is not offered to a viewer', async () => {
    server(() => ({ body: answer() }), 'viewer');
    renderApp(failedPage);
    await screen.findByTestId('jobs-count');
    expect(screen.queryByRole('button', { name: 'Retry matching jobs' })).not.toBeInTheDocument();
  });

  it('is not offered on a page of several statuses', async () => {
    server(() => ({ body: answer() }));
    renderApp('/jobs?status=failed,cancelled');
    await screen.findByTestId('jobs-count');
    expect(screen.queryByRole('button', { name: 'Retry matching jobs' })).not.toBeInTheDocument();
  });
});
