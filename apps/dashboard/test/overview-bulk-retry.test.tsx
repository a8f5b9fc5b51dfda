import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ApiKeyRole, BulkRetryResponse, JobStatsWire } from '@jobtrail/domain';
import { installFakeApi, type FakeRequest } from './support/fake-api.js';
import { job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const answer = (overrides: Partial<BulkRetryResponse> = {}): BulkRetryResponse => ({
  matched: 2,
  retried: 0,
  skipped: {},
  job_ids: [uuid(1), uuid(2)],
  dry_run: true,
  ...overrides,
});

const stats: JobStatsWire = {
  from: new Date(Date.now() - 86_400_000).toISOString(),
  to: new Date().toISOString(),
  total: 3,
  by_status: { failed: 2, success: 1 },
  by_error_code: [{ code: 'invalid-credentials', count: 2 }],
  per_hour: [],
};

/** The overview's API: a day of 2 failed jobs and 1 success, with `POST /jobs/retry`. */
function server(role: ApiKeyRole) {
  const recent = new Date(Date.now() - 60_000).toISOString();
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', '/api/jobs/stats', () => ({ body: stats })],
    [
      'GET',
      '/api/jobs',
      () => ({
        body: [
          job({ job_id: uuid(1), status: 'failed', date: recent }),
          job({ job_id: uuid(2), status: 'failed', date: recent }),
          job({ job_id: uuid(3), status: 'success', date: recent }),
        ],
      }),
    ],
    [
      'POST',
      '/api/jobs/retry',
      (req: FakeRequest) => ({
        body: (req.body as { dry_run: boolean }).dry_run ? answer() : answer({ retried: 2, dry_run: false }),
      }),
    ],
  ]);
}

/** The `from` the overview asked its counts for: the start of its 24 hours. */
const overviewFrom = (fake: ReturnType<typeof server>) =>
  fake.requests('GET', /^\/api\/jobs\/stats$/)[0]!.url.searchParams.get('from');

describe('bulk retry from the overview', () => {
  it('retries the failed jobs of the last 24 hours: dry run, a dialog naming N, then one run with an Idempotency-Key', async () => {
    const fake = server('operator');
    const user = userEvent.setup();
    renderApp('/overview');
    await user.click(await screen.findByRole('button', { name: 'Retry failed jobs of the last 24 hours' }));

    const dialog = await screen.findByRole('dialog', { name: 'Retry 2 jobs?' });
    const [dry] = fake.requests('POST', /^\/api\/jobs\/retry$/);
    // The same 24 hours the overview counts, failed jobs only, counted before anything is retried.
    expect(dry!.body).toEqual({ status: 'failed', from: overviewFrom(fake), dry_run: true });
    expect(Math.abs(Date.now() - 86_400_000 - Date.parse(overviewFrom(fake)!))).toBeLessThan(60_000);
    expect(dry!.headers['idempotency-key']).toBeUndefined();
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();

    await user.click(within(dialog).getByRole('button', { name: 'Retry 2 matching jobs' }));
    await waitFor(() =>
      expect(screen.getByTestId('notices')).toHaveTextContent('Retried 2 jobs: each runs as a new job.'),
    );
    const runs = fake.requests('POST', /^\/api\/jobs\/retry$/).slice(1);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.body).toEqual({ status: 'failed', from: overviewFrom(fake), dry_run: false });
    expect(runs[0]!.headers['idempotency-key']).toMatch(/^bulk-retry-[0-9a-f]{32}$/);
  });

  it('retries the failed jobs of one error code from its row in the top error codes', async () => {
    const fake = server('operator');
    const user = userEvent.setup();
    renderApp('/overview');
    const table = await screen.findByTestId('top-error-codes');
    await user.click(within(table).getByRole('button', { name: 'Retry failed jobs with invalid-credentials' }));
    await screen.findByRole('dialog', { name: 'Retry 2 jobs?' });
    expect(fake.requests('POST', /^\/api\/jobs\/retry$/)[0]!.body).toEqual({
      status: 'failed',
      error_code: 'invalid-credentials',
      from: overviewFrom(fake),
      dry_run: true,
    });
  });

  it('offers no retry to a viewer', async () => {
    const fake = server('viewer');
    renderApp('/overview');
    await screen.findByTestId('top-error-codes');
    expect(screen.queryByRole('button', { name: /^Retry failed jobs/ })).toBeNull();
    expect(fake.requests('POST', /^\/api\/jobs\/retry$/)).toHaveLength(0);
  });
});
