import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ApiKeyRole, JobSummaryWire } from '@jobtrail/domain';
import { installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, job, jobs, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

function setup(role: ApiKeyRole, active: JobSummaryWire[] = []) {
  const started = job({
    job_id: uuid(50_000),
    status: 'pending',
    action: 'purge',
    date: '2024-12-11T00:00:00.000Z',
    updated_at: '2024-12-11T00:00:00.000Z',
    started_at: null,
    finished_at: null,
    attempt: 0,
  });
  let running = active;
  const fake = installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection() })],
    [
      'GET',
      `/api/connections/${CONNECTION_ID}/jobs`,
      (req) => ({ body: req.url.searchParams.get('status') === 'pending,processing' ? running : jobs(2) }),
    ],
    [
      'POST',
      `/api/connections/${CONNECTION_ID}/purge`,
      () => ((running = [...running, started]), { status: 202, body: started }),
    ],
  ]);
  return { fake, started };
}

describe('connection actions', () => {
  it('asks before purging, then shows the new job on top of the history and disables Purge while it runs', async () => {
    const { fake, started } = setup('operator');
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);
    await screen.findByTestId('history-count');

    await user.click(screen.getByRole('button', { name: 'Purge' }));
    expect(fake.requests('POST', /purge$/)).toHaveLength(0);
    const confirm = screen.getByRole('group', { name: /Purge deletes every account/ });
    await user.click(within(confirm).getByRole('button', { name: 'Purge data' }));

    await waitFor(() => expect(fake.requests('POST', /purge$/)).toHaveLength(1));
    expect(await screen.findByText(/Purge started/)).toBeInTheDocument();
    expect(screen.getByTestId('history-count')).toHaveTextContent('Showing 3 jobs');
    const firstRow = screen.getAllByRole('row')[1]!;
    expect(firstRow).toHaveAttribute('data-job-id', started.job_id);
    expect(screen.getByRole('button', { name: 'Purge queued…' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Refresh' })).toBeEnabled();
  });

  it('disables Refresh while a refresh is processing', async () => {
    setup('operator', [job({ job_id: uuid(9), status: 'processing', finished_at: null })]);
    renderApp(`/connections/${CONNECTION_ID}`);
    expect(await screen.findByRole('button', { name: 'Refresh running…' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Purge' })).toBeEnabled();
    // Only admins may delete.
    expect(screen.queryByRole('button', { name: 'Delete connection' })).not.toBeInTheDocument();
  });

  it('keeps the actions disabled, with the reason, for a read-only key', async () => {
    setup('viewer');
    renderApp(`/connections/${CONNECTION_ID}`);
    const refresh = await screen.findByRole('button', { name: 'Refresh' });
    expect(refresh).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Purge' })).toBeDisabled();
    expect(refresh).toHaveAccessibleDescription(/role \(viewer\) can only read/);
  });
});
