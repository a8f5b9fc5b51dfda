import { describe, expect, it } from '@jest/globals';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, job, jobs, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

describe('update credentials', () => {
  it('opens for a connection whose credentials were rejected, and PATCHes new ones', async () => {
    const invalid = connection({ status: 'invalid', login_id: 'user-bad-password' });
    const verifying = job({ job_id: uuid(400), status: 'pending' });
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me('operator') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: invalid })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: jobs(2) })],
      [
        'PATCH',
        `/api/connections/${CONNECTION_ID}`,
        () => ({
          status: 202,
          body: {
            connection: { ...invalid, status: 'pending', login_id: 'user-ok' },
            job: verifying,
          },
        }),
      ],
    ]);
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);
    const form = await screen.findByRole('form', { name: 'Update credentials' });
    expect(form).toBeVisible();
    const login = within(form).getByLabelText('Login');
    await user.clear(login);
    await user.type(login, 'user-ok');
    await user.type(within(form).getByLabelText('New password'), 'n3w');
    await user.click(within(form).getByRole('button', { name: 'Save and verify' }));
    expect(await screen.findByText(/A refresh verifies the new credentials/)).toBeInTheDocument();
    const [patch] = fake.requests('PATCH', /\/connections\//);
    expect(patch!.body).toEqual({ login_id: 'user-ok', password: 'n3w' });
  });

  it('is not offered to a viewer', async () => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('viewer') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection({ status: 'invalid' }) })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: jobs(1) })],
    ]);
    renderApp(`/connections/${CONNECTION_ID}`);
    await screen.findByTestId('history-count');
    expect(screen.queryByRole('form', { name: 'Update credentials' })).toBeNull();
  });
});
