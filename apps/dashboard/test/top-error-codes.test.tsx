import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ERROR_CATALOGUE, type JobStatsWire } from '@jobtrail/domain';
import { installFakeApi } from './support/fake-api.js';
import { job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const invalid = {
  code: 'invalid-credentials',
  title: 'Invalid credentials',
  detail: 'x',
  retryable: false,
  troubleshooting: [],
};

function stats(byErrorCode: JobStatsWire['by_error_code']): JobStatsWire {
  const failed = byErrorCode.reduce((n, r) => n + r.count, 0);
  return {
    from: new Date(Date.now() - 86_400_000).toISOString(),
    to: new Date().toISOString(),
    total: failed + 10,
    by_status: { failed, success: 10 },
    by_error_code: byErrorCode,
    per_hour: [],
  };
}

function setup(byErrorCode: JobStatsWire['by_error_code']) {
  const recent = new Date(Date.now() - 60_000).toISOString();
  const failedJob = job({ job_id: uuid(5), status: 'failed', date: recent, error: invalid });
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me() })],
    ['GET', '/api/jobs/stats', () => ({ body: stats(byErrorCode) })],
    [
      'GET',
      '/api/jobs',
      (req) => ({
        body:
          req.url.searchParams.get('error_code') === null ||
          req.url.searchParams.get('error_code') === 'invalid-credentials'
            ? [failedJob]
            : [],
      }),
    ],
  ]);
}

describe('overview: top error codes in the last 24 hours', () => {
  it('lists the codes with their title and count, most frequent first, asked for the overview’s 24 hours', async () => {
    const fake = setup([
      { code: 'invalid-credentials', count: 12 },
      { code: 'institution-timeout', count: 4 },
      { code: 'bank-said-no', count: 1 },
    ]);
    renderApp('/overview');
    const table = await screen.findByTestId('top-error-codes');
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-error-code'))).toEqual([
      'invalid-credentials',
      'institution-timeout',
      'bank-said-no',
    ]);
    expect(rows[0]).toHaveTextContent(`invalid-credentials${ERROR_CATALOGUE['invalid-credentials'].title}12 (71%)`);
    // A code the catalogue does not know is shown as it came.
    expect(rows[2]).toHaveTextContent('bank-said-no');
    const asked = fake.requests('GET', /^\/api\/jobs\/stats$/)[0]!;
    const from = Date.parse(asked.url.searchParams.get('from')!);
    expect(Math.abs(Date.now() - 86_400_000 - from)).toBeLessThan(60_000);
  });

  it('opens the Jobs page filtered by that code (failed, same 24 hours), where the filter shows', async () => {
    const fake = setup([{ code: 'invalid-credentials', count: 1 }]);
    const user = userEvent.setup();
    renderApp('/overview');
    await user.click(await screen.findByRole('link', { name: '1 failed job with invalid-credentials' }));
    await waitFor(() => expect(window.location.pathname).toBe('/jobs'));
    const params = new URLSearchParams(window.location.search);
    expect(params.get('status')).toBe('failed');
    expect(params.get('error_code')).toBe('invalid-credentials');
    expect(params.get('from')).not.toBeNull();
    expect(await screen.findByLabelText('Error code')).toHaveValue('invalid-credentials');
    await waitFor(() =>
      expect(
        fake
          .requests('GET', /^\/api\/jobs$/)
          .at(-1)!
          .url.searchParams.get('error_code'),
      ).toBe('invalid-credentials'),
    );
    expect(await screen.findByTestId('row-error')).toHaveTextContent('invalid-credentials');
  });

  it('says so when no job failed', async () => {
    setup([]);
    renderApp('/overview');
    expect(await screen.findByText('No job failed in the last 24 hours.')).toBeInTheDocument();
  });
});
