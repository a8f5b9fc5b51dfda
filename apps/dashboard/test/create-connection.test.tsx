import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, job, me } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

describe('connections page', () => {
  it('lists connections with masked login, institution, created date and the latest status', async () => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('viewer') })],
      ['GET', '/api/connections', () => ({ body: [connection({ latest_job: job({ status: 'failed' }) })] })],
    ]);
    renderApp('/');
    const link = await screen.findByRole('link', { name: 'Connection us•••ok (customer-42)' });
    expect(link).toHaveAttribute('href', `/connections/${CONNECTION_ID}`);
    const row = link.closest('tr')!;
    expect(row).toHaveTextContent('sandbox');
    expect(row).toHaveTextContent('❌ Failed');
    expect(row).not.toHaveTextContent('user-ok');
    // A viewer neither creates nor deletes.
    expect(screen.queryByRole('form', { name: 'New sandbox connection' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Delete' })).not.toBeInTheDocument();
  });

  it('validates the form with the domain schema before sending, then creates and opens the connection', async () => {
    const created = connection({ login_id: 'user-ok', user_ref: null, latest_job: job({ status: 'pending' }) });
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me('operator') })],
      ['GET', '/api/connections', () => ({ body: [] })],
      ['POST', '/api/connections', () => ({ status: 202, body: { connection: created, job: created.latest_job } })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: created })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: [created.latest_job] })],
    ]);
    const user = userEvent.setup();
    renderApp('/');
    expect(await screen.findByText('No connections yet.')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Create connection' }));
    expect(screen.getByLabelText('Login')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Login')).toHaveAccessibleDescription('must not be empty');
    expect(screen.getByLabelText('Password')).toHaveAccessibleDescription('must not be empty');
    expect(fake.requests('POST', /connections$/)).toHaveLength(0);

    await user.type(screen.getByLabelText('Login'), 'user-ok');
    await user.type(screen.getByLabelText('Password'), 'secret');
    await user.click(screen.getByRole('button', { name: 'Create connection' }));

    await waitFor(() => expect(fake.requests('POST', /connections$/)).toHaveLength(1));
    expect(fake.requests('POST', /connections$/)[0]?.body).toEqual({
      institution_id: 'sandbox',
      login_id: 'user-ok',
      password: 'secret',
    });
    expect(await screen.findByRole('heading', { name: 'Connection us•••ok' })).toBeInTheDocument();
    expect(window.location.pathname).toBe(`/connections/${CONNECTION_ID}`);
    await waitFor(() => expect(document.querySelector('.history-table .status-badge')).toHaveTextContent('🕒 Pending'));
  });

  it('shows field errors the API sends back', async () => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('admin') })],
      ['GET', '/api/connections', () => ({ body: [] })],
      [
        'POST',
        '/api/connections',
        () => ({
          status: 400,
          body: {
            type: 'x',
            title: 'The request is not valid',
            status: 400,
            code: 'validation-failed',
            errors: [{ field: 'body.institution_id', message: 'unknown institution' }],
          },
        }),
      ],
    ]);
    const user = userEvent.setup();
    renderApp('/');
    await user.type(await screen.findByLabelText('Login'), 'user-ok');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.click(screen.getByRole('button', { name: 'Create connection' }));
    await waitFor(() =>
      expect(
        within(screen.getByRole('form', { name: 'New sandbox connection' })).getByLabelText('Institution'),
      ).toHaveAccessibleDescription('unknown institution'),
    );
    expect(screen.getByRole('alert')).toHaveTextContent('The request is not valid');
  });
});
