import { describe, expect, it } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { endOfDayIso, startOfDayIso } from '../src/api/endpoints.js';
import { parseFilters, writeFilters } from '../src/connection/use-history-filters.js';
import { installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, jobs, me } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

function fakeHistory() {
  const fake = installFakeApi([
    ['GET', '/api/me', () => ({ body: me() })],
    ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection() })],
    [
      'GET',
      `/api/connections/${CONNECTION_ID}/jobs`,
      (req) => ({ body: req.url.searchParams.get('status') === 'pending,processing' ? [] : jobs(3) }),
    ],
  ]);
  /** The history requests (not the "active jobs" one the action buttons make). */
  const history = () =>
    fake.requests('GET', /\/jobs$/).filter((r) => r.url.searchParams.get('status') !== 'pending,processing');
  return { fake, history, last: () => history().at(-1)?.url.searchParams };
}

describe('history filters', () => {
  it('reads status, action and date range from the URL into the form and the request', async () => {
    const { last } = fakeHistory();
    renderApp(`/connections/${CONNECTION_ID}?status=cancelled,failed&action=refresh&from=2024-12-01&to=2024-12-10`);
    expect(await screen.findByTestId('history-count')).toHaveTextContent('Showing 3 jobs matching the filters.');

    expect(screen.getByRole('checkbox', { name: 'Failed' })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: 'Cancelled' })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: 'Success' })).not.toBeChecked();
    expect(screen.getByLabelText('Action')).toHaveValue('refresh');
    expect(screen.getByLabelText('From')).toHaveValue('2024-12-01');
    expect(screen.getByLabelText('To')).toHaveValue('2024-12-10');

    const q = last()!;
    // Domain order, whatever the order in the URL.
    expect(q.get('status')).toBe('failed,cancelled');
    expect(q.get('action')).toBe('refresh');
    expect(q.get('from')).toBe(startOfDayIso('2024-12-01'));
    expect(q.get('to')).toBe(endOfDayIso('2024-12-10'));
  });

  it('writes every change to the URL and asks the API again', async () => {
    const { last } = fakeHistory();
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);
    await screen.findByTestId('history-count');
    expect(last()?.get('status')).toBeNull();

    await user.click(screen.getByRole('checkbox', { name: 'Failed' }));
    await waitFor(() => expect(new URLSearchParams(window.location.search).get('status')).toBe('failed'));
    await waitFor(() => expect(last()?.get('status')).toBe('failed'));

    await user.click(screen.getByRole('checkbox', { name: 'Success' }));
    await waitFor(() => expect(new URLSearchParams(window.location.search).get('status')).toBe('success,failed'));

    await user.selectOptions(screen.getByLabelText('Action'), 'purge');
    await waitFor(() => expect(last()?.get('action')).toBe('purge'));
    expect(new URLSearchParams(window.location.search).get('action')).toBe('purge');

    await user.type(screen.getByLabelText('From'), '2024-12-05');
    await waitFor(() => expect(new URLSearchParams(window.location.search).get('from')).toBe('2024-12-05'));
    await waitFor(() => expect(last()?.get('from')).toBe(startOfDayIso('2024-12-05')));

    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(window.location.search).toBe(''));
    // The unfiltered history was read at the start and is still fresh: it comes from the cache.
    expect(await screen.findByText('Showing 3 jobs.')).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'Failed' })).not.toBeChecked();
  });

  it('refuses a backwards date range in the form instead of sending it', async () => {
    const { history } = fakeHistory();
    renderApp(`/connections/${CONNECTION_ID}?from=2024-12-10&to=2024-12-01`);
    expect(await screen.findByText('“From” must not be after “To”.')).toBeInTheDocument();
    expect(screen.getByLabelText('From')).toHaveAttribute('aria-invalid', 'true');
    expect(history()).toHaveLength(0);
  });

  it('ignores malformed URL parameters rather than sending them', () => {
    const filters = parseFilters(new URLSearchParams('status=failed,bogus&action=delete&from=yesterday&to=2024-12-10'));
    expect(filters).toEqual({ statuses: ['failed'], action: null, from: null, to: '2024-12-10' });
  });

  it('keeps unrelated URL parameters when writing filters', () => {
    const params = writeFilters(new URLSearchParams('tab=logs&status=failed'), {
      statuses: [],
      action: 'refresh',
      from: null,
      to: null,
    });
    expect(params.toString()).toBe('tab=logs&action=refresh');
  });
});
