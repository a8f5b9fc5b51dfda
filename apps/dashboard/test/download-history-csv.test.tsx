import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi, problem } from './support/fake-api.js';
import { CONNECTION_ID, connection, jobs, me } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const CSV = 'job_id,status\r\nabc,failed\r\n';

function fakeServer(csv: () => ReturnType<typeof problem> | { body: string }) {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me() })],
    ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection() })],
    [
      'GET',
      `/api/connections/${CONNECTION_ID}/jobs`,
      (req) => (req.headers.accept === 'text/csv' ? csv() : { body: jobs(3) }),
    ],
  ]);
}

describe('Download CSV', () => {
  const created: Blob[] = [];
  Object.assign(URL, {
    createObjectURL: (blob: Blob) => {
      created.push(blob);
      return 'blob:csv';
    },
    revokeObjectURL: () => undefined,
  });
  afterEach(() => {
    created.length = 0;
  });

  it('fetches the whole filtered history as CSV with the key and saves it', async () => {
    const fake = fakeServer(() => ({ body: CSV }));
    const clicked = jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}?status=failed&action=refresh`);
    await user.click(await screen.findByRole('button', { name: 'Download CSV' }));
    await waitFor(() => expect(clicked).toHaveBeenCalled());
    const req = fake.requests('GET', /\/jobs$/).find((r) => r.headers.accept === 'text/csv')!;
    expect(req.headers.authorization).toMatch(/^Bearer /);
    expect(req.url.searchParams.get('status')).toBe('failed');
    expect(req.url.searchParams.get('action')).toBe('refresh');
    expect(req.url.searchParams.has('limit')).toBe(false);
    expect(created[0]!.size).toBe(CSV.length);
    clicked.mockRestore();
  });

  it('says why when the export fails', async () => {
    fakeServer(() => problem(404, 'not-found', 'Not found', 'Connection not found'));
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);
    await user.click(await screen.findByRole('button', { name: 'Download CSV' }));
    expect(await screen.findByText('Could not download the history')).toBeInTheDocument();
  });
});
